// http_util.h — request targets, tokens, origins and JSON responses for the HTTP side.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "core/jwt.h"
#include "net/server.h"

namespace pglive {

// A connection's executor is its strand, by its concrete type: Beast's default tcp_stream
// erases it (any_io_executor), and copying that per operation was a fifth of the server's
// time at fan-out.
using conn_executor = boost::asio::strand<boost::asio::io_context::executor_type>;
using conn_socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, conn_executor>;
using conn_stream = boost::beast::basic_stream<boost::asio::ip::tcp, conn_executor>;

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

struct target {
    std::string path;                               // percent-decoded
    std::multimap<std::string, std::string> query;  // percent-decoded, '+' as space
    std::string one(const std::string& key) const;  // "" when absent
    std::vector<std::string> all(const std::string& key) const;
    bool has(const std::string& key) const { return query.count(key) > 0; }
    // Non-empty when the request cannot be served as is: which part, what was expected
    // ("the path is not valid UTF-8 after percent-decoding", "query parameter 'filter' holds a NUL byte").
    std::string invalid;
};
// Percent-decodes and validates: every decoded byte sequence must be UTF-8 without NUL.
target parse_target(const std::string& raw);
// Non-empty when a header pglive reads (Origin, Host, Authorization, Last-Event-ID) is not
// UTF-8 or holds a NUL: names the header.
std::string invalid_header(const http_request& req);

// The caller's rights: a Bearer header or ?token= verified, else the anonymous access.
// Throws auth_error for a token that is present but bad.
access resolve_access(const net_context& ctx, const http_request& req, const target& t);

// Browsers send Origin; same-origin (Origin host == Host), Origin-less callers and the
// allow-list pass.
bool origin_allowed(const net_options& opt, const http_request& req);

// CORS (PROTOCOL §3): the Origin header of a request that names one, else "".
std::string request_origin(const http_request& req);
// The refusal of a caller whose origin is not allowed: 403 forbidden naming the origin and the
// setting, readable by the refused page (it carries Access-Control-Allow-Origin: that origin).
// Logs one warn line per origin (a retrying page cannot flood the log; at most
// max_logged_origins distinct origins are remembered, then one line says later ones are not logged).
http_response origin_refusal(net_context& ctx, const http_request& req);
inline constexpr size_t max_logged_origins = 256;
// The answer to a CORS preflight (OPTIONS) from an allowed origin: 204 with the Allow-* headers.
http_response preflight_response(const http_request& req);
// Marks `res` as readable by `origin` (Access-Control-Allow-Origin, Vary: Origin); no-op for "".
void allow_origin(http_response& res, const std::string& origin);

http_response json_response(const http_request& req, http::status status, const std::string& body);
http_response error_response(const http_request& req, http::status status, const std::string& code,
                             const std::string& message);
// The HTTP status of a refused request's error_code (403 forbidden, 404 unknown_topic, 400 the rest).
http::status refusal_status(const std::string& code);

}  // namespace pglive
