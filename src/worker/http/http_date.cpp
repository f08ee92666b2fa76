#include "http/http_date.hpp"

#include <algorithm>
#include <array>

namespace pywebd::http {
namespace {

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

int month_index(std::string_view s) {
    for (std::size_t i = 0; i < kMonths.size(); ++i)
        if (kMonths[i] == s) return static_cast<int>(i);
    return -1;
}

bool is_day_name(std::string_view s, bool long_form) {
    for (std::size_t i = 0; i < kDays.size(); ++i)
        if ((long_form ? kLongDays[i] : kDays[i]) == s) return true;
    return false;
}

std::optional<std::time_t> to_time(int year, int month, int day, int hour, int minute, int second) {
    if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 || year < 1970) return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const std::time_t t = ::timegm(&tm);
    if (tm.tm_mday != day) return std::nullopt;  // 31 Feb normalised into March
    return t;
}

// "HH:MM:SS" at pos
bool clock_at(std::string_view s, std::size_t pos, int& h, int& m, int& sec) {
    return pos + 8 <= s.size() && digits(s, pos, 2, h) && s[pos + 2] == ':' && digits(s, pos + 3, 2, m) &&
           s[pos + 5] == ':' && digits(s, pos + 6, 2, sec);
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<std::time_t> parse_imf(std::string_view s) {
    int day, year, h, m, sec;
    if (s.size() != 29 || !is_day_name(s.substr(0, 3), false) || s.substr(3, 2) != ", " || !digits(s, 5, 2, day) ||
        s[7] != ' ' || s[11] != ' ' || !digits(s, 12, 4, year) || s[16] != ' ' || !clock_at(s, 17, h, m, sec) ||
        s.substr(25) != " GMT")
        return std::nullopt;
    return to_time(year, month_index(s.substr(8, 3)), day, h, m, sec);
}

// RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years: RFC 9110 §5.6.7 rule,
// read as within 50 years of now; we use 1970-2069, which is what that yields today).
std::optional<std::time_t> parse_rfc850(std::string_view s) {
    const auto comma = s.find(", ");
    if (comma == std::string_view::npos || !is_day_name(s.substr(0, comma), true)) return std::nullopt;
    const std::string_view r = s.substr(comma + 2);  // "06-Nov-94 08:49:37 GMT"
    int day, yy, h, m, sec;
    if (r.size() != 22 || !digits(r, 0, 2, day) || r[2] != '-' || r[6] != '-' || !digits(r, 7, 2, yy) || r[9] != ' ' ||
        !clock_at(r, 10, h, m, sec) || r.substr(18) != " GMT")
        return std::nullopt;
    return to_time(yy < 70 ? 2000 + yy : 1900 + yy, month_index(r.substr(3, 3)), day, h, m, sec);
}

// asctime: "Sun Nov  6 08:49:37 1994"
std::optional<std::time_t> parse_asctime(std::string_view s) {
    int day, h, m, sec, year;
    if (s.size() != 24 || !is_day_name(s.substr(0, 3), false) || s[3] != ' ' || s[7] != ' ') return std::nullopt;
    if (s[8] == ' ') {
        if (!digits(s, 9, 1, day)) return std::nullopt;
    } else if (!digits(s, 8, 2, day)) {
        return std::nullopt;
    }
    if (s[10] != ' ' || !clock_at(s, 11, h, m, sec) || s[19] != ' ' || !digits(s, 20, 4, year)) return std::nullopt;
    return to_time(year, month_index(s.substr(4, 3)), day, h, m, sec);
}

}  // namespace

std::size_t format_http_date(std::time_t t, char* out) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    auto two = [](char* p, int v) {
        p[0] = static_cast<char>('0' + v / 10);
        p[1] = static_cast<char>('0' + v % 10);
    };
    const std::string_view day = kDays[static_cast<std::size_t>(tm.tm_wday)];
    const std::string_view month = kMonths[static_cast<std::size_t>(tm.tm_mon)];
    const int year = (tm.tm_year + 1900) % 10000;
    char* p = out;
    p = std::copy(day.begin(), day.end(), p);
    *p++ = ',';
    *p++ = ' ';
    two(p, tm.tm_mday);
    p += 2;
    *p++ = ' ';
    p = std::copy(month.begin(), month.end(), p);
    *p++ = ' ';
    two(p, year / 100);
    two(p + 2, year % 100);
    p += 4;
    *p++ = ' ';
    two(p, tm.tm_hour);
    p[2] = ':';
    two(p + 3, tm.tm_min);
    p[5] = ':';
    two(p + 6, tm.tm_sec);
    p += 8;
    for (char c : std::string_view(" GMT")) *p++ = c;
    return static_cast<std::size_t>(p - out);
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
    if (auto t = parse_imf(text)) return t;
    if (auto t = parse_rfc850(text)) return t;
    return parse_asctime(text);
}

}  // namespace pywebd::http
