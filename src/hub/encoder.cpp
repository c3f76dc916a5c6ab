// encoder.cpp — outgoing messages as WebSocket text (PROTOCOL §4), SSE records or long-poll/REST answer parts.
#include "hub/encoder.h"

#include <algorithm>

#include "core/exact_json.h"
#include "core/protocol.h"

namespace pglive {

namespace {

// The message's JSON text (PROTOCOL §4).
std::string protocol_text(const outgoing& o) {
    switch (o.kind) {
    case outgoing::what::subscribed:
        return subscribed_message(o.ref, o.sub, o.topic, *o.key, *o.columns);
    case outgoing::what::unsubscribed:
        return unsubscribed_message(o.ref, o.sub);
    case outgoing::what::error:
        return error_message(o.ref, o.code, o.message);
    case outgoing::what::snapshot:
        return snapshot_message(o.sub, o.topic, o.pos, *o.body);
    case outgoing::what::patch:
        return patch_message(o.sub, o.topic, o.pos, o.ts, *o.body, o.from);
    case outgoing::what::message:
        return message_message(o.topic, *o.body);
    case outgoing::what::user_message:
        return dump_exact(json{{"type", "message"}, {"user", o.topic}, {"data", *o.body}});
    }
    return {};
}

// An SSE record: "event:", "id:" (the position, so Last-Event-ID resumes), "data:".
std::string sse_record(const outgoing& o) {
    const char* event = "message";
    int64_t id = -1;  // user messages and errors carry no id, so the stream's last id stays
    switch (o.kind) {
    case outgoing::what::subscribed:
    case outgoing::what::unsubscribed:
        return {};  // SSE has no request/reply channel
    case outgoing::what::error:
        event = "error";
        break;
    case outgoing::what::snapshot:
        event = "snapshot";
        id = o.pos;
        break;
    case outgoing::what::patch:
        event = "patch";
        id = o.pos;
        break;
    case outgoing::what::message:
        id = o.pos;
        break;
    case outgoing::what::user_message:
        break;
    }
    std::string data = protocol_text(o);
    std::string s;
    s.reserve(data.size() + 48);
    s += "event: ";
    s += event;
    s += '\n';
    if (id >= 0) {
        s += "id: ";
        s += std::to_string(id);
        s += '\n';
    }
    s += "data: ";
    s += data;
    s += "\n\n";
    return s;
}

// A long-poll or REST answer's part (encoder.h lists them).
std::string poll_text(const outgoing& o) {
    switch (o.kind) {
    case outgoing::what::subscribed:
        return std::string("subscribed ") + (o.columns->empty() ? "messages" : "rows") + "\n";
    case outgoing::what::unsubscribed:
        return "end " + std::to_string(std::max<int64_t>(o.pos, 0)) + "\n";
    case outgoing::what::error:
        return "error " + o.code + "\n" + o.message;
    case outgoing::what::snapshot:
        return "snapshot " + std::to_string(o.pos) + "\n" + dump_exact(*o.body);
    case outgoing::what::patch:
        return "patch " + std::to_string(o.pos) + "\n" + poll_patch_entry(o.pos, o.ts, *o.body);
    case outgoing::what::message:
    case outgoing::what::user_message:
        return {};
    }
    return {};
}

}  // namespace

poll_part read_poll_part(std::string_view s) {
    auto nl = s.find('\n');
    std::string_view head = s.substr(0, nl);
    poll_part p;
    p.text = nl == std::string_view::npos ? std::string_view() : s.substr(nl + 1);
    auto sp = head.find(' ');
    p.what = head.substr(0, sp);
    if (sp != std::string_view::npos) p.arg = head.substr(sp + 1);
    return p;
}

frame encode(wire_format format, const outgoing& out) {
    switch (format) {
    case wire_format::json:
        return make_frame(protocol_text(out));
    case wire_format::sse: {
        std::string record = sse_record(out);
        return record.empty() ? frame() : make_frame(std::move(record));
    }
    case wire_format::poll: {
        std::string part = poll_text(out);
        return part.empty() ? frame() : make_frame(std::move(part));
    }
    }
    return {};
}

}  // namespace pglive
