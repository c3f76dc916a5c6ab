// config.h — every server setting in one table: file, then environment, then flags.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pglive {

// A bad key or value; what() names the key, where it came from, and what was expected.
struct config_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Field names are exactly the config keys (config/pglive.conf documents each with its default).
struct config {
    std::string db;                        // libpq conninfo; default DATABASE_URL, else libpq's PG* variables
    std::string listen = "127.0.0.1:8080";
    std::string token_secret;
    std::vector<std::string> anonymous_topics;  // what callers without a token may read
    std::vector<std::string> allowed_origins;   // cross-origin WebSocket/SSE callers allowed
    std::string wakeup = "notify";         // notify | poll
    int64_t poll_interval_ms = 50;
    int64_t safety_interval_ms = 1000;
    int64_t batch_transactions = 1000;
    int64_t max_message_bytes = 65536;
    int64_t max_queue_bytes = 4 << 20;
    int64_t max_queue_frames = 1024;
    int64_t max_subscriptions_per_connection = 100;
    int64_t ping_interval_s = 20;
    int64_t pong_timeout_s = 20;
    int64_t http_timeout_s = 30;
    int64_t poll_max_timeout_s = 60;
    int64_t history_transactions = 10000;
    int64_t unload_after_s = 60;
    int64_t retention_s = 7 * 24 * 3600;
    int64_t retention_count = 0;           // 0: no count limit
    int64_t prune_interval_s = 60;
    int64_t node_timeout_s = 30;           // a node silent this long stops holding retention
    std::string dashboard_dir;             // "" = the dashboard built in (source tree)
    std::string log_level = "info";
    std::string metrics_listen;            // "" = none: /metrics only on the main port, with a token
    bool metrics_public = false;           // /metrics on the main port without a token

    std::string config_file;  // where the file layer came from ("" = none)

    std::string listen_host() const;
    uint16_t listen_port() const;
};

// The defaults, stated once (above): the stages' option structs start from these values, and
// --help and config/pglive.conf show them.
inline const config& default_config() {
    static const config c;
    return c;
}

struct config_key {
    const char* name;
    std::string default_text;  // the value in a default-constructed config, as text
    const char* help;
};
const std::vector<config_key>& config_keys();

// Applies `key = value` (from a file line, an environment variable or a flag). `origin` is
// used in errors ("config file x.conf line 3", "PGLIVE_LISTEN", "--listen").
void set_config_value(config& c, const std::string& key, const std::string& value, const std::string& origin);

// Reads a file of `key = value` lines ('#' comments). Unknown keys are errors.
void load_config_file(config& c, const std::string& path);

// DATABASE_URL and PGLIVE_<KEY> variables.
void load_config_env(config& c, char** envp);

// "a, b,c" → {"a","b","c"} (blanks trimmed, empty items dropped): list settings and CLI lists.
std::vector<std::string> split_list(const std::string& text);

// Checks cross-field rules (wakeup value, listen address form…).
void validate_config(const config& c);

// Settings that are valid but make no sense together, one log line each (serve logs them at
// start): no token_secret and no anonymous_topics means nobody can read any topic.
std::vector<std::string> config_warnings(const config& c);

}  // namespace pglive
