// fuzz/http_request.cpp — the HTTP request path up to routing: Beast's parser with the server's
// limits (http_session::do_read), then what route() does before it looks at the path
// (parse_target, invalid_header) and the JSON error body it answers with. Nothing may throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "net/http_util.h"

using namespace pglive;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(net_options{}.max_http_body);
    parser.header_limit(16 * 1024);
    parser.eager(true);
    // As http::async_read feeds it: put() until it is done, wants more, or fails; then the
    // peer closes (a body without a length ends at EOF).
    boost::beast::error_code ec;
    size_t used = 0;
    while (!parser.is_done() && used < size) {
        size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
        used += n;
        if (ec == http::error::need_more) ec = {};
        if (ec || n == 0) break;
    }
    if (!ec && !parser.is_done()) parser.put_eof(ec);
    if (ec || !parser.is_done()) {
        // on_read's answers to what the parser refused: the message quotes ec.message().
        http_request r;
        r.version(11);
        auto res = error_response(r, http::status::bad_request, "bad_request", "malformed HTTP request: " + ec.message());
        if (res.body().empty()) std::abort();
        return 0;
    }
    http_request req = parser.release();
    target t = parse_target(std::string(req.target()));
    if (t.invalid.empty()) t.invalid = invalid_header(req);
    // Quoting the raw path and query (invalid or not) in the message must not throw: the
    // error body is dumped with replacement of bad bytes.
    std::string message = t.invalid.empty() ? "no such path: " + t.path : t.invalid;
    for (auto& [k, v] : t.query) message += " " + k + "=" + v;
    auto res = error_response(req, http::status::bad_request, "bad_request", message);
    if (!json::accept(res.body())) std::abort();  // the body is always JSON
    if (t.invalid.empty()) {
        // What route() then hands on: valid text only, so JSON values built from it dump.
        json j = {{"path", t.path}};
        for (auto& [k, v] : t.query) j[k] = v;
        (void)j.dump();
        (void)t.one("filter");
        (void)t.all("filter");
    }
    return 0;
}
