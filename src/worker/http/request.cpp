#include "http/request.hpp"

namespace pywebd::http {
namespace {

struct MethodName {
    std::string_view text;
    Method method;
};
constexpr MethodName kMethods[] = {
    {"GET", Method::Get},     {"HEAD", Method::Head},       {"OPTIONS", Method::Options},
    {"POST", Method::Post},   {"PUT", Method::Put},         {"DELETE", Method::Delete},
    {"PATCH", Method::Patch}, {"CONNECT", Method::Connect}, {"TRACE", Method::Trace},
};

enum class Noted : unsigned char {
    None,
    IfModifiedSince,
    IfUnmodifiedSince,
    IfRange,
    Range,
    IfMatch,
    IfNoneMatch,
    AcceptEncoding,
    Referer,
    UserAgent,
};

Noted noted_of(std::string_view name) {
    static constexpr std::pair<std::string_view, Noted> kKnown[] = {
        {"if-modified-since", Noted::IfModifiedSince},
        {"if-unmodified-since", Noted::IfUnmodifiedSince},
        {"if-range", Noted::IfRange},
        {"range", Noted::Range},
        {"if-match", Noted::IfMatch},
        {"if-none-match", Noted::IfNoneMatch},
        {"accept-encoding", Noted::AcceptEncoding},
        {"referer", Noted::Referer},
        {"user-agent", Noted::UserAgent},
    };
    return find_ignoring_case(name, kKnown, Noted::None);
}

}  // namespace

Method method_from(std::string_view token) {
    for (const MethodName& m : kMethods)
        if (m.text == token) return m.method;
    return Method::Unknown;
}

bool FieldNotes::note(const Header& field) {
    switch (noted_of(field.name)) {
    case Noted::IfModifiedSince: if_modified_since_.add(field.value); return true;
    case Noted::IfUnmodifiedSince: if_unmodified_since_.add(field.value); return true;
    case Noted::IfRange: if_range_.add(field.value); return true;
    case Noted::Range: range_.add(field.value); return true;
    case Noted::IfMatch: if_match_ = true; return true;
    case Noted::IfNoneMatch: if_none_match_ = true; return true;
    case Noted::AcceptEncoding: accept_encoding_ = true; return true;
    case Noted::Referer: referer_ = field.value; return true;
    case Noted::UserAgent: user_agent_ = field.value; return true;
    case Noted::None: return false;
    }
    return false;
}

void FieldNotes::finish(Request& out) const {
    out.if_modified_since = if_modified_since_.get();
    out.if_unmodified_since = if_unmodified_since_.get();
    out.if_range = if_range_.get();
    out.range = range_.get();
    out.has_if_match = if_match_;
    out.has_if_none_match = if_none_match_;
    out.has_accept_encoding = accept_encoding_;
    out.referer = referer_;
    out.user_agent = user_agent_;
}

}  // namespace pywebd::http
