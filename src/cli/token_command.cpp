// token_command.cpp — `pglive token`: a JWT signed with the secret serve reads.
#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "config/config.h"
#include "core/jwt.h"

namespace pglive {

namespace {

// "90s", "15m", "1h", "30d", "1h30m", or plain seconds ("3600"). 0 when malformed.
int64_t parse_duration(const std::string& text) {
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos)
        return text.size() <= 9 ? std::stoll(text) : 0;
    int64_t total = 0;
    size_t i = 0;
    while (i < text.size()) {
        size_t j = i;
        while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
        if (j == i || j - i > 9 || j == text.size()) return 0;
        int64_t n = std::stoll(text.substr(i, j - i));
        switch (text[j]) {
        case 's': break;
        case 'm': n *= 60; break;
        case 'h': n *= 3600; break;
        case 'd': n *= 86400; break;
        default: return 0;
        }
        total += n;
        if (total > int64_t(100) * 365 * 86400) return 0;
        i = j + 1;
    }
    return total;
}

// "public.orders, public.users" → two patterns; a comma inside "quoted" identifiers stays.
std::vector<std::string> split_patterns(const std::string& text) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    auto flush = [&] {
        auto b = cur.find_first_not_of(" \t"), e = cur.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
        cur.clear();
    };
    for (char ch : text) {
        if (ch == '"') quoted = !quoted;
        if (ch == ',' && !quoted) flush();
        else cur += ch;
    }
    flush();
    return out;
}

}  // namespace

int cmd_token(const parsed_args& p, char** envp) {
    if (!p.has("sub")) throw usage_error("--sub USER is required (the token's user id)");
    std::vector<std::string> topics;
    for (auto& t : p.all("topics"))
        for (auto& pattern : split_patterns(t)) topics.push_back(pattern);
    if (topics.empty() && !p.has("publish") && !p.has("admin") && !p.has("metrics"))
        throw usage_error("the token would grant nothing: give --topics PATTERN (e.g. 'public.*'), --publish, --admin or --metrics");
    int64_t ttl = 3600;
    if (p.has("ttl")) {
        ttl = parse_duration(p.get("ttl"));
        if (ttl <= 0)
            throw usage_error("--ttl '" + p.get("ttl") + "': expected a duration such as 90s, 15m, 1h or 30d");
    }
    // The same layers as serve: file, environment, flag.
    config c;
    if (p.has("config")) load_config_file(c, p.get("config"));
    load_config_env(c, envp);
    if (p.has("token_secret")) c.token_secret = p.get("token_secret");
    if (c.token_secret.empty())
        throw cli_error("no token secret configured: set token_secret in the config file (--config FILE), "
                                 "PGLIVE_TOKEN_SECRET or --token-secret, the same one serve uses");
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    json claims = {{"sub", p.get("sub")}, {"topics", topics}, {"iat", now}, {"exp", now + ttl}};
    if (p.has("publish")) claims["publish"] = true;
    if (p.has("admin")) claims["admin"] = true;
    if (p.has("metrics")) claims["metrics"] = true;
    for (auto& c : p.all("claim")) {  // for row policies: strings (a policy reads "42" as 42 where the column is a number)
        auto eq = c.find('=');
        if (eq == std::string::npos || eq == 0)
            throw usage_error("--claim '" + c + "': expected NAME=VALUE, e.g. tenant=acme");
        std::string name = c.substr(0, eq);
        if (claims.contains(name) || name == "nbf" || name == "publish" || name == "admin" || name == "metrics")
            throw usage_error("--claim " + name + ": that claim is set by pglive token itself (or by its own option)");
        claims[name] = c.substr(eq + 1);
    }
    std::cout << sign_jwt(claims, c.token_secret) << std::endl;
    return 0;
}

}  // namespace pglive
