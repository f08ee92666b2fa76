#include "http/content_coding.hpp"

#include "strings.hpp"

namespace pywebd::http {
namespace {

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; -1 if invalid.
int parse_qvalue(std::string_view text) {
    if (text.empty() || (text[0] != '0' && text[0] != '1')) return -1;
    int value = (text[0] - '0') * 1000;
    if (text.size() == 1) return value;
    if (text[1] != '.' || text.size() > 5) return -1;
    int scale = 100;
    for (std::size_t i = 2; i < text.size(); ++i, scale /= 10) {
        if (text[i] < '0' || text[i] > '9') return -1;
        value += (text[i] - '0') * scale;
    }
    return value > 1000 ? -1 : value;
}

// Splits "gzip;q=0.5" into the coding and its weight (1000 when absent).
std::pair<std::string_view, int> coding_and_weight(std::string_view element) {
    const auto semicolon = element.find(';');
    const std::string_view coding = trim_ows(element.substr(0, semicolon));
    int weight = 1000;
    if (semicolon != std::string_view::npos) {
        std::string_view params = trim_ows(element.substr(semicolon + 1));
        if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q') && params[1] == '=')
            weight = parse_qvalue(trim_ows(params.substr(2)));
        else
            weight = -1;  // an unknown parameter: ignore the element
    }
    return {coding, weight};
}

}  // namespace

CodingPreference negotiate_codings(const Request& request) {
    int br = -1, gzip = -1, star = -1;
    for_each_element(request, "accept-encoding", [&](std::string_view element) {
        const auto [coding, weight] = coding_and_weight(element);
        if (weight < 0) return;
        if (iequals(coding, "br"))
            br = weight;
        else if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
            gzip = weight;
        else if (coding == "*")
            star = weight;
    });
    if (br < 0) br = star;
    if (gzip < 0) gzip = star;
    CodingPreference preference;
    const CodingChoice kBr{".br", "br"};
    const CodingChoice kGzip{".gz", "gzip"};
    if (br > 0 && br >= gzip) {
        preference.order[preference.count++] = kBr;
        if (gzip > 0) preference.order[preference.count++] = kGzip;
    } else if (gzip > 0) {
        preference.order[preference.count++] = kGzip;
        if (br > 0) preference.order[preference.count++] = kBr;
    }
    return preference;
}

}  // namespace pywebd::http
