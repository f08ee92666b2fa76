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
}

void Connection::on_events(std::uint32_t events, ConnectionServices& s) {
    // ERR and HUP count as both: the next read or write finds out what happened.
    H1Context c = context(s);
    session_.on_ready((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0,
                      (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0,
                      (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0, c);
}

void Connection::on_timeout(ConnectionServices& s) {
    H1Context c = context(s);
    session_.on_timeout(kind, c);
}

void Connection::close_if_idle(ConnectionServices& s) {
    H1Context c = context(s);
    session_.close_if_idle(c);
}

void Connection::abort(ConnectionServices& s) {
    H1Context c = context(s);
    session_.abort(c);
}

void Connection::resume(ConnectionServices& s) {
    H1Context c = context(s);
    session_.resume(c);
}

}  // namespace pywebd
