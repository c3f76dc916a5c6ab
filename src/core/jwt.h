// jwt.h — HS256 JSON Web Tokens: verification, signing (tests, demo) and topic patterns.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/change.h"

namespace pglive {

struct auth_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// What a caller may do: from a verified token, or the configured anonymous access.
struct access {
    bool authenticated = false;
    std::string user;                 // JWT `sub`
    std::vector<std::string> topics;  // JWT `topics`: patterns such as "public.*", "*", "public.orders"
    bool publish = false;             // JWT `publish`
    bool admin = false;               // JWT `admin`: attach/detach from the dashboard, /api/admin
    bool metrics = false;             // JWT `metrics`: GET /metrics (admin implies it)
    std::optional<int64_t> expires;   // JWT `exp` (Unix seconds): open connections close then
    // Every claim of the token (an object; null for anonymous access), numbers exact
    // (exact_json.h): row policies name them (core/policy.h).
    json claims = nullptr;
    bool may_read(const std::string& topic) const;
};

// Verifies an HS256 token with `secret` at time `now` (Unix seconds): signature, alg, `exp`
// and `nbf` when present. Throws auth_error saying what is wrong ("token expired", "bad signature", …).
access verify_jwt(const std::string& token, const std::string& secret, int64_t now);

// Signs `claims` with HS256 (for tests, benchmarks and `pglive demo`).
std::string sign_jwt(const json& claims, const std::string& secret);

// "*" matches everything, "public.*" every topic starting with "public.", else exact.
bool topic_matches(const std::string& pattern, const std::string& topic);

}  // namespace pglive
