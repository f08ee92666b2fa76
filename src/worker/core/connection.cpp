#include "core/connection.hpp"

#include <sys/epoll.h>

namespace pywebd {

Connection::Connection(UniqueFd fd, PeerAddress peer, std::uint32_t slot, std::uint32_t reuse_tag, std::uint32_t id,
                       bool tcp, std::uint8_t listener)
    : socket_(std::move(fd), tcp), id_(id), slot_(slot), reuse_tag_(reuse_tag), peer_(peer), listener_(listener) {}

void Connection::secure(SslPtr ssl, TlsWorkerState& state) {
    tls_ = std::make_unique<TlsTransport>(socket_, std::move(ssl), state, id_, peer_);
}

void Connection::start(ConnectionServices& s) {
    H1Context c = context(s);
    session_.start(c);
    hand_over_if_http2(s);
}

void Connection::hand_over_if_http2(ConnectionServices& s) {
    if (session_.state() != ConnState::Http2) return;
    H1Context c1 = context(s);
    h2_ = std::make_unique<H2Session>();
    H2Context c2 = h2_context(s);
    const std::string_view received = session_.received();
    h2_->start(received, c2);  // nghttp2 has taken (copied what it keeps of) these bytes
    session_.release(c1);
}

void Connection::on_events(std::uint32_t events, ConnectionServices& s) {
    // ERR and HUP count as both: the next read or write finds out what happened.
    const bool readable = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    const bool writable = (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
    const bool hangup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    if (h2_) {
        H2Context c = h2_context(s);
        return h2_->on_ready(readable, writable, hangup, c);
    }
    H1Context c = context(s);
    session_.on_ready(readable, writable, hangup, c);
    hand_over_if_http2(s);
}

void Connection::on_timeout(ConnectionServices& s) {
    if (h2_) {
        H2Context c = h2_context(s);
        return h2_->on_timeout(kind, c);
    }
    H1Context c = context(s);
    session_.on_timeout(kind, c);
}

void Connection::close_if_idle(ConnectionServices& s) {
    if (h2_) {
        H2Context c = h2_context(s);
        return h2_->close_if_idle(c);
    }
    H1Context c = context(s);
    session_.close_if_idle(c);
}

void Connection::abort(ConnectionServices& s) {
    if (h2_) {
        H2Context c = h2_context(s);
        return h2_->abort(c);
    }
    H1Context c = context(s);
    session_.abort(c);
}

void Connection::resume(ConnectionServices& s) {
    if (h2_) {
        H2Context c = h2_context(s);
        return h2_->resume(c);
    }
    H1Context c = context(s);
    session_.resume(c);
    hand_over_if_http2(s);
}

}  // namespace pywebd
