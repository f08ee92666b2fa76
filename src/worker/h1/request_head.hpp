#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "http/request.hpp"

namespace pywebd::h1 {

using http::Header;
using http::Method;

enum class Version : std::uint8_t { Http10, Http11 };

// A parsed request head. Every view points into the connection's input buffer, which
// does not move while the request is being handled.
struct RequestHead {
    std::string_view request_line;  // without CRLF, for the access log
    std::string_view method_text;
    Method method = Method::Unknown;
    std::string_view target;
    Version version = Version::Http11;
    std::span<const Header> headers;  // into caller-provided storage
};

// Why a request was refused. Every one of these ends the connection: once a head
// breaks the grammar, nothing after it can be framed with confidence.
enum class ParseError : std::uint8_t {
    None,
    BareLF,
    BareCR,
    RequestLineTooLong,
    HeadTooLarge,
    BadRequestLine,
    BadMethod,
    BadTarget,
    UriTooLong,
    BadVersion,
    UnsupportedVersion,
    ObsFold,
    BadHeaderName,
    SpaceBeforeColon,
    BadHeaderValue,
    TooManyHeaders,
    MissingHost,
    DuplicateHost,
    BadHost,
    BadContentLength,
    DuplicateContentLength,
    ContentLengthWithTransferEncoding,
    TransferEncodingInHttp10,
    BadTransferEncoding,
    ChunkedNotFinal,
    UnknownTransferCoding,
    TargetFormMismatch,
    BadChunk,
    BadTrailer,
};

struct ParseErrorInfo {
    std::uint16_t status;
    std::string_view token;  // stable, for logs and tests
};

constexpr ParseErrorInfo info(ParseError error) {
    switch (error) {
    case ParseError::None: return {200, "none"};
    case ParseError::BareLF: return {400, "bare_lf"};
    case ParseError::BareCR: return {400, "bare_cr"};
    case ParseError::RequestLineTooLong: return {414, "request_line_too_long"};
    case ParseError::HeadTooLarge: return {431, "head_too_large"};
    case ParseError::BadRequestLine: return {400, "bad_request_line"};
    case ParseError::BadMethod: return {400, "bad_method"};
    case ParseError::BadTarget: return {400, "bad_target"};
    case ParseError::UriTooLong: return {414, "uri_too_long"};
    case ParseError::BadVersion: return {400, "bad_version"};
    case ParseError::UnsupportedVersion: return {505, "unsupported_version"};
    case ParseError::ObsFold: return {400, "obs_fold"};
    case ParseError::BadHeaderName: return {400, "bad_header_name"};
    case ParseError::SpaceBeforeColon: return {400, "space_before_colon"};
    case ParseError::BadHeaderValue: return {400, "bad_header_value"};
    case ParseError::TooManyHeaders: return {431, "too_many_headers"};
    case ParseError::MissingHost: return {400, "missing_host"};
    case ParseError::DuplicateHost: return {400, "duplicate_host"};
    case ParseError::BadHost: return {400, "bad_host"};
    case ParseError::BadContentLength: return {400, "bad_content_length"};
    case ParseError::DuplicateContentLength: return {400, "duplicate_content_length"};
    case ParseError::ContentLengthWithTransferEncoding: return {400, "content_length_and_transfer_encoding"};
    case ParseError::TransferEncodingInHttp10: return {400, "transfer_encoding_in_http10"};
    case ParseError::BadTransferEncoding: return {400, "bad_transfer_encoding"};
    case ParseError::ChunkedNotFinal: return {400, "chunked_not_final"};
    case ParseError::UnknownTransferCoding: return {501, "unknown_transfer_coding"};
    case ParseError::TargetFormMismatch: return {400, "target_form_mismatch"};
    case ParseError::BadChunk: return {400, "bad_chunk"};
    case ParseError::BadTrailer: return {400, "bad_trailer"};
    }
    return {500, "unknown"};
}

}  // namespace pywebd::h1
