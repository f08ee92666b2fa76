#include "h2_client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace pywebd::test {

struct H2Client::Stream {
    const Request* request = nullptr;
    std::size_t body_sent = 0;
    HttpResponse response;
    bool closed = false;
    std::uint32_t error_code = 0;
};

namespace {

constexpr const char* kConnectionSpecific[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                               "upgrade"};

nghttp2_nv field(const std::string& name, const std::string& value) {
    return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
            reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
}

// "Name: value\r\n" lines as lower-cased (name, value) pairs, leaving out what HTTP/2 forbids.
std::vector<std::pair<std::string, std::string>> h2_fields(const std::string& lines) {
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t start = 0; start < lines.size();) {
        std::size_t end = lines.find("\r\n", start);
        if (end == std::string::npos) end = lines.size();
        const std::string line = lines.substr(start, end - start);
        start = end + 2;
        const std::size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        const std::size_t value_start = line.find_first_not_of(' ', colon + 1);
        const std::string value = value_start == std::string::npos ? "" : line.substr(value_start);
        if (std::find(std::begin(kConnectionSpecific), std::end(kConnectionSpecific), name) !=
            std::end(kConnectionSpecific))
            continue;
        out.emplace_back(std::move(name), value);
    }
    return out;
}

ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* flags,
                  nghttp2_data_source* source, void*) {
    auto* stream = static_cast<H2Client::Stream*>(source->ptr);
    const std::string& body = stream->request->body;
    const std::size_t n = std::min(length, body.size() - stream->body_sent);
    std::memcpy(buf, body.data() + stream->body_sent, n);
    stream->body_sent += n;
    if (stream->body_sent == body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
}

ClientTls offering_h2(ClientTls tls) {
    tls.alpn = "h2";
    return tls;
}

}  // namespace

H2Client::H2Client(std::uint16_t port, const std::optional<ClientTls>& tls)
    : connection_(tls ? HttpClient(port, offering_h2(*tls)) : HttpClient(port)), tls_(tls.has_value()) {
    if (!connection_.connected() || (tls_ && connection_.alpn() != "h2")) return;
    // A request's HEADERS often follows the SETTINGS ACK in a second write: without this
    // Nagle holds it until the server's delayed ACK (40 ms).
    const int on = 1;
    ::setsockopt(connection_.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session* session = nullptr;
    nghttp2_session_client_new(&session, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    session_.reset(session);
    // A window as large as the biggest test body, so flow control never waits on us.
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1u << 31) - 1}};
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 1);
    nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, (1 << 30));
    while (!connected_)
        if (!pump()) return;
}

H2Client::~H2Client() = default;

std::optional<HttpResponse> H2Client::request(const Request& request) { return exchange({request}).front(); }

std::vector<std::optional<HttpResponse>> H2Client::exchange(const std::vector<Request>& requests) {
    std::vector<Stream> streams(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const Request& r = requests[i];
        const std::string scheme = tls_ ? "https" : "http";
        std::vector<std::pair<std::string, std::string>> pairs = {
            {":method", r.method}, {":scheme", scheme}, {":authority", r.authority}, {":path", r.target}};
        for (auto& f : h2_fields(r.fields)) pairs.push_back(std::move(f));
        std::vector<nghttp2_nv> nva;
        for (const auto& [name, value] : pairs) nva.push_back(field(name, value));
        streams[i].request = &r;
        nghttp2_data_provider body{};
        body.source.ptr = &streams[i];
        body.read_callback = read_body;
        const std::int32_t id = session_ ? nghttp2_submit_request(session_.get(), nullptr, nva.data(), nva.size(),
                                                                  r.body.empty() ? nullptr : &body, &streams[i])
                                         : -1;
        if (id > 0)
            streams_[id] = &streams[i];
        else
            streams[i].closed = true;
    }
    const auto all_closed = [&] {
        return std::all_of(streams.begin(), streams.end(), [](auto& s) { return s.closed; });
    };
    while (!all_closed())
        if (!pump()) break;
    std::vector<std::optional<HttpResponse>> out;
    for (Stream& s : streams) {
        if (s.closed && s.error_code == 0 && s.response.status != 0)
            out.emplace_back(std::move(s.response));
        else
            out.emplace_back(std::nullopt);
        if (s.error_code != 0) reset_code_ = s.error_code;
    }
    streams_.clear();  // they point into `streams`; a late frame for one of them is ignored
    return out;
}

bool H2Client::wait_for_goaway(std::chrono::milliseconds bound) {
    const auto until = std::chrono::steady_clock::now() + bound;
    while (!goaway_ && std::chrono::steady_clock::now() < until)
        if (!pump()) break;
    return goaway_.has_value();
}

// Everything the session has to send, in one write.
bool H2Client::flush() {
    std::string out;
    const std::uint8_t* data = nullptr;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_.get(), &data)) > 0)
        out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    return n == 0 && (out.empty() || connection_.send(out));
}

bool H2Client::pump() {
    if (!session_ || !flush()) return false;
    std::string bytes;
    if (!connection_.receive(bytes)) return false;
    const ssize_t used =
        nghttp2_session_mem_recv(session_.get(), reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    return used == static_cast<ssize_t>(bytes.size()) && flush();
}

int H2Client::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                        const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* self) {
    auto& client = *static_cast<H2Client*>(self);
    const auto it = client.streams_.find(frame->hd.stream_id);
    if (it == client.streams_.end()) return 0;
    HttpResponse& response = it->second->response;
    const std::string n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
        response.status = std::atoi(v.c_str());
        response.status_line = "HTTP/2 " + v;
    } else if (response.headers.contains(n)) {
        response.headers[n] += ", " + v;
    } else {
        response.headers[n] = v;
    }
    return 0;
}

int H2Client::on_data(nghttp2_session*, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data, std::size_t len,
                      void* self) {
    auto& client = *static_cast<H2Client*>(self);
    const auto it = client.streams_.find(stream_id);
    if (it != client.streams_.end()) it->second->response.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
}

int H2Client::on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* self) {
    auto& client = *static_cast<H2Client*>(self);
    const auto it = client.streams_.find(stream_id);
    if (it == client.streams_.end()) return 0;
    it->second->closed = true;
    it->second->error_code = error_code;
    return 0;
}

int H2Client::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    auto& client = *static_cast<H2Client*>(self);
    if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) client.connected_ = true;
    if (frame->hd.type == NGHTTP2_GOAWAY) client.goaway_ = frame->goaway.error_code;
    return 0;
}

}  // namespace pywebd::test
