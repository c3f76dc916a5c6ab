// protocol.h — client messages parsed and validated, server messages built (PROTOCOL §4).
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
};
struct unsubscribe_request { std::string ref; std::string sub; };
struct auth_request { std::string ref; std::string token; };
struct ping_request { std::string ref; };

using client_request = std::variant<subscribe_request, unsubscribe_request, auth_request, ping_request>;

// Parses one text frame. Throws protocol_error(bad_request) naming the field:
// "not JSON", "missing field 'topic'", "'limit' must be a positive integer", "unknown op 'x'"…
// `since` is accepted as a decimal string or an integer.
client_request parse_client_request(std::string_view text);

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

}  // namespace pglive
