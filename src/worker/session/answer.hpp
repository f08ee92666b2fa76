#pragma once

#include "http/request.hpp"
#include "http/response.hpp"
#include "session/session_context.hpp"

namespace pywebd {

// The one semantic path of both protocols, from a parsed request to the planned
// response: the site its authority names (the unknown-host policy when none does), a
// 421 (RFC 9110 §15.5.20) when that is a configured site this TLS connection's
// certificate does not cover — a browser that reused the connection for another host
// then opens one for it — and then the handler (or, on a listener that only redirects
// to HTTPS, the redirect). The admin listener's requests go to the AdminHandler.
void answer_request(SessionContext& c, const http::Request& request, Response& out);

}  // namespace pywebd
