// values_e2e_test.cpp — values on the wire are exact (PROTOCOL §4): the real `pglive` binary on a
// real PostgreSQL whose sessions default to Asia/Kolkata, checked byte for byte in snapshots,
// patches and REST bodies, with filters and orders on bigint, numeric and float8 extremes.
#include <gtest/gtest.h>

#include <set>

#include "capture/admin.h"
#include "capture/db.h"
#include "core/exact_json.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_db.h"
#include "support/ws_client.h"

namespace pglive {
namespace {

using namespace std::chrono_literals;

// Its own cluster: every session (pglive's loader too) starts in Asia/Kolkata.
test::test_db& vdb() {
    static test::test_db d({"fsync=off", "timezone=Asia/Kolkata"});
    return d;
}

const std::string tiny = "0." + std::string(129, '0') + "1";  // 1e-130::numeric as to_jsonb writes it
const std::string huge = "1" + std::string(400, '0');          // 1e400: beyond double's range

// Subscribes and returns the snapshot frame's text (after checking `subscribed`).
std::string subscribe(test::ws_client& ws, const json& req) {
    ws.send(req);
    auto first = ws.read(10s);
    EXPECT_TRUE(first && (*first)["type"] == "subscribed") << (first ? first->dump() : "nothing");
    auto until = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < until) {
        auto t = ws.read_text(1s);
        if (t && t->find("\"type\":\"snapshot\"") != std::string::npos) return *t;
    }
    ADD_FAILURE() << "no snapshot for " << req.dump();
    return "";
}

// The next patch frame's text (nullopt at the deadline).
std::optional<std::string> next_patch(test::ws_client& ws, std::chrono::milliseconds within = 20s) {
    auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
        auto t = ws.read_text(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
        if (t && t->find("\"type\":\"patch\"") != std::string::npos) return t;
        if (ws.closed()) break;
    }
    return std::nullopt;
}

std::set<std::string> keys_of(const json& rows) {
    std::set<std::string> out;
    for (auto& [k, _] : rows.items()) out.insert(k);
    return out;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(values_e2e, extreme_values_arrive_exact_in_snapshots_patches_and_rest_and_filter_exactly) {
    auto& db = vdb();
    db.sql("CREATE TABLE public.v (id bigint PRIMARY KEY, n numeric, f float8, r real, at timestamptz, d date, doc jsonb);"
           "SELECT pglive.attach('public.v');"
           "CREATE TABLE public.other (id int PRIMARY KEY, x int); SELECT pglive.attach('public.other');");
    db.sql("SET timezone = 'Asia/Kolkata';"
           "INSERT INTO public.v VALUES"
           " (9223372036854775807, 123456789.123456789, 'NaN', 0.1, '2026-12-02 12:00:00+00', '2026-12-02', null),"
           " (-9223372036854775808, 12345678901234567891.5, 'Infinity', 3.4e38, '0044-03-15 10:00:00+00 BC', '0044-03-15 BC', 'null'),"
           " (4611686018427387915, 1e-130, '-Infinity', -0.5, 'infinity', 'infinity', '{\"a\": 1.50}'),"
           " (4611686018427387914, 1e400, 1e300, 1, '-infinity', '-infinity', '[12345678901234567890123]'),"
           " (9007199254740993, 123456789012345678901234567890.123456789, 5e-324, 2, '2026-12-02 17:30:00.123456+05:30', null, null),"
           " (9007199254740992, 'NaN', 0.1, 3, '2026-12-02 12:00:00.5+00', null, null)");
    auto s = test::start_serve(db.conninfo(), {"--anonymous-topics", "*"});

    // Snapshot bytes: every digit, UTC timestamps, NaN/±Infinity as strings.
    test::ws_client all("127.0.0.1", s.port, "/ws");
    std::string snap = subscribe(all, {{"op", "subscribe"}, {"ref", "1"}, {"topic", "public.v"}, {"sub", "all"}});
    for (std::string part :
         {std::string(R"("9223372036854775807":{"at":"2026-12-02T12:00:00+00:00","d":"2026-12-02","doc":null,"f":"NaN","id":9223372036854775807,"n":123456789.123456789,"r":0.1})"),
          std::string(R"("-9223372036854775808":{"at":"0044-03-15T10:00:00+00:00 BC","d":"0044-03-15 BC","doc":null,"f":"Infinity","id":-9223372036854775808,"n":12345678901234567891.5,"r":340000000000000000000000000000000000000})"),
          std::string(R"("n":)") + tiny + ",", std::string(R"("n":)") + huge + ",",
          std::string(R"("doc":{"a":1.50})"), std::string(R"("doc":[12345678901234567890123])"),
          std::string(R"("f":"-Infinity")"), std::string(R"("f":1)") + std::string(300, '0') + ",",
          std::string(R"("at":"2026-12-02T12:00:00.123456+00:00")"),
          std::string(R"("n":123456789012345678901234567890.123456789)"), std::string(R"("at":"infinity")")})
        EXPECT_TRUE(has(snap, part)) << part << "\nnot in " << snap.substr(0, 3000);
    EXPECT_FALSE(has(snap, "+05:30")) << snap;

    // Filters: integers beyond 2^53 compare exactly.
    test::ws_client gt("127.0.0.1", s.port, "/ws");
    json gt_snap = parse_exact(subscribe(gt, {{"op", "subscribe"}, {"topic", "public.v"}, {"filter", {"id=gt.4611686018427387914"}}}));
    EXPECT_EQ(keys_of(gt_snap["rows"]), (std::set<std::string>{"4611686018427387915", "9223372036854775807"}));
    test::ws_client eq("127.0.0.1", s.port, "/ws");
    json eq_snap = parse_exact(subscribe(eq, {{"op", "subscribe"}, {"topic", "public.v"}, {"filter", {"id=eq.9007199254740993"}}}));
    EXPECT_EQ(keys_of(eq_snap["rows"]), (std::set<std::string>{"9007199254740993"}));
    test::ws_client nan("127.0.0.1", s.port, "/ws");
    json nan_snap = parse_exact(subscribe(nan, {{"op", "subscribe"}, {"topic", "public.v"}, {"filter", {"f=in.(1,NaN)"}}}));
    EXPECT_EQ(keys_of(nan_snap["rows"]), (std::set<std::string>{"9223372036854775807"}));
    // An order window: -Infinity first, then the smallest number (5e-324 < 0.1 < 1e300 < Infinity < NaN).
    test::ws_client win("127.0.0.1", s.port, "/ws");
    json win_snap = parse_exact(subscribe(win, {{"op", "subscribe"}, {"topic", "public.v"}, {"order", "f.asc"}, {"limit", 2}}));
    EXPECT_EQ(keys_of(win_snap["rows"]), (std::set<std::string>{"4611686018427387915", "9007199254740993"}));
    test::ws_client desc("127.0.0.1", s.port, "/ws");
    json desc_snap = parse_exact(subscribe(desc, {{"op", "subscribe"}, {"topic", "public.v"}, {"order", "f.desc"}, {"limit", 2}}));
    EXPECT_EQ(keys_of(desc_snap["rows"]), (std::set<std::string>{"9223372036854775807", "-9223372036854775808"}));
    // A value that is not the column's type is refused, naming filter, column and type.
    test::ws_client bad("127.0.0.1", s.port, "/ws");
    bad.send({{"op", "subscribe"}, {"ref", "b"}, {"topic", "public.v"}, {"filter", {"id=gt.4.5"}}});
    auto refusal = bad.read(10s);
    ASSERT_TRUE(refusal);
    EXPECT_EQ((*refusal)["code"], "bad_filter") << refusal->dump();
    EXPECT_TRUE(has((*refusal)["message"].get<std::string>(), "an integer for column id (bigint)")) << refusal->dump();

    // Patches, written from a Kolkata session: the …992 update first (the eq.…993 view must not see it).
    db.sql("SET timezone = 'Asia/Kolkata'; UPDATE public.v SET n = 1 WHERE id = 9007199254740992");
    db.sql("SET timezone = 'Asia/Kolkata';"
           "INSERT INTO public.v VALUES (9223372036854775806, 98765432109876543210.123456789012345678, '-Infinity', 0.25,"
           " '2026-12-02 18:00:00+05:30', '2026-12-03', '{\"big\": 1e400}');"
           "UPDATE public.v SET n = 1e-130, at = '2026-12-02 23:59:59.999999+05:30' WHERE id = 9007199254740993");
    auto p = next_patch(gt);
    ASSERT_TRUE(p) << "no patch for the id=gt view";
    EXPECT_TRUE(has(*p, R"({"op":"add","path":"/9223372036854775806","value":{"at":"2026-12-02T12:30:00+00:00","d":"2026-12-03","doc":{"big":)" +
                            huge + R"(},"f":"-Infinity","id":9223372036854775806,"n":98765432109876543210.123456789012345678,"r":0.25}})"))
        << *p;
    auto q = next_patch(eq);
    ASSERT_TRUE(q) << "no patch for the id=eq view";
    EXPECT_FALSE(has(*q, "9007199254740992")) << *q;
    EXPECT_TRUE(has(*q, R"({"op":"replace","path":"/9007199254740993/at","value":"2026-12-02T18:29:59.999999+00:00"})")) << *q;
    EXPECT_TRUE(has(*q, R"({"op":"replace","path":"/9007199254740993/n","value":)" + tiny + "}")) << *q;
    EXPECT_FALSE(has(*q, "9223372036854775806")) << *q;
    auto a = next_patch(all);  // the …992 update, then the insert + update
    ASSERT_TRUE(a);
    EXPECT_TRUE(has(*a, R"({"op":"replace","path":"/9007199254740992/n","value":1})")) << *a;

    // REST: the same bytes, filtered exactly.
    auto rest = test::http_get("127.0.0.1", s.port, "/api/topics/public.v/rows?filter=id%3Deq.9223372036854775806");
    EXPECT_EQ(rest.status, 200) << rest.body;
    EXPECT_TRUE(has(rest.body, R"("n":98765432109876543210.123456789012345678)")) << rest.body;
    EXPECT_EQ(keys_of(parse_exact(rest.body)["rows"]), (std::set<std::string>{"9223372036854775806"}));

    // Capture goes on for every topic (a 1e400 numeric used to stall the listener), and
    // /healthz shows no row value.
    test::ws_client other("127.0.0.1", s.port, "/ws");
    subscribe(other, {{"op", "subscribe"}, {"topic", "public.other"}});
    db.sql("INSERT INTO public.other VALUES (1, 2)");
    auto o = next_patch(other);
    ASSERT_TRUE(o);
    EXPECT_TRUE(has(*o, R"({"op":"add","path":"/1","value":{"id":1,"x":2}})")) << *o;
    auto health = test::http_get("127.0.0.1", s.port, "/healthz");
    EXPECT_EQ(health.status, 200) << health.body;
    EXPECT_FALSE(has(health.body, "12345678901234567891")) << health.body;
}


// SQL NULL and JSON null in json/jsonb columns (PROTOCOL §4): both arrive as null, but `is.null`
// matches only SQL NULL and `eq.null` only the JSON null, in snapshots, patches, REST and resume,
// as `IS NULL` and `= 'null'` do in PostgreSQL.
TEST(values_e2e, sql_null_and_json_null_differ_in_json_and_jsonb_columns) {
    auto& db = vdb();
    db.sql("CREATE DOMAIN public.doc_t AS jsonb;"
           "CREATE TABLE public.jn (id int PRIMARY KEY, doc jsonb, raw json, d public.doc_t, note text);"
           "SELECT pglive.attach('public.jn');"
           "INSERT INTO public.jn VALUES (1, null, null, null, null), (2, 'null', 'null', 'null', 'x'),"
           " (3, '{\"a\": null}', '[null]', '1', null)");
    auto s = test::start_serve(db.conninfo(), {"--anonymous-topics", "*"});
    auto keys = [&](const std::vector<std::string>& filter) {
        test::ws_client ws("127.0.0.1", s.port, "/ws");
        return keys_of(parse_exact(subscribe(ws, {{"op", "subscribe"}, {"topic", "public.jn"}, {"filter", filter}}))["rows"]);
    };
    EXPECT_EQ(keys({"doc=is.null"}), (std::set<std::string>{"1"}));
    EXPECT_EQ(keys({"raw=is.null"}), (std::set<std::string>{"1"}));
    EXPECT_EQ(keys({"d=is.null"}), (std::set<std::string>{"1"}));
    EXPECT_EQ(keys({"doc=eq.null"}), (std::set<std::string>{"2"}));
    EXPECT_EQ(keys({"note=is.null"}), (std::set<std::string>{"1", "3"}));
    test::ws_client all("127.0.0.1", s.port, "/ws");
    std::string snap = subscribe(all, {{"op", "subscribe"}, {"topic", "public.jn"}, {"sub", "all"}});
    EXPECT_TRUE(has(snap, R"("1":{"d":null,"doc":null,"id":1,"note":null,"raw":null})")) << snap;
    EXPECT_TRUE(has(snap, R"("2":{"d":null,"doc":null,"id":2,"note":"x","raw":null})")) << snap;

    // Patches: 4 (JSON null) stays out of the is.null view, 5 (SQL NULL) comes in, 2 moves in, 1 out.
    test::ws_client nulls("127.0.0.1", s.port, "/ws");
    subscribe(nulls, {{"op", "subscribe"}, {"topic", "public.jn"}, {"filter", {"doc=is.null"}}});
    db.sql("BEGIN; INSERT INTO public.jn VALUES (4, 'null', 'null', 'null', null), (5, null, '{}', null, null);"
           "UPDATE public.jn SET doc = null WHERE id = 2; UPDATE public.jn SET doc = 'null' WHERE id = 1; COMMIT");
    auto p = next_patch(nulls);
    ASSERT_TRUE(p) << "no patch for the is.null view";
    EXPECT_TRUE(has(*p, R"({"op":"add","path":"/5","value":{"d":null,"doc":null,"id":5,"note":null,"raw":{}}})")) << *p;
    EXPECT_TRUE(has(*p, R"("path":"/2")")) << *p;
    EXPECT_TRUE(has(*p, R"({"op":"remove","path":"/1"})")) << *p;
    EXPECT_FALSE(has(*p, R"("/4")")) << *p;
    auto a = next_patch(all);
    ASSERT_TRUE(a);
    int64_t before = parse_exact(*a)["pos"].is_string() ? std::stoll(parse_exact(*a)["pos"].get<std::string>()) : 0;

    // REST rows, and a resume from before that transaction (from memory) give the same answer.
    auto rest = test::http_get("127.0.0.1", s.port, "/api/topics/public.jn/rows?filter=doc%3Dis.null");
    EXPECT_EQ(rest.status, 200) << rest.body;
    EXPECT_EQ(keys_of(parse_exact(rest.body)["rows"]), (std::set<std::string>{"2", "5"})) << rest.body;
    ASSERT_GT(before, 0);
    test::ws_client resumed("127.0.0.1", s.port, "/ws");
    resumed.send({{"op", "subscribe"}, {"topic", "public.jn"}, {"filter", {"doc=is.null"}}, {"since", std::to_string(before - 1)}});
    auto r = next_patch(resumed);
    ASSERT_TRUE(r) << "no patch on resume";
    EXPECT_TRUE(has(*r, R"({"op":"add","path":"/5")")) << *r;
    EXPECT_FALSE(has(*r, R"("/4")")) << *r;
}

// A SQL_ASCII database lets a row hold bytes that are not UTF-8: a change pglive cannot decode.
// It must not stall capture: that topic's subscribers are told, other topics flow, the log and
// /healthz never show the value, and the metric counts it.
TEST(values_e2e, an_undecodable_change_is_skipped_reported_and_never_stalls_other_topics) {
    auto& db = vdb();
    {
        auto c = open_connection(db.conninfo(), "test");
        pqxx::nontransaction n(*c);
        n.exec("DROP DATABASE IF EXISTS vascii");
        n.exec("CREATE DATABASE vascii ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
    }
    auto conn = open_connection(db.conninfo("vascii"), "test");
    install_schema(*conn);
    auto exec = [&](const std::string& text) {
        pqxx::work w(*conn);
        w.exec(text);
        w.commit();
    };
    exec("CREATE TABLE public.bad (id int PRIMARY KEY, t text); CREATE TABLE public.good (id int PRIMARY KEY, t text);"
         "SELECT pglive.attach('public.bad'); SELECT pglive.attach('public.good');");
    auto s = test::start_serve(db.conninfo("vascii"), {"--anonymous-topics", "*"});
    test::ws_client bad("127.0.0.1", s.port, "/ws"), good("127.0.0.1", s.port, "/ws");
    subscribe(bad, {{"op", "subscribe"}, {"topic", "public.bad"}});
    subscribe(good, {{"op", "subscribe"}, {"topic", "public.good"}});

    exec("INSERT INTO public.bad VALUES (1, 'secret-value-\xff')");
    exec("INSERT INTO public.good VALUES (1, 'fine')");
    auto err = bad.read_until([](const json& m) { return m["type"] == "error"; }, 20s);
    ASSERT_TRUE(err) << "no error for the undecodable change";
    EXPECT_EQ((*err)["code"], "undecodable_change") << err->dump();
    EXPECT_TRUE(has((*err)["message"].get<std::string>(), "public.bad at position")) << err->dump();
    auto p = next_patch(good);
    ASSERT_TRUE(p) << "capture stalled behind the undecodable change";
    EXPECT_TRUE(has(*p, R"({"op":"add","path":"/1","value":{"id":1,"t":"fine"}})")) << *p;
    exec("INSERT INTO public.good VALUES (2, 'still')");
    ASSERT_TRUE(next_patch(good)) << "capture stalled";

    std::string metrics;  // refreshed from the hub once a second
    EXPECT_TRUE(test::eventually([&] {
        metrics = test::http_get("127.0.0.1", s.port, "/metrics").body;
        return has(metrics, "pglive_undecodable_changes_total 1");
    }, 10s)) << metrics;
    auto health = test::http_get("127.0.0.1", s.port, "/healthz");
    EXPECT_EQ(health.status, 200) << health.body;
    EXPECT_FALSE(has(health.body, "secret-value")) << health.body;
    EXPECT_TRUE(test::eventually([&] { return has(s.proc->output(), "skipped a change of public.bad at position"); }, 10s))
        << s.proc->output();
    EXPECT_FALSE(has(s.proc->output(), "secret-value")) << s.proc->output();
}

}  // namespace
}  // namespace pglive
