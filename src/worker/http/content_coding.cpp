#include "http/content_coding.hpp"

#include <algorithm>

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
    // In the server's order of preference, so that a stable sort by weight keeps it on ties.
    struct Candidate {
        CodingChoice choice;
        int weight;
    };
    std::array<Candidate, 3> candidates{
        {{{".br", Coding::Br}, -1}, {{".zst", Coding::Zstd}, -1}, {{".gz", Coding::Gzip}, -1}}};
    int star = -1;
    int identity = -1;  // only an explicit weight for identity outranks a coding
    for_each_element(request, "accept-encoding", [&](std::string_view element) {
        const auto [coding, weight] = coding_and_weight(element);
        if (weight < 0) return;
        if (iequals(coding, "br"))
            candidates[0].weight = weight;
        else if (iequals(coding, "zstd"))
            candidates[1].weight = weight;
        else if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
            candidates[2].weight = weight;
        else if (iequals(coding, "identity"))
            identity = weight;
        else if (coding == "*")
            star = weight;
    });
    for (Candidate& c : candidates) {
        if (c.weight < 0) c.weight = star;
        if (c.weight < identity) c.weight = 0;  // the client prefers the bytes as they are
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& b) { return a.weight > b.weight; });
    CodingPreference preference;
    for (const Candidate& c : candidates)
        if (c.weight > 0) preference.order[preference.count++] = c.choice;
    return preference;
}

}  // namespace pywebd::http
