// http_api.h — the JSON API's handlers (topics, rows, long-poll, publish, admin); http_session reads, routes and responds.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "net/http_util.h"

namespace pglive {

// One API request, as http_session routed it. `answer` may be called from any thread, once: it
// hops back to the connection's strand (`ex`) and writes the response.
struct api_call {
    const http_request& req;
    const target& t;
    const access& who;
    std::shared_ptr<net_context> ctx;
    conn_executor ex;
    std::function<void(http_response)> answer;
};

void api_topics(const api_call& c);                            // GET /api/topics
void api_rows(const api_call& c, const std::string& topic);   // GET /api/topics/{topic}/rows
void api_poll(const api_call& c);                              // GET /poll
void api_publish(const api_call& c);                           // POST /api/publish
void api_admin(const api_call& c, const std::string& what);   // /api/admin/{what}

}  // namespace pglive
