// encoder.h — what the hub says to a subscriber, as a frame in the connection's wire format: the one switch on wire format.
//
// The hub decides what to say (an `outgoing`) and to whom; how it looks on the wire — a
// WebSocket text message, a whole SSE record, a long-poll or REST body part — is decided here
// and nowhere else. A frame is built once per format and shared (frame_set).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/change.h"
#include "core/frame.h"
#include "hub/client.h"

namespace pglive {

// One thing the hub tells a subscriber; the fields a kind does not use stay empty.
struct outgoing {
    enum class what { subscribed, unsubscribed, error, snapshot, patch, message, user_message };
    what kind = what::message;
    std::string ref;
    std::string sub;
    std::string topic;  // user_message: the user
    int64_t pos = -1;   // snapshot, patch, message; -1: none
    std::string ts;     // patch
    int64_t from = -1;  // a catch-up patch: it covers every transaction after this position
    const json* body = nullptr;  // snapshot rows, patch ops, message data
    const std::vector<std::string>* key = nullptr;      // subscribed
    const std::vector<std::string>* columns = nullptr;  // subscribed
    std::string code, message;                          // error
};

// The frame `out` is in `format`, or null when the format has no such frame (SSE has no
// request/reply channel: no `subscribed`; poll carries no messages).
frame encode(wire_format format, const outgoing& out);

// A poll-format frame: a header line "<what> <arg>\n", then the part's text.
//   subscribed rows|messages   (messages: a topic without columns, a channel)
//   snapshot <pos>\n<rows as JSON>
//   patch <pos>\n{"patch":…,"pos":"…","ts":"…"}
//   end <pos>\n                (unsubscribed; pos: how far the subscription had come)
//   error <code>\n<message>
struct poll_part {
    std::string_view what, arg, text;
};
// The parts view `f`, which must outlive them (a temporary string is refused at compile time).
poll_part read_poll_part(std::string_view f);
poll_part read_poll_part(std::string&& f) = delete;

// The frames of one outgoing message, one per wire format, each built on first use.
class frame_set {
public:
    explicit frame_set(outgoing out) : out_(std::move(out)) {}
    const outgoing& message() const { return out_; }
    const frame& get(wire_format format) {
        auto& f = frames_[size_t(format)];
        if (!f) f = encode(format, out_);
        return f;
    }

private:
    outgoing out_;
    std::array<frame, wire_format_count> frames_;
};

}  // namespace pglive
