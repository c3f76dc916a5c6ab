// http_util.h — request targets, tokens, origins and JSON responses for the HTTP side.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/beast/http.hpp>

#include "core/jwt.h"
#include "net/server.h"

namespace pglive {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

struct target {
    std::string path;                               // percent-decoded
    std::multimap<std::string, std::string> query;  // percent-decoded, '+' as space
    std::string one(const std::string& key) const;  // "" when absent
    std::vector<std::string> all(const std::string& key) const;
    bool has(const std::string& key) const { return query.count(key) > 0; }
};
target parse_target(const std::string& raw);

// The caller's rights: a Bearer header or ?token= verified, else the anonymous access.
// Throws auth_error for a token that is present but bad.
access resolve_access(const net_context& ctx, const http_request& req, const target& t);

// Browsers send Origin; same-origin (Origin host == Host), Origin-less callers and the
// allow-list pass.
bool origin_allowed(const net_options& opt, const http_request& req);

http_response json_response(const http_request& req, http::status status, const std::string& body);
http_response error_response(const http_request& req, http::status status, const std::string& code,
                             const std::string& message);

}  // namespace pglive
