// jwt.cpp — HS256 tokens with OpenSSL: base64url, HMAC-SHA256, constant-time comparison.
#include "core/jwt.h"

#include <cmath>
#include <cstdint>

#include "core/exact_json.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace pglive {

namespace {

const char* b64url_chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url_encode(const std::string& in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    auto byte = [&](size_t k) { return uint32_t(uint8_t(in[k])); };
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        for (int s = 18; s >= 0; s -= 6) out += b64url_chars[(v >> s) & 63];
    }
    if (i + 1 == in.size()) {
        uint32_t v = byte(i) << 16;
        out += b64url_chars[(v >> 18) & 63];
        out += b64url_chars[(v >> 12) & 63];
    } else if (i + 2 == in.size()) {
        uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
        out += b64url_chars[(v >> 18) & 63];
        out += b64url_chars[(v >> 12) & 63];
        out += b64url_chars[(v >> 6) & 63];
    }
    return out;
}

std::string b64url_decode(const std::string& in, const char* part) {
    auto value = [&](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '-') return 62;
        if (c == '_') return 63;
        return -1;
    };
    // Strict (RFC 7515 §2, RFC 4648 §3.5): no padding, no characters outside the alphabet, no
    // length that cannot be, and unused bits zero — so one token has one spelling, and a
    // signature with '=garbage' or flipped trailing bits is refused.
    const std::string bad = std::string("malformed token: ") + part + " is not base64url";
    if (in.size() % 4 == 1) throw auth_error(bad);
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v = value(c);
        if (v < 0) throw auth_error(bad);
        acc = acc << 6 | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += char((acc >> bits) & 0xff);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) throw auth_error(bad);
    return out;
}

std::string hmac_sha256(const std::string& key, const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         md, &len);
    return std::string(reinterpret_cast<char*>(md), len);
}

}  // namespace

bool topic_matches(const std::string& pattern, const std::string& topic) {
    if (pattern == "*") return true;
    if (pattern.size() >= 2 && pattern.compare(pattern.size() - 1, 1, "*") == 0)
        return topic.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
    return pattern == topic;
}

bool access::may_read(const std::string& topic) const {
    for (auto& p : topics)
        if (topic_matches(p, topic)) return true;
    return false;
}

std::string sign_jwt(const json& claims, const std::string& secret) {
    std::string head = b64url_encode(json{{"alg", "HS256"}, {"typ", "JWT"}}.dump());
    std::string body = b64url_encode(claims.dump());
    std::string signing_input = head + "." + body;
    return signing_input + "." + b64url_encode(hmac_sha256(secret, signing_input));
}

access verify_jwt(const std::string& token, const std::string& secret, int64_t now) {
    if (secret.empty()) throw auth_error("tokens are not accepted: the server has no token_secret");
    auto d1 = token.find('.');
    auto d2 = d1 == std::string::npos ? d1 : token.find('.', d1 + 1);
    if (d1 == std::string::npos || d2 == std::string::npos || token.find('.', d2 + 1) != std::string::npos)
        throw auth_error("malformed token: expected header.payload.signature");
    json header = json::parse(b64url_decode(token.substr(0, d1), "header"), nullptr, false);
    if (header.is_discarded() || !header.is_object()) throw auth_error("malformed token: header is not a JSON object");
    // Before the signature is checked: json::value() would throw type_error on {"alg":1}.
    auto alg = header.find("alg");
    if (alg == header.end() || !alg->is_string() || *alg != "HS256")
        throw auth_error("token algorithm '" +
                         (alg == header.end() ? std::string("?") : alg->is_string() ? alg->get<std::string>() : alg->dump()) +
                         "' refused: expected HS256");
    std::string expected = hmac_sha256(secret, token.substr(0, d2));
    std::string given = b64url_decode(token.substr(d2 + 1), "signature");
    if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0)
        throw auth_error("bad token signature");
    json claims = json::parse(b64url_decode(token.substr(d1 + 1, d2 - d1 - 1), "payload"), nullptr, false);
    if (claims.is_discarded() || !claims.is_object()) throw auth_error("malformed token: payload is not a JSON object");
    // NumericDate (RFC 7519 §2): whole seconds compared as integers; a fraction counts down.
    auto seconds = [](const json& v, const char* claim) -> int64_t {
        if (v.is_number_integer()) return v.get<int64_t>();
        if (v.is_number_unsigned()) return INT64_MAX;
        if (v.is_number_float()) {
            double d = v.get<double>();
            if (d >= 9.2e18) return INT64_MAX;
            if (d <= -9.2e18) return INT64_MIN;
            return int64_t(std::floor(d));
        }
        throw auth_error(std::string("token claim '") + claim + "' must be a number");
    };
    access a;
    if (auto e = claims.find("exp"); e != claims.end()) {
        int64_t exp = seconds(*e, "exp");
        if (exp <= now) throw auth_error("token expired");
        a.expires = exp;
    }
    if (auto n = claims.find("nbf"); n != claims.end())
        if (seconds(*n, "nbf") > now) throw auth_error("token not valid yet (nbf)");
    a.authenticated = true;
    try {
        a.claims = parse_exact(b64url_decode(token.substr(d1 + 1, d2 - d1 - 1), "payload"));
    } catch (const exact_json_error&) {
        throw auth_error("malformed token: payload is not a JSON object");
    }
    if (auto s = claims.find("sub"); s != claims.end()) {
        if (!s->is_string()) throw auth_error("token claim 'sub' must be a string");
        a.user = s->get<std::string>();
    }
    if (auto t = claims.find("topics"); t != claims.end()) {
        if (!t->is_array()) throw auth_error("token claim 'topics' must be an array of topic patterns");
        for (auto& p : *t) {
            if (!p.is_string()) throw auth_error("token claim 'topics' must be an array of topic patterns");
            a.topics.push_back(p.get<std::string>());
        }
    }
    if (auto p = claims.find("publish"); p != claims.end()) a.publish = p->is_boolean() && p->get<bool>();
    if (auto p = claims.find("admin"); p != claims.end()) a.admin = p->is_boolean() && p->get<bool>();
    if (auto p = claims.find("metrics"); p != claims.end()) a.metrics = p->is_boolean() && p->get<bool>();
    return a;
}

}  // namespace pglive
