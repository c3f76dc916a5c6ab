// config.cpp — the config table, and the file/environment/flag layers that fill it.
#include "config/config.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>

namespace pglive {

namespace {

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

}  // namespace

std::vector<std::string> split_list(const std::string& v) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at <= v.size()) {
        size_t comma = v.find(',', at);
        if (comma == std::string::npos) comma = v.size();
        std::string item = trim(v.substr(at, comma - at));
        if (!item.empty()) out.push_back(item);
        at = comma + 1;
    }
    return out;
}

namespace {

using setter = std::function<void(config&, const std::string& value, const std::string& where)>;
using getter = std::function<std::string(const config&)>;

// How one key is set from text, and how its value reads as text (the default shown in --help
// and config/pglive.conf is the value of a default-constructed config: stated once, in config.h).
struct field_io {
    setter set;
    getter get;
};

field_io integer(int64_t config::*field, int64_t min, int64_t max) {
    return {[=](config& c, const std::string& v, const std::string& where) {
                size_t used = 0;
                int64_t n = 0;
                try {
                    n = std::stoll(v, &used);
                } catch (...) {
                    used = 0;
                }
                if (used != v.size() || v.empty() || n < min || n > max)
                    throw config_error(where + ": '" + v + "' is not a whole number from " + std::to_string(min) + " to " +
                                       std::to_string(max));
                c.*field = n;
            },
            [=](const config& c) { return std::to_string(c.*field); }};
}
field_io text(std::string config::*field) {
    return {[=](config& c, const std::string& v, const std::string&) { c.*field = v; },
            [=](const config& c) { return c.*field; }};
}
field_io boolean(bool config::*field) {
    return {[=](config& c, const std::string& v, const std::string& where) {
                if (v == "true" || v == "on" || v == "1") c.*field = true;
                else if (v == "false" || v == "off" || v == "0") c.*field = false;
                else throw config_error(where + ": '" + v + "' is not true or false");
            },
            [=](const config& c) { return std::string(c.*field ? "true" : "false"); }};
}
field_io list(std::vector<std::string> config::*field) {
    return {[=](config& c, const std::string& v, const std::string&) { c.*field = split_list(v); },
            [=](const config& c) {
                std::string out;
                for (auto& x : c.*field) out += (out.empty() ? "" : ", ") + x;
                return out;
            }};
}

struct entry {
    const char* name;
    const char* help;
    field_io io;
};

// The one table of settings: name, default, why, and how to set it.
const std::vector<entry>& table() {
    static const std::vector<entry> t = {
        {"db", "libpq URI or key=value conninfo; default DATABASE_URL, else libpq's PG* variables", text(&config::db)},
        {"listen", "HOST:PORT to serve HTTP, WebSocket, SSE and long-poll on (port 0: any free port)", text(&config::listen)},
        {"token_secret", "HS256 secret for JWTs; empty: every token is refused", text(&config::token_secret)},
        {"anonymous_topics", "topic patterns callers without a token may read (e.g. public.*); empty: nothing", list(&config::anonymous_topics)},
        {"allowed_origins", "Origins allowed to open WebSocket/SSE cross-origin (* = any); same-origin is always allowed", list(&config::allowed_origins)},
        {"wakeup", "notify: a capturing transaction NOTIFYs a sleeping listener (none while it is busy reading); poll: no NOTIFY (no global commit lock), poll every poll_interval_ms", text(&config::wakeup)},
        {"poll_interval_ms", "outbox poll period in poll mode: the added latency bound", integer(&config::poll_interval_ms, 1, 60000)},
        {"safety_interval_ms", "outbox read period in notify mode, in case a wake-up is missed", integer(&config::safety_interval_ms, 10, 600000)},
        {"batch_transactions", "transactions read from the outbox per query: bounds memory per read", integer(&config::batch_transactions, 1, 1000000)},
        {"max_message_bytes", "largest client WebSocket message; larger closes with 1009", integer(&config::max_message_bytes, 256, 64 << 20)},
        {"max_queue_bytes", "per-connection send queue bound; past it the client is resynced with a snapshot", integer(&config::max_queue_bytes, 1024, int64_t(1) << 34)},
        {"max_queue_frames", "per-connection send queue bound in frames", integer(&config::max_queue_frames, 1, 10000000)},
        {"max_subscriptions_per_connection", "bounds one connection's share of the hub", integer(&config::max_subscriptions_per_connection, 1, 100000)},
        {"ping_interval_s", "WebSocket ping / SSE comment period, keeps proxies from closing idle streams", integer(&config::ping_interval_s, 1, 3600)},
        {"pong_timeout_s", "a connection silent this long after a ping is closed", integer(&config::pong_timeout_s, 1, 3600)},
        {"http_timeout_s", "time to read a request's header and body", integer(&config::http_timeout_s, 1, 3600)},
        {"poll_max_timeout_s", "longest a long-poll request may wait", integer(&config::poll_max_timeout_s, 1, 3600)},
        {"history_transactions", "transactions per topic kept in memory for resume and long-poll", integer(&config::history_transactions, 0, 100000000)},
        {"unload_after_s", "a topic with no subscriber leaves memory after this", integer(&config::unload_after_s, 0, 86400 * 365)},
        {"retention_s", "outbox changes older than this are pruned (resume reaches back this far)", integer(&config::retention_s, 1, int64_t(1) << 40)},
        {"retention_count", "keep at most this many transactions in the outbox (0: no count limit)", integer(&config::retention_count, 0, int64_t(1) << 50)},
        {"prune_interval_s", "how often the server prunes the outbox", integer(&config::prune_interval_s, 1, 86400)},
        {"node_timeout_s", "pruning never removes what a live node has not delivered: each node records its delivered position (once a second while it moves, else every node_timeout_s/3 s); a node silent this long stops holding retention", integer(&config::node_timeout_s, 3, 86400)},
        {"dashboard_dir", "directory of the dashboard's files (default: share/pglive/dashboard beside the installed binary, else the source tree it was built from)", text(&config::dashboard_dir)},
        {"log_level", "debug, info, warn or error", text(&config::log_level)},
        {"metrics_listen", "HOST:PORT of a second listener that serves /metrics (and /healthz) to anyone; on the main port /metrics needs a token with the metrics or admin right", text(&config::metrics_listen)},
        {"metrics_public", "true: /metrics on the main port needs no token (pglive demo sets it)", boolean(&config::metrics_public)},
    };
    return t;
}

}  // namespace

const std::vector<config_key>& config_keys() {
    static const std::vector<config_key> keys = [] {
        std::vector<config_key> k;
        const config defaults;
        for (auto& e : table()) k.push_back({e.name, e.io.get(defaults), e.help});
        return k;
    }();
    return keys;
}

void set_config_value(config& c, const std::string& key, const std::string& value, const std::string& origin) {
    for (auto& e : table())
        if (key == e.name) {
            e.io.set(c, value, origin);
            return;
        }
    throw config_error(origin + ": unknown setting '" + key + "' (see config/pglive.conf for every key)");
}

void load_config_file(config& c, const std::string& path) {
    std::ifstream in(path);
    if (!in) throw config_error("config file " + path + ": cannot be read");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        std::string t = trim(line);
        if (t.empty() || t[0] == '#') continue;
        auto eq = t.find('=');
        std::string where = "config file " + path + " line " + std::to_string(n);
        if (eq == std::string::npos) throw config_error(where + ": expected key = value");
        std::string value = trim(t.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        set_config_value(c, trim(t.substr(0, eq)), value, where);
    }
    c.config_file = path;
}

void load_config_env(config& c, char** envp) {
    for (char** e = envp; e && *e; ++e) {
        std::string kv = *e;
        auto eq = kv.find('=');
        if (eq == std::string::npos) continue;
        std::string name = kv.substr(0, eq), value = kv.substr(eq + 1);
        if (name == "DATABASE_URL") {
            if (c.db.empty()) c.db = value;
        } else if (name.rfind("PGLIVE_", 0) == 0 && name != "PGLIVE_BINARY") {
            std::string key = name.substr(7);
            std::transform(key.begin(), key.end(), key.begin(), [](unsigned char ch) { return std::tolower(ch); });
            set_config_value(c, key, value, name);
        }
    }
}

std::string config::listen_host() const {
    auto colon = listen.rfind(':');
    std::string h = colon == std::string::npos ? listen : listen.substr(0, colon);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    return h;
}

uint16_t config::listen_port() const {
    auto colon = listen.rfind(':');
    return uint16_t(std::stoi(listen.substr(colon + 1)));
}

void validate_config(const config& c) {
    if (c.wakeup != "notify" && c.wakeup != "poll")
        throw config_error("wakeup '" + c.wakeup + "': expected notify or poll");
    auto host_port = [](const std::string& key, const std::string& v, const char* example) {
        auto colon = v.rfind(':');
        bool ok = colon != std::string::npos && colon > 0 && colon + 1 < v.size();
        if (ok) {
            std::string p = v.substr(colon + 1);
            ok = p.find_first_not_of("0123456789") == std::string::npos && p.size() <= 5 && std::stoi(p) <= 65535;
        }
        if (!ok) throw config_error(key + " '" + v + "': expected HOST:PORT, e.g. " + example);
    };
    host_port("listen", c.listen, "127.0.0.1:8080");
    if (!c.metrics_listen.empty()) host_port("metrics_listen", c.metrics_listen, "127.0.0.1:9090");
    if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "error")
        throw config_error("log_level '" + c.log_level + "': expected debug, info, warn or error");
}

std::vector<std::string> config_warnings(const config& c) {
    std::vector<std::string> out;
    if (c.token_secret.empty() && c.anonymous_topics.empty())
        out.push_back("nobody can read any topic: no token_secret (every token is refused) and no anonymous_topics; "
                      "set token_secret (then `pglive token` makes tokens) or anonymous_topics (e.g. public.*)");
    return out;
}

}  // namespace pglive
