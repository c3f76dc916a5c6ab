// encoder_test.cpp — guards hub/encoder: each outgoing kind → the exact frame bytes of every wire format (WebSocket JSON, SSE record, poll part).
#include <gtest/gtest.h>

#include <fstream>

#include "golden.h"
#include "core/exact_json.h"
#include "hub/encoder.h"

namespace pglive {
namespace {

outgoing::what kind_of(const std::string& s) {
    if (s == "subscribed") return outgoing::what::subscribed;
    if (s == "unsubscribed") return outgoing::what::unsubscribed;
    if (s == "error") return outgoing::what::error;
    if (s == "snapshot") return outgoing::what::snapshot;
    if (s == "patch") return outgoing::what::patch;
    if (s == "message") return outgoing::what::message;
    if (s == "user_message") return outgoing::what::user_message;
    throw std::invalid_argument("golden: unknown kind " + s);
}

// What one golden case says, with the storage an `outgoing` points into.
struct golden_message {
    json body;
    std::vector<std::string> key, columns;
    outgoing out;

    explicit golden_message(const json& c) {
        out.kind = kind_of(c.at("kind").get<std::string>());
        out.ref = c.value("ref", std::string());
        out.sub = c.value("sub", std::string());
        out.topic = c.value("topic", std::string());
        out.pos = c.value("pos", int64_t(-1));
        out.ts = c.value("ts", std::string());
        out.code = c.value("code", std::string());
        out.message = c.value("message", std::string());
        if (c.contains("body")) body = parse_exact(c["body"].get<std::string>());  // numbers exact, as rows are
        key = c.value("key", std::vector<std::string>());
        columns = c.value("columns", std::vector<std::string>());
        out.body = &body;
        out.key = &key;
        out.columns = &columns;
    }
    golden_message(const golden_message&) = delete;
};

json golden_cases() {
    return test::golden_cases("encoder_golden.json");
}

void expect_frame(const frame& f, const json& want, const char* format) {
    SCOPED_TRACE(format);
    if (want.is_null()) {
        EXPECT_EQ(f, nullptr) << "unexpected frame: " << (f ? *f : "");
    } else {
        ASSERT_NE(f, nullptr);
        EXPECT_EQ(*f, want.get<std::string>());
    }
}

// ------------------------------------------------------------------ frames (golden)

TEST(encoder, golden_cases_give_the_exact_bytes_of_each_wire_format) {
    json cases = golden_cases();
    ASSERT_GE(cases.size(), 10u);
    for (auto& c : cases) {
        SCOPED_TRACE(c["name"].get<std::string>());
        golden_message m(c);
        expect_frame(encode(wire_format::json, m.out), c["json"], "json");
        expect_frame(encode(wire_format::sse, m.out), c["sse"], "sse");
        expect_frame(encode(wire_format::poll, m.out), c["poll"], "poll");
    }
}

// Every WebSocket frame is one JSON object whose "type" names the kind (PROTOCOL §4), and an SSE
// record's data line is that same JSON (PROTOCOL §5, SSE).
TEST(encoder, an_sse_record_carries_the_websocket_json_as_its_data) {
    const char* types[] = {"subscribed", "unsubscribed", "error", "snapshot", "patch", "message", "message"};
    for (auto& c : golden_cases()) {
        SCOPED_TRACE(c["name"].get<std::string>());
        golden_message m(c);
        frame ws = encode(wire_format::json, m.out);
        ASSERT_TRUE(ws);
        EXPECT_EQ(json::parse(*ws)["type"], types[size_t(m.out.kind)]);
        frame sse = encode(wire_format::sse, m.out);
        if (!sse) continue;
        auto data = sse->find("data: ");
        ASSERT_NE(data, std::string::npos);
        EXPECT_EQ(sse->substr(data + 6), *ws + "\n\n");
    }
}

TEST(encoder, an_error_message_that_is_not_utf8_is_replaced_not_thrown) {
    outgoing o;
    o.kind = outgoing::what::error;
    o.code = "bad_request";
    o.message = std::string("bad \xff byte");
    frame f;
    ASSERT_NO_THROW(f = encode(wire_format::json, o));
    EXPECT_EQ(*f, "{\"code\":\"bad_request\",\"message\":\"bad \xEF\xBF\xBD byte\",\"type\":\"error\"}");
}

// ------------------------------------------------------------------ poll parts read back

outgoing make(outgoing::what kind, std::string sub, std::string topic, int64_t pos, std::string ts, const json* body) {
    outgoing o;
    o.kind = kind;
    o.sub = std::move(sub);
    o.topic = std::move(topic);
    o.pos = pos;
    o.ts = std::move(ts);
    o.body = body;
    return o;
}

TEST(encoder_poll_part, each_poll_frame_reads_back_as_its_header_and_text) {
    json body = json::parse(R"({"1":{"id":1}})"), ops = json::parse(R"([{"op":"remove","path":"/1"}])");
    std::vector<std::string> none;
    frame snap = encode(wire_format::poll, make(outgoing::what::snapshot, "s", "public.t", 12, "", &body));
    poll_part p = read_poll_part(*snap);
    EXPECT_EQ(p.what, "snapshot");
    EXPECT_EQ(p.arg, "12");
    EXPECT_EQ(p.text, R"({"1":{"id":1}})");

    frame patch = encode(wire_format::poll, make(outgoing::what::patch, "s", "public.t", 13, "2026-01-01T00:00:00.000000Z", &ops));
    p = read_poll_part(*patch);
    EXPECT_EQ(p.what, "patch");
    EXPECT_EQ(p.arg, "13");
    EXPECT_EQ(p.text, R"({"patch":[{"op":"remove","path":"/1"}],"pos":"13","ts":"2026-01-01T00:00:00.000000Z"})");

    outgoing sub = make(outgoing::what::subscribed, "s", "alerts", -1, "", nullptr);
    sub.key = &none;
    sub.columns = &none;
    frame subscribed = encode(wire_format::poll, sub);
    p = read_poll_part(*subscribed);
    EXPECT_EQ(p.what, "subscribed");
    EXPECT_EQ(p.arg, "messages");
    EXPECT_EQ(p.text, "");

    outgoing err = make(outgoing::what::error, "", "", -1, "", nullptr);
    err.code = "forbidden";
    err.message = "not yours\nsecond line";
    frame error = encode(wire_format::poll, err);
    p = read_poll_part(*error);
    EXPECT_EQ(p.what, "error");
    EXPECT_EQ(p.arg, "forbidden");
    EXPECT_EQ(p.text, "not yours\nsecond line");  // only the first newline ends the header
}

TEST(encoder_poll_part, a_header_without_text_or_argument) {
    poll_part p = read_poll_part(std::string_view("end"));
    EXPECT_EQ(p.what, "end");
    EXPECT_EQ(p.arg, "");
    EXPECT_EQ(p.text, "");
    p = read_poll_part(std::string_view("end 5\n"));
    EXPECT_EQ(p.what, "end");
    EXPECT_EQ(p.arg, "5");
    EXPECT_EQ(p.text, "");
}

// ------------------------------------------------------------------ frame_set

TEST(encoder_frame_set, each_format_is_built_once_and_shared) {
    json body = json::parse(R"({"x":1})");
    frame_set fs(make(outgoing::what::message, "", "alerts", 3, "", &body));
    const frame& ws1 = fs.get(wire_format::json);
    const frame& ws2 = fs.get(wire_format::json);
    ASSERT_TRUE(ws1);
    EXPECT_EQ(ws1.get(), ws2.get());  // the same bytes, not a copy
    EXPECT_EQ(*ws1, R"({"data":{"x":1},"topic":"alerts","type":"message"})");
    frame sse = fs.get(wire_format::sse);
    ASSERT_TRUE(sse);
    EXPECT_NE(sse.get(), ws1.get());
    EXPECT_EQ(*sse, "event: message\nid: 3\ndata: {\"data\":{\"x\":1},\"topic\":\"alerts\",\"type\":\"message\"}\n\n");
    EXPECT_EQ(fs.get(wire_format::sse).get(), sse.get());
    EXPECT_EQ(fs.get(wire_format::poll), nullptr);  // poll carries no messages
    EXPECT_EQ(fs.message().topic, "alerts");
}

}  // namespace
}  // namespace pglive
