// fuzz/jwt.cpp — bearer tokens. verify_jwt on the raw input may only throw auth_error; tokens
// signed with the server's secret around fuzzed JSON (as a header or as the claims) reach the
// parsing behind the signature check, and also throw nothing but auth_error; sign_jwt of
// claims built from the input verifies and gives back what was signed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/jwt.h"
#include "core/utf8.h"

using namespace pglive;

namespace {

const std::string secret = "fuzz-secret";
const int64_t now = 1'800'000'000;

std::string b64url(const std::string& in) {
    static const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        acc = acc << 8 | c;
        bits += 8;
        while (bits >= 6) out += chars[(acc >> (bits -= 6)) & 63];
    }
    if (bits > 0) out += chars[(acc << (6 - bits)) & 63];
    return out;
}

std::string signed_token(const std::string& header, const std::string& payload) {
    std::string input = b64url(header) + "." + b64url(payload);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), int(secret.size()), reinterpret_cast<const unsigned char*>(input.data()),
         input.size(), md, &len);
    return input + "." + b64url(std::string(reinterpret_cast<char*>(md), len));
}

// Verifies, allowing only auth_error; true when the token was accepted.
bool verifies(const std::string& token, pglive::access* out = nullptr) {
    try {
        pglive::access a = verify_jwt(token, secret, now);
        if (!a.authenticated) std::abort();
        if (a.expires && *a.expires <= now) std::abort();
        if (out) *out = a;
        return true;
    } catch (const auth_error&) {
        return false;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    (void)verifies(in);
    try {
        (void)verify_jwt(in, "", now);  // no secret configured: refused, never crashes
        std::abort();
    } catch (const auth_error&) {
    }

    json j = json::parse(in, nullptr, false);
    if (!j.is_discarded()) {
        std::string text = j.dump();
        (void)verifies(signed_token(text, R"({"sub":"u"})"));    // fuzzed header, signature right
        (void)verifies(signed_token(R"({"alg":"HS256","typ":"JWT"})", text));  // fuzzed claims
        pglive::access a;
        if (verifies(sign_jwt(j, secret), &a)) {
            if (!j.is_object()) std::abort();
            if (j.contains("sub") && a.user != j["sub"].get<std::string>()) std::abort();
            if (j.contains("topics") && a.topics.size() != j["topics"].size()) std::abort();
        }
        return 0;
    }

    // Not JSON: claims made of the input's text must round-trip.
    std::string sub = valid_utf8(in) ? in : b64url(in);
    json claims = {{"sub", sub}, {"exp", now + 1 + int64_t(size)}, {"nbf", now - int64_t(size)},
                   {"publish", size % 2 == 0}};
    std::vector<std::string> topics;
    for (size_t at = 0; at <= sub.size();) {
        size_t comma = sub.find(',', at);
        if (comma == std::string::npos) comma = sub.size();
        topics.push_back(sub.substr(at, comma - at));
        at = comma + 1;
    }
    claims["topics"] = topics;
    pglive::access a;
    if (!verifies(sign_jwt(claims, secret), &a)) std::abort();
    if (a.user != sub || a.topics != topics || a.publish != (size % 2 == 0) || a.expires != now + 1 + int64_t(size))
        std::abort();
    for (auto& t : topics) {
        if (!t.empty() && t != "*" && !a.may_read(t)) std::abort();
    }
    return 0;
}
