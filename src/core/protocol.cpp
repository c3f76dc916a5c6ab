// protocol.cpp — client requests parsed and validated (WebSocket JSON and HTTP query alike); server messages built (PROTOCOL §4).
#include "core/protocol.h"

#include <charconv>

#include "core/exact_json.h"

namespace pglive {

namespace {

std::string ref_of(const json& j) {
    auto it = j.find("ref");
    if (it == j.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer() || it->is_number_unsigned()) return it->dump();
    return "";
}

[[noreturn]] void bad(const std::string& message, const std::string& ref) {
    throw protocol_error(error_code::bad_request, message, ref);
}

std::string required_string(const json& j, const char* field, const std::string& ref) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) bad(std::string("missing field '") + field + "'", ref);
    if (!it->is_string()) bad(std::string("'") + field + "' must be a string", ref);
    std::string s = it->get<std::string>();
    if (s.empty()) bad(std::string("'") + field + "' must not be empty", ref);
    return s;
}

std::string optional_string(const json& j, const char* field, const std::string& ref) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) return "";
    if (!it->is_string()) bad(std::string("'") + field + "' must be a string", ref);
    return it->get<std::string>();
}

// A field holding a string or an array of strings ("group", "aggregate").
std::vector<std::string> string_list(const json& j, const char* field, const char* example, const std::string& ref) {
    std::vector<std::string> out;
    auto f = j.find(field);
    if (f == j.end() || f->is_null()) return out;
    auto fail = [&] { bad(std::string("'") + field + "' must be an array of strings like " + example, ref); };
    if (f->is_string()) {
        out.push_back(f->get<std::string>());
    } else if (f->is_array()) {
        for (auto& e : *f) {
            if (!e.is_string()) fail();
            out.push_back(e.get<std::string>());
        }
    } else {
        fail();
    }
    for (auto& s : out)
        if (s.empty()) bad(std::string("'") + field + "' must not hold an empty name", ref);
    return out;
}

subscribe_request parse_subscribe(const json& j, const std::string& ref) {
    subscribe_request r;
    r.ref = ref;
    r.topic = required_string(j, "topic", ref);
    r.sub = optional_string(j, "sub", ref);
    if (r.sub.empty()) r.sub = r.topic;
    if (auto f = j.find("filter"); f != j.end() && !f->is_null()) {
        if (f->is_string()) {
            r.filter.push_back(f->get<std::string>());
        } else if (f->is_array()) {
            for (auto& e : *f) {
                if (!e.is_string()) bad("'filter' must be an array of strings like \"status=eq.open\"", ref);
                r.filter.push_back(e.get<std::string>());
            }
        } else {
            bad("'filter' must be an array of strings like \"status=eq.open\"", ref);
        }
    }
    if (auto l = j.find("limit"); l != j.end() && !l->is_null()) {
        bool integer = l->is_number_integer() || l->is_number_unsigned();
        r.limit = checked_limit(integer ? std::optional<int64_t>(l->get<int64_t>()) : std::nullopt, ref);
    }
    r.order = optional_string(j, "order", ref);
    r.group = string_list(j, "group", "[\"status\"]", ref);
    r.aggregate = string_list(j, "aggregate", "[\"count\",\"sum:amount\"]", ref);
    if (auto s = j.find("since"); s != j.end() && !s->is_null()) {
        int64_t v = -1;
        if (s->is_number_unsigned() || s->is_number_integer()) {
            v = s->get<int64_t>();
        } else if (s->is_string()) {
            v = parse_whole_number(s->get_ref<const std::string&>()).value_or(-1);
        }
        if (v < 0) bad("'since' must be a position: a non-negative integer or its decimal string", ref);
        r.since = v;
    }
    return r;
}

json with_ref(json j, const std::string& ref) {
    if (!ref.empty()) j["ref"] = ref;
    return j;
}

}  // namespace

std::optional<int64_t> parse_whole_number(std::string_view t) {
    // from_chars: 19 digits above INT64_MAX are refused, where std::stoll threw.
    int64_t n = -1;
    if (t.empty() || t.find_first_not_of("0123456789") != std::string_view::npos ||
        std::from_chars(t.data(), t.data() + t.size(), n).ec != std::errc())
        return std::nullopt;
    return n;
}

int64_t checked_limit(std::optional<int64_t> n, const std::string& ref) {
    if (!n || *n <= 0 || *n > 100000) bad("'limit' must be a positive integer no larger than 100000", ref);
    return *n;
}

subscribe_request parse_subscribe_query(const subscribe_query& q) {
    subscribe_request r;
    if (q.topic.empty()) bad("missing parameter 'topic'", "");
    r.topic = q.topic;
    r.sub = q.topic;
    r.filter = q.filter;
    if (q.limit) r.limit = checked_limit(parse_whole_number(*q.limit));
    if (q.order) r.order = *q.order;
    auto split = [](const std::vector<std::string>& values, const char* name) {
        std::vector<std::string> out;
        for (auto& v : values) {
            for (size_t at = 0;;) {
                size_t comma = v.find(',', at);
                std::string part = v.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
                if (part.empty()) bad(std::string("'") + name + "' must not hold an empty name", "");
                out.push_back(part);
                if (comma == std::string::npos) break;
                at = comma + 1;
            }
        }
        return out;
    };
    r.group = split(q.group, "group");
    r.aggregate = split(q.aggregate, "aggregate");
    if (q.since) {
        r.since = parse_whole_number(*q.since);
        if (!r.since) bad(std::string(q.since_name) + " must be a position", "");
    }
    return r;
}

rows_form parse_rows_form(const std::optional<std::string>& text) {
    if (!text || *text == "keyed") return rows_form::keyed;
    if (*text == "list") return rows_form::list;
    bad("'form' must be keyed or list", "");
}

client_request parse_client_request(std::string_view text) {
    json j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded()) bad("not JSON", "");
    if (!j.is_object()) bad("expected a JSON object", "");
    std::string ref = ref_of(j);
    auto op = j.find("op");
    if (op == j.end()) bad("missing field 'op'", ref);
    if (!op->is_string()) bad("'op' must be a string", ref);
    const std::string& name = op->get_ref<const std::string&>();
    if (name == "subscribe") return parse_subscribe(j, ref);
    if (name == "unsubscribe") {
        unsubscribe_request r{ref, optional_string(j, "sub", ref)};
        if (r.sub.empty()) r.sub = optional_string(j, "topic", ref);
        if (r.sub.empty()) bad("missing field 'sub'", ref);
        return r;
    }
    if (name == "auth") return auth_request{ref, required_string(j, "token", ref)};
    if (name == "ping") return ping_request{ref};
    bad("unknown op '" + name + "' (expected subscribe, unsubscribe, auth or ping)", ref);
}

std::string subscribed_message(const std::string& ref, const std::string& sub, const std::string& topic,
                               const std::vector<std::string>& key, const std::vector<std::string>& columns) {
    json j = {{"type", "subscribed"}};
    if (!ref.empty()) j["ref"] = ref;
    j["sub"] = sub;
    j["topic"] = topic;
    j["key"] = key;
    j["columns"] = columns;
    return j.dump();
}

// Messages that carry row values are written with dump_exact: numbers keep PostgreSQL's literal.
std::string snapshot_message(const std::string& sub, const std::string& topic, int64_t pos, const json& rows) {
    return dump_exact(json{{"type", "snapshot"}, {"sub", sub}, {"topic", topic}, {"pos", std::to_string(pos)}, {"rows", rows}});
}

std::string patch_message(const std::string& sub, const std::string& topic, int64_t pos, const std::string& ts,
                          const json& ops) {
    return dump_exact(json{{"type", "patch"}, {"sub", sub},  {"topic", topic},
                           {"pos", std::to_string(pos)}, {"ts", ts}, {"patch", ops}});
}

std::string message_message(const std::string& topic, const json& data) {
    return dump_exact(json{{"type", "message"}, {"topic", topic}, {"data", data}});
}

std::string unsubscribed_message(const std::string& ref, const std::string& sub) {
    return with_ref(json{{"type", "unsubscribed"}, {"sub", sub}}, ref).dump();
}

std::string pong_message(const std::string& ref) { return with_ref(json{{"type", "pong"}}, ref).dump(); }

std::string error_message(const std::string& ref, const std::string& code, const std::string& message) {
    // Messages may quote what a client sent: a stray byte is replaced, never thrown on.
    return with_ref(json{{"type", "error"}, {"code", code}, {"message", message}}, ref)
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

// The bodies are joined as text, in the order dump() writes an object's keys (sorted), so they
// read exactly as the JSON objects they stand for.
std::string poll_patch_entry(int64_t pos, const std::string& ts, const json& ops) {
    return dump_exact(json{{"pos", std::to_string(pos)}, {"ts", ts}, {"patch", ops}});
}

namespace {
std::string quoted(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }
}  // namespace

std::string poll_patches_body(const std::string& topic, const std::string& pos, const std::vector<std::string>& entries) {
    std::string out = "{\"patches\":[";
    for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += ',';
        out += entries[i];
    }
    return out + "],\"pos\":" + quoted(pos) + ",\"topic\":" + quoted(topic) + "}";
}

std::string poll_snapshot_body(const std::string& topic, const std::string& pos, const std::string& rows) {
    return "{\"pos\":" + quoted(pos) + ",\"snapshot\":" + rows + ",\"topic\":" + quoted(topic) + "}";
}

std::string rows_body(const std::string& pos, const std::string& rows) {
    return "{\"pos\":" + quoted(pos) + ",\"rows\":" + rows + "}";
}

}  // namespace pglive
