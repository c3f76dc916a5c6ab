// core_test.cpp — the pure core in tables: keys, golden patches, filters, orders, protocol, tokens.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "golden.h"
#include "core/backlog_gate.h"
#include "core/latency_histogram.h"
#include "core/change.h"
#include "core/filter.h"
#include "core/jwt.h"
#include "core/utf8.h"
#include "core/key.h"
#include "core/patch.h"
#include "core/pg_snapshot.h"
#include "core/protocol.h"

namespace pglive {
namespace {

// ------------------------------------------------------------------ keys

struct key_case {
    const char* row;
    std::vector<std::string> key;
    const char* expect;
};

TEST(core_change, commit_time_reads_once_to_microseconds) {
    EXPECT_EQ(commit_time_us("1970-01-01T00:00:00.000000Z"), 0);
    EXPECT_EQ(commit_time_us("1970-01-01T00:00:01.000001Z"), 1000001);
    EXPECT_EQ(commit_time_us("2026-11-22T10:00:00.123456Z"), int64_t(1795341600) * 1000000 + 123456);
    EXPECT_EQ(commit_time_us("2026-11-22T10:00:00Z"), int64_t(1795341600) * 1000000);
    EXPECT_EQ(commit_time_us("2026-11-22T10:00:00.5Z"), int64_t(1795341600) * 1000000 + 500000);
    for (const char* bad : {"", "2026-11-22", "2026-11-22 10:00:00Z", "2026-11-22T10:00:00.123456", "x026-11-22T10:00:00Z"})
        EXPECT_EQ(commit_time_us(bad), 0) << bad;
}

TEST(core_key, encodes_single_and_composite_keys) {
    const key_case cases[] = {
        {R"({"id":17})", {"id"}, "17"},
        {R"({"id":-3})", {"id"}, "-3"},
        {R"({"id":"abc"})", {"id"}, "abc"},
        {R"({"id":"a/b~c"})", {"id"}, "a/b~c"},  // escaping is the path's business, not the key's
        {R"({"id":true})", {"id"}, "true"},
        {R"({"id":1.5})", {"id"}, "1.5"},
        {R"({"n":7,"region":"eu","v":1})", {"n", "region"}, R"([7,"eu"])"},
        {R"({"a":"x","b":null})", {"a", "b"}, R"(["x",null])"},
    };
    for (auto& c : cases) EXPECT_EQ(row_key(json::parse(c.row), c.key), c.expect) << c.row;
}

TEST(core_key, a_missing_key_column_is_named) {
    try {
        row_key(json::parse(R"({"id":1})"), {"id", "region"});
        FAIL() << "accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("region"), std::string::npos) << e.what();
    }
}

TEST(core_key, pointer_escaping_follows_rfc_6901) {
    EXPECT_EQ(pointer_escape("plain"), "plain");
    EXPECT_EQ(pointer_escape("a/b"), "a~1b");
    EXPECT_EQ(pointer_escape("a~b"), "a~0b");
    EXPECT_EQ(pointer_escape("~/"), "~0~1");
    EXPECT_EQ(pointer_escape("[7,\"eu\"]"), "[7,\"eu\"]");
}

// ------------------------------------------------------------------ patches (golden)

TEST(core_patch, golden_cases_give_the_expected_ops_and_the_expected_state) {
    json cases = test::golden_cases("patch_golden.json");
    ASSERT_GE(cases.size(), 10u);
    for (auto& c : cases) {
        SCOPED_TRACE(c["name"].get<std::string>());
        auto key = c["key"].get<std::vector<std::string>>();
        std::string kb = c["old"].is_null() ? "" : row_key(c["old"], key);
        std::string ka = c["new"].is_null() ? "" : row_key(c["new"], key);
        json ops = json::array();
        append_row_ops(ops, kb, c["old"], ka, c["new"]);
        EXPECT_EQ(ops, c["ops"]);
        EXPECT_EQ(c["before"].patch(ops), c["after"]);  // RFC 6902, applied by nlohmann's own patcher
    }
}

// ------------------------------------------------------------------ filters

const std::vector<std::string> cols = {"id", "status", "amount", "flag", "note"};

struct filter_case {
    std::vector<std::string> exprs;
    const char* row;
    bool matches;
};

TEST(core_filter, every_operator_on_every_kind_of_value) {
    const filter_case cases[] = {
        {{"status=eq.open"}, R"({"status":"open"})", true},
        {{"status=eq.open"}, R"({"status":"late"})", false},
        {{"status=neq.open"}, R"({"status":"late"})", true},
        {{"status=neq.open"}, R"({"status":null})", false},  // null never compares
        {{"amount=gt.100"}, R"({"amount":120})", true},
        {{"amount=gt.100"}, R"({"amount":100})", false},
        {{"amount=gte.100"}, R"({"amount":100})", true},
        {{"amount=lt.100"}, R"({"amount":99.5})", true},
        {{"amount=lte.99.5"}, R"({"amount":99.5})", true},
        {{"amount=gt.9"}, R"({"amount":10})", true},  // numerically, not as text ("10" < "9")
        {{"amount=gt.abc"}, R"({"amount":10})", false},
        {{"status=lt.b"}, R"({"status":"a"})", true},
        {{"status=in.(open,late)"}, R"({"status":"late"})", true},
        {{"status=in.(open,late)"}, R"({"status":"done"})", false},
        {{"status=in.(\"a,b\",c)"}, R"({"status":"a,b"})", true},
        {{"amount=in.(1,2,3)"}, R"({"amount":2})", true},
        {{"note=is.null"}, R"({"note":null})", true},
        {{"note=is.null"}, R"({"id":1})", true},  // a missing column reads as null
        {{"note=is.null"}, R"({"note":"x"})", false},
        {{"flag=is.true"}, R"({"flag":true})", true},
        {{"flag=is.false"}, R"({"flag":true})", false},
        {{"flag=eq.true"}, R"({"flag":true})", true},
        {{"amount=eq.5"}, R"({"amount":null})", false},
        {{"status=eq.open", "amount=gt.100"}, R"({"status":"open","amount":150})", true},
        {{"status=eq.open", "amount=gt.100"}, R"({"status":"open","amount":50})", false},
        {{}, R"({"anything":1})", true},
    };
    for (auto& c : cases) {
        auto f = row_filter::parse(c.exprs, cols);
        EXPECT_EQ(f.matches(json::parse(c.row)), c.matches) << (c.exprs.empty() ? "" : c.exprs[0]) << " on " << c.row;
    }
}

struct bad_filter_case {
    const char* expr;
    const char* says;
};

TEST(core_filter, bad_filters_say_what_is_wrong) {
    const bad_filter_case cases[] = {
        {"status", "expected column=operator.value"},
        {"status=open", "expected column=operator.value"},
        {"=eq.x", "expected column=operator.value"},
        {"colour=eq.red", "no column 'colour'"},
        {"status=like.o*", "unknown operator 'like'"},
        {"status=in.open", "in needs a list"},
        {"status=in.(\"open)", "unterminated quote"},
        {"note=is.maybe", "is takes null, true or false"},
    };
    for (auto& c : cases) {
        try {
            row_filter::parse({c.expr}, cols);
            ADD_FAILURE() << c.expr << " was accepted";
        } catch (const filter_error& e) {
            std::string what = e.what();
            EXPECT_NE(what.find(c.says), std::string::npos) << what;
            EXPECT_NE(what.find(c.expr), std::string::npos) << what;
        }
    }
}

TEST(core_filter, equal_filters_have_equal_canonical_text) {
    auto a = row_filter::parse({"status=eq.open", "amount=gt.1"}, cols);
    auto b = row_filter::parse({"amount=gt.1", "status=eq.open"}, cols);
    auto c = row_filter::parse({"amount=gt.2", "status=eq.open"}, cols);
    EXPECT_EQ(a.canonical(), b.canonical());
    EXPECT_NE(a.canonical(), c.canonical());
}

// ------------------------------------------------------------------ orders

TEST(core_order, directions_nulls_and_ties) {
    auto desc = row_order::parse("amount.desc", cols);
    json r1 = {{"amount", 10}}, r2 = {{"amount", 9}}, rn = {{"amount", nullptr}};
    EXPECT_TRUE(desc.before(r1, "1", r2, "2"));
    EXPECT_TRUE(desc.before(rn, "3", r1, "1"));  // desc: nulls first, as in PostgreSQL
    auto asc = row_order::parse("amount", cols);
    EXPECT_TRUE(asc.before(r2, "2", r1, "1"));
    EXPECT_TRUE(asc.before(r1, "1", rn, "3"));  // asc: nulls last
    auto asc_nf = row_order::parse("amount.asc.nullsfirst", cols);
    EXPECT_TRUE(asc_nf.before(rn, "3", r1, "1"));
    // Ties break by key, integer keys numerically.
    EXPECT_TRUE(asc.before(r1, "9", r1, "10"));
    EXPECT_FALSE(asc.before(r1, "10", r1, "9"));
    EXPECT_TRUE(row_order().before(json::object(), "a", json::object(), "b"));
    auto two = row_order::parse("status.asc,amount.desc", cols);
    EXPECT_TRUE(two.before({{"status", "a"}, {"amount", 1}}, "1", {{"status", "b"}, {"amount", 9}}, "2"));
    EXPECT_TRUE(two.before({{"status", "a"}, {"amount", 9}}, "1", {{"status", "a"}, {"amount", 1}}, "2"));
}

TEST(core_order, bad_orders_say_what_is_wrong) {
    for (auto& [text, says] : std::vector<std::pair<std::string, std::string>>{
             {"amount.up", "expected asc or desc"}, {"colour.asc", "no column 'colour'"},
             {"amount.asc.sometimes", "nullsfirst or nullslast"}, {"amount,,id", "empty term"}}) {
        try {
            row_order::parse(text, cols);
            ADD_FAILURE() << text << " was accepted";
        } catch (const filter_error& e) {
            EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
        }
    }
}

// ------------------------------------------------------------------ protocol

TEST(core_protocol, parses_every_op) {
    auto s = std::get<subscribe_request>(parse_client_request(
        R"({"op":"subscribe","ref":"1","topic":"public.orders","sub":"open","filter":["status=eq.open"],"limit":100,"order":"id.desc","since":"1234"})"));
    EXPECT_EQ(s.ref, "1");
    EXPECT_EQ(s.topic, "public.orders");
    EXPECT_EQ(s.sub, "open");
    EXPECT_EQ(s.filter, std::vector<std::string>{"status=eq.open"});
    EXPECT_EQ(s.limit, 100);
    EXPECT_EQ(s.order, "id.desc");
    EXPECT_EQ(s.since, 1234);
    auto d = std::get<subscribe_request>(parse_client_request(R"({"op":"subscribe","ref":7,"topic":"t.x","since":5})"));
    EXPECT_EQ(d.sub, "t.x");  // sub defaults to the topic
    EXPECT_EQ(d.ref, "7");    // a numeric ref is echoed as text
    EXPECT_EQ(d.since, 5);
    EXPECT_EQ(std::get<unsubscribe_request>(parse_client_request(R"({"op":"unsubscribe","ref":"2","sub":"open"})")).sub, "open");
    EXPECT_EQ(std::get<auth_request>(parse_client_request(R"({"op":"auth","ref":"3","token":"abc"})")).token, "abc");
    EXPECT_EQ(std::get<ping_request>(parse_client_request(R"({"op":"ping","ref":"4"})")).ref, "4");
}

struct bad_message {
    const char* text;
    const char* says;
    const char* ref;
};

TEST(core_protocol, bad_requests_name_the_field_and_keep_the_ref) {
    const bad_message cases[] = {
        {"not json", "not JSON", ""},
        {"[1,2]", "expected a JSON object", ""},
        {R"({"ref":"9"})", "missing field 'op'", "9"},
        {R"({"op":5,"ref":"9"})", "'op' must be a string", "9"},
        {R"({"op":"dance","ref":"9"})", "unknown op 'dance'", "9"},
        {R"({"op":"subscribe","ref":"9"})", "missing field 'topic'", "9"},
        {R"({"op":"subscribe","ref":"9","topic":""})", "'topic' must not be empty", "9"},
        {R"({"op":"subscribe","ref":"9","topic":7})", "'topic' must be a string", "9"},
        {R"({"op":"subscribe","ref":"9","topic":"a.b","filter":[1]})", "'filter' must be an array of strings", "9"},
        {R"({"op":"subscribe","ref":"9","topic":"a.b","limit":0})", "'limit' must be a positive integer", "9"},
        {R"({"op":"subscribe","ref":"9","topic":"a.b","limit":-1})", "'limit' must be a positive integer", "9"},
        {R"({"op":"subscribe","ref":"9","topic":"a.b","limit":"5"})", "'limit' must be a positive integer", "9"},
        {R"({"op":"subscribe","ref":"9","topic":"a.b","limit":1000000000})", "no larger than 100000", "9"},
        {R"({"op":"subscribe","ref":"9","topic":"a.b","since":"abc"})", "'since' must be a position", "9"},
        {R"({"op":"subscribe","ref":"9","topic":"a.b","since":-1})", "'since' must be a position", "9"},
        {R"({"op":"unsubscribe","ref":"9"})", "missing field 'sub'", "9"},
        {R"({"op":"auth","ref":"9"})", "missing field 'token'", "9"},
    };
    for (auto& c : cases) {
        try {
            parse_client_request(c.text);
            ADD_FAILURE() << c.text << " was accepted";
        } catch (const protocol_error& e) {
            EXPECT_EQ(e.code, error_code::bad_request) << c.text;
            EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
            EXPECT_EQ(e.ref, c.ref) << c.text;
        }
    }
}

TEST(core_protocol, server_messages_have_the_documented_shapes) {
    EXPECT_EQ(json::parse(subscribed_message("1", "open", "public.orders", {"id"}, {"id", "status"})),
              json::parse(R"({"type":"subscribed","ref":"1","sub":"open","topic":"public.orders","key":["id"],"columns":["id","status"]})"));
    EXPECT_EQ(json::parse(snapshot_message("open", "public.orders", 1234, json::parse(R"({"17":{"id":17}})"))),
              json::parse(R"({"type":"snapshot","sub":"open","topic":"public.orders","pos":"1234","rows":{"17":{"id":17}}})"));
    EXPECT_EQ(json::parse(patch_message("open", "public.orders", 1235, "2026-11-22T10:00:00.123456Z",
                                        json::parse(R"([{"op":"remove","path":"/17"}])"))),
              json::parse(R"({"type":"patch","sub":"open","topic":"public.orders","pos":"1235","ts":"2026-11-22T10:00:00.123456Z","patch":[{"op":"remove","path":"/17"}]})"));
    EXPECT_EQ(json::parse(message_message("alerts", json{{"a", 1}})), json::parse(R"({"type":"message","topic":"alerts","data":{"a":1}})"));
    EXPECT_EQ(json::parse(unsubscribed_message("2", "open")), json::parse(R"({"type":"unsubscribed","ref":"2","sub":"open"})"));
    EXPECT_EQ(json::parse(pong_message("4")), json::parse(R"({"type":"pong","ref":"4"})"));
    EXPECT_EQ(json::parse(pong_message("")), json::parse(R"({"type":"pong"})"));  // no ref, no field
    EXPECT_EQ(json::parse(error_message("1", error_code::unknown_topic, "no attached table public.ordrs")),
              json::parse(R"({"type":"error","ref":"1","code":"unknown_topic","message":"no attached table public.ordrs"})"));
    // Positions are decimal strings: JavaScript numbers cannot hold every bigint.
    EXPECT_EQ(json::parse(snapshot_message("s", "t.x", 9007199254740993, json::object()))["pos"], "9007199254740993");
}

// ------------------------------------------------------------------ tokens

TEST(core_jwt, round_trip_and_claims) {
    std::string t = sign_jwt(json{{"sub", "ann"}, {"topics", {"public.*"}}, {"publish", true}, {"admin", false}}, "k");
    access a = verify_jwt(t, "k", 1000);
    EXPECT_TRUE(a.authenticated);
    EXPECT_EQ(a.user, "ann");
    EXPECT_TRUE(a.publish);
    EXPECT_FALSE(a.admin);
    EXPECT_TRUE(a.may_read("public.orders"));
    EXPECT_FALSE(a.may_read("private.orders"));
    EXPECT_FALSE(a.may_read("publicity.x"));  // "public.*" is a prefix with its dot
}

struct bad_token {
    std::string token;
    const char* says;
};

TEST(core_jwt, bad_tokens_say_why) {
    std::string good = sign_jwt(json{{"sub", "ann"}}, "k");
    std::string none_head = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";      // {"alg":"none","typ":"JWT"}
    std::string hs512_head = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9";    // {"alg":"HS512","typ":"JWT"}
    std::string payload = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
    const bad_token cases[] = {
        {good.substr(0, good.rfind('.')), "expected header.payload.signature"},
        {good + "x", "bad token signature"},
        {sign_jwt(json{{"sub", "ann"}}, "other"), "bad token signature"},
        {sign_jwt(json{{"sub", "ann"}, {"exp", 999}}, "k"), "token expired"},
        {sign_jwt(json{{"sub", "ann"}, {"nbf", 2000}}, "k"), "not valid yet"},
        {none_head + "." + payload + ".", "refused: expected HS256"},
        {hs512_head + "." + payload + ".abc", "refused: expected HS256"},
        {"!!!." + payload + "." + good.substr(good.rfind('.') + 1), "not base64url"},
        {sign_jwt(json{{"topics", "public.*"}}, "k"), "'topics' must be an array"},
    };
    for (auto& c : cases) {
        try {
            verify_jwt(c.token, "k", 1000);
            ADD_FAILURE() << c.token << " was accepted";
        } catch (const auth_error& e) {
            EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(verify_jwt(good, "", 1000), auth_error);  // no secret configured: tokens refused
}

// Issue 10.7: base64url was decoded leniently, so one signature had many spellings: trailing
// "=garbage", or the last character's unused bits flipped.
TEST(core_jwt, base64url_is_strict_and_exp_is_kept) {
    std::string good = sign_jwt(json{{"sub", "ann"}, {"exp", 2000}}, "k");
    access a = verify_jwt(good, "k", 1000);
    ASSERT_TRUE(a.expires.has_value());
    EXPECT_EQ(*a.expires, 2000);
    EXPECT_THROW(verify_jwt(good, "k", 2000), auth_error);  // exp is exclusive, compared as integers
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string flipped = good;
    char& last = flipped.back();  // a 32-byte signature is 43 characters: the last one has 2 unused bits
    last = alphabet[alphabet.find(last) ^ 1];
    for (const std::string& t : {good + "=", good + "=garbage", flipped}) {
        try {
            verify_jwt(t, "k", 1000);
            ADD_FAILURE() << t << " was accepted";
        } catch (const auth_error& e) {
            EXPECT_NE(std::string(e.what()).find("not base64url"), std::string::npos) << t << ": " << e.what();
        }
    }
    EXPECT_TRUE(verify_jwt(sign_jwt(json{{"metrics", true}}, "k"), "k", 1000).metrics);
}

TEST(core_utf8, strict_validation) {
    EXPECT_TRUE(valid_utf8(""));
    EXPECT_TRUE(valid_utf8("plain ascii"));
    EXPECT_TRUE(valid_utf8("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));  // é € 😀 U+10FFFF
    for (const char* bad : {"\xff", "\xc3", "\xc3\x28", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                            "\xf8\x88\x80\x80\x80", "\x80", "a\xe2\x82"})
        EXPECT_FALSE(valid_utf8(bad)) << bad;
}

TEST(core_jwt, topic_patterns) {
    EXPECT_TRUE(topic_matches("*", "anything.at_all"));
    EXPECT_TRUE(topic_matches("public.*", "public.orders"));
    EXPECT_FALSE(topic_matches("public.*", "private.orders"));
    EXPECT_TRUE(topic_matches("public.orders", "public.orders"));
    EXPECT_FALSE(topic_matches("public.orders", "public.orders2"));
}

// ------------------------------------------------------------------ snapshots

TEST(core_snapshot, parse_and_visibility) {
    auto s = pg_snapshot::parse("10:20:14,12");
    EXPECT_EQ(s.xmin, 10u);
    EXPECT_EQ(s.xmax, 20u);
    EXPECT_TRUE(s.visible(9));    // committed before xmin
    EXPECT_TRUE(s.visible(11));   // between, not in progress
    EXPECT_FALSE(s.visible(12));  // in progress
    EXPECT_FALSE(s.visible(14));
    EXPECT_FALSE(s.visible(20));  // at or past xmax
    EXPECT_TRUE(pg_snapshot::parse("5:5:").visible(4));
    for (const char* bad : {"", "10", "10:", "a:b:", "10:20:x", "10:20:1,,2"})
        EXPECT_THROW(pg_snapshot::parse(bad), std::invalid_argument) << bad;
}

}  // namespace
}  // namespace pglive

// Issue 12: back-pressure from the hub to the listener. The producer waits at the bound until
// the consumer takes something, and stop() releases a waiting producer without handing over.
namespace pglive {
TEST(BacklogGate, the_producer_waits_at_the_bound_until_the_consumer_takes) {
    backlog_gate g(10);
    EXPECT_TRUE(g.enter(6));
    EXPECT_TRUE(g.enter(6));  // 6 < 10 outstanding: admitted, now 12
    std::atomic<bool> entered{false};
    std::thread producer([&] { entered = g.enter(3); });
    // It must still be waiting after the consumer took too little to go below the bound.
    g.leave(2);  // 10 outstanding: not below the bound
    EXPECT_FALSE(entered.load());
    EXPECT_EQ(g.outstanding(), 10u);
    g.leave(5);  // 5: below it
    producer.join();
    EXPECT_TRUE(entered.load());
    EXPECT_EQ(g.outstanding(), 8u);
}

TEST(BacklogGate, stop_releases_a_waiting_producer_without_handing_over) {
    backlog_gate g(1);
    EXPECT_TRUE(g.enter(1));
    std::atomic<int> result{-1};
    std::thread producer([&] { result = g.enter(1) ? 1 : 0; });
    g.stop();
    producer.join();
    EXPECT_EQ(result.load(), 0);
    EXPECT_FALSE(g.enter(1));
}
}  // namespace pglive

// The stage timings count a span only when both ends are known: a transaction that reached the
// hub without a listener's stamp (0) is not a zero-millisecond stage.
namespace pglive {
TEST(LatencyHistogram, a_span_with_an_unknown_end_is_not_counted_and_buckets_sum_to_the_count) {
    latency_histogram h;
    h.observe_span(1000, 0);
    h.observe_span(0, 5000);
    EXPECT_EQ(h.count(), 0u);
    h.observe_span(1000, 1250);  // 250 µs: the 250 µs bucket
    h.observe_us(-5);            // clocks a little apart: 0
    h.observe_us(20000000);      // past the last bound: +Inf
    EXPECT_EQ(h.count(), 3u);
    EXPECT_EQ(h.bucket(0), 1u);
    EXPECT_EQ(h.bucket(1), 1u);
    EXPECT_EQ(h.bucket(latency_histogram::buckets - 1), 1u);
    EXPECT_EQ(h.sum_us(), 250u + 20000000u);
}
}  // namespace pglive
