// protocol.h — client requests parsed and validated (one validator for every transport), server messages built (PROTOCOL §4).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/change.h"

namespace pglive {

// Error codes of PROTOCOL §4.
namespace error_code {
inline constexpr const char* bad_request = "bad_request";
inline constexpr const char* unknown_topic = "unknown_topic";
inline constexpr const char* forbidden = "forbidden";
inline constexpr const char* bad_filter = "bad_filter";
inline constexpr const char* too_many_subscriptions = "too_many_subscriptions";
inline constexpr const char* unauthorized = "unauthorized";
inline constexpr const char* undecodable_change = "undecodable_change";  // a fresh snapshot follows
// HTTP only (PROTOCOL §3): no such endpoint or file; the database or publishing is away; a bug.
inline constexpr const char* not_found = "not_found";
inline constexpr const char* unavailable = "unavailable";
inline constexpr const char* internal = "internal";
}  // namespace error_code

// A request the server refuses: code is one of error_code, message names the bad field.
struct protocol_error : std::runtime_error {
    protocol_error(std::string code, const std::string& message, std::string ref = {})
        : std::runtime_error(message), code(std::move(code)), ref(std::move(ref)) {}
    std::string code;
    std::string ref;
};

struct subscribe_request {
    std::string ref;
    std::string topic;
    std::string sub;                  // defaults to topic
    std::vector<std::string> filter;  // raw expressions, parsed against the topic's columns
    std::optional<int64_t> limit;     // window size (> 0)
    std::string order;                // raw order text, "" = by key
    std::optional<int64_t> since;     // resume after this position
    // An aggregate subscription (PROTOCOL §5) when either is non-empty: group columns, and
    // aggregates as requested ("count", "sum:amount"…), checked against the columns by the hub.
    std::vector<std::string> group;
    std::vector<std::string> aggregate;
    bool aggregated() const { return !group.empty() || !aggregate.empty(); }
    // Snapshots list the rows as an array in the shape's order (REST rows `form=list`); not a
    // field of the WebSocket request.
    bool list_rows = false;
};
struct unsubscribe_request { std::string ref; std::string sub; };
struct auth_request { std::string ref; std::string token; };
struct ping_request { std::string ref; };

using client_request = std::variant<subscribe_request, unsubscribe_request, auth_request, ping_request>;

// Parses one text frame. Throws protocol_error(bad_request) naming the field:
// "not JSON", "missing field 'topic'", "'limit' must be a positive integer", "unknown op 'x'"…
// `since` is accepted as a decimal string or an integer.
client_request parse_client_request(std::string_view text);

// --- the rules a subscription's fields follow, whichever transport carries them ----------------
// Decimal digits that fit int64 ("0042" is 42), else nullopt: positions, limits, seconds.
std::optional<int64_t> parse_whole_number(std::string_view text);
// A window's size: 1..100000, else protocol_error(bad_request) naming 'limit' (nullopt: not an integer).
int64_t checked_limit(std::optional<int64_t> n, const std::string& ref = {});

// A subscription asked for in query parameters (SSE, long-poll, REST rows), as the HTTP side
// decoded them; absent parameters stay nullopt. The same rules as a WebSocket subscribe.
struct subscribe_query {
    std::string topic;
    std::vector<std::string> filter;
    std::optional<std::string> limit;
    std::optional<std::string> order;
    std::optional<std::string> since;
    // `group` and `aggregate` may repeat, and each value may list several separated by commas.
    std::vector<std::string> group;
    std::vector<std::string> aggregate;
    const char* since_name = "'since'";  // how the messages name it (SSE: Last-Event-ID too)
};
// Throws protocol_error(bad_request): "missing parameter 'topic'", "'limit' must be…", "'since' must be a position".
subscribe_request parse_subscribe_query(const subscribe_query& q);

// REST rows' `form` (GET /api/topics/{topic}/rows&form=): keyed (the default, row key → row) or
// list (the rows in the window's order). Throws protocol_error(bad_request) naming 'form'.
enum class rows_form { keyed, list };
rows_form parse_rows_form(const std::optional<std::string>& text);

// Server messages (compact JSON text). `ref` is omitted when empty.
std::string subscribed_message(const std::string& ref, const std::string& sub, const std::string& topic,
                               const std::vector<std::string>& key, const std::vector<std::string>& columns);
std::string snapshot_message(const std::string& sub, const std::string& topic, int64_t pos, const json& rows);
std::string patch_message(const std::string& sub, const std::string& topic, int64_t pos, const std::string& ts,
                          const json& ops);
std::string message_message(const std::string& topic, const json& data);
std::string unsubscribed_message(const std::string& ref, const std::string& sub);
std::string pong_message(const std::string& ref);
std::string error_message(const std::string& ref, const std::string& code, const std::string& message);

// Long-poll and REST bodies (PROTOCOL §4) from parts already written as JSON text (row values
// exact): `{"patch","pos","ts"}` entries, `{"topic","pos","patches"|"snapshot"}`, `{"pos","rows"}`.
std::string poll_patch_entry(int64_t pos, const std::string& ts, const json& ops);
std::string poll_patches_body(const std::string& topic, const std::string& pos, const std::vector<std::string>& entries);
std::string poll_snapshot_body(const std::string& topic, const std::string& pos, const std::string& rows);
std::string rows_body(const std::string& pos, const std::string& rows);

}  // namespace pglive
