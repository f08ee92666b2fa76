#include "http/field_block.hpp"

#include <charconv>

#include "http/http_date.hpp"

namespace pywebd::http {
namespace {

std::size_t put_number(std::uint64_t value, char* out) {
    return static_cast<std::size_t>(std::to_chars(out, out + 20, value).ptr - out);
}

}  // namespace

std::size_t format_content_range(std::uint64_t first, std::uint64_t last, std::uint64_t size, char* out) {
    char* p = out;
    for (const char c : std::string_view("bytes ")) *p++ = c;
    p += put_number(first, p);
    *p++ = '-';
    p += put_number(last, p);
    *p++ = '/';
    p += put_number(size, p);
    return static_cast<std::size_t>(p - out);
}

void FieldBlock::add(std::string_view name, std::string_view value) {
    const auto at = static_cast<std::uint32_t>(text_.size());
    text_.append(name).append(": ").append(value).append("\r\n");
    entries_.push_back({at, static_cast<std::uint32_t>(name.size()), at + static_cast<std::uint32_t>(name.size()) + 2,
                        static_cast<std::uint32_t>(value.size())});
}

void FieldBlock::add(std::string_view name, std::uint64_t value) {
    char digits[20];
    add(name, std::string_view(digits, put_number(value, digits)));
}

void FieldBlock::add_date(std::string_view name, std::time_t t) {
    char date[kHttpDateLength];
    add(name, std::string_view(date, format_http_date(t, date)));
}

void FieldBlock::add_content_range(std::uint64_t first, std::uint64_t last, std::uint64_t size) {
    char range[68];
    add("Content-Range", std::string_view(range, format_content_range(first, last, size, range)));
}

void FieldBlock::add_all(const FieldBlock& other) {
    const auto shift = static_cast<std::uint32_t>(text_.size());
    text_.append(other.text_);
    for (Entry e : other.entries_) {
        e.name += shift;
        e.value += shift;
        entries_.push_back(e);
    }
}

void FieldBlock::clear() {
    text_.clear();
    entries_.clear();
}

Header FieldBlock::operator[](std::size_t i) const {
    const Entry& e = entries_[i];
    return {std::string_view(text_).substr(e.name, e.name_length),
            std::string_view(text_).substr(e.value, e.value_length)};
}

}  // namespace pywebd::http
