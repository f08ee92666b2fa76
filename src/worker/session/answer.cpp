#include "session/answer.hpp"

namespace pywebd {

void answer_request(SessionContext& c, const http::Request& request, Response& out) {
    SessionServices& services = c.services;
    Sites& sites = services.sites;
    const bool head_only = request.method == http::Method::Head;
    if (c.listener.admin)
        return services.admin ? services.admin->answer(request, out)
                              : services.handler.builtin_error(404, head_only, out);
    Site* site = sites.choose(request.authority);
    if (site == nullptr)
        return services.handler.error(sites.fallback_site, sites.unknown == UnknownHost::Misdirected ? 421 : 404,
                                      head_only, out);
    if (site != &sites.fallback_site && !c.transport.certificate_covers(sites.directory.last_host()))
        return services.handler.error(sites.fallback_site, 421, head_only, out);
    if (c.listener.redirect_to_https)
        return services.handler.redirect_to_https(*site, request, c.listener.https_port, services.now_ms, out);
    services.handler.handle(*site, request, services.now_ms, out);
}

}  // namespace pywebd
