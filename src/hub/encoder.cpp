// encoder.cpp — outgoing messages as WebSocket text (PROTOCOL §4) or SSE records.
#include "hub/encoder.h"

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
        return patch_message(o.sub, o.topic, o.pos, o.ts, *o.body);
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

}  // namespace

frame encode(wire_format format, const outgoing& out) {
    switch (format) {
    case wire_format::json:
        return make_frame(protocol_text(out));
    case wire_format::sse: {
        std::string record = sse_record(out);
        return record.empty() ? frame() : make_frame(std::move(record));
    }
    }
    return {};
}

}  // namespace pglive
