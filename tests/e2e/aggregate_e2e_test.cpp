// aggregate_e2e_test.cpp — live aggregates (PROTOCOL §5) from the real `pglive` binary on a real PostgreSQL: after every transaction each view equals SELECT … GROUP BY, on WebSocket, SSE, long-poll and REST, exactly.
#include <gtest/gtest.h>

#include <random>

#include "capture/db.h"
#include "core/exact_json.h"
#include "core/key.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_db.h"
#include "support/ws_client.h"

namespace pglive {
namespace {

using namespace std::chrono_literals;

test::test_db& adb() {
    static test::test_db d;
    return d;
}

// The first column of the first row as exact JSON (numbers keep PostgreSQL's literal).
json exact_query(const std::string& q) {
    auto conn = open_connection(adb().conninfo(), "test");
    pqxx::work w(*conn);
    auto r = w.exec(q);
    return parse_exact(r[0][0].c_str());
}

// GROUP BY `group` of `from_where` with the aggregate `fields` (name → SQL), keyed by the
// protocol's group-key rules; no group: the single entry "*".
json group_by(const std::vector<std::string>& group, const std::vector<std::pair<std::string, std::string>>& fields,
              const std::string& from_where, const std::string& order_limit = "") {
    std::string obj;
    for (auto& g : group) obj += (obj.empty() ? "" : ", ") + std::string("'") + g + "', " + g;
    for (auto& [name, expr] : fields) obj += (obj.empty() ? "" : ", ") + std::string("'") + name + "', " + expr;
    std::string by;
    for (auto& g : group) by += (by.empty() ? "" : ", ") + g;
    std::string q = "SELECT coalesce(jsonb_agg(e ORDER BY n), '[]')::text FROM (SELECT jsonb_build_object(" + obj +
                    ") e, row_number() over () n FROM " + from_where + (by.empty() ? "" : " GROUP BY " + by) + " " +
                    order_limit + ") x";
    json entries = exact_query(q);
    json out = json::object();
    for (auto& e : entries) out[group.empty() ? "*" : row_key(e, group)] = e;
    return out;
}

// One subscription's state from what the server sent (parsed exactly).
struct exact_view {
    json state;
    int64_t pos = -1;
    int snapshots = 0, patches = 0;
    std::vector<int64_t> positions;
    void take(const json& m) {
        if (m["type"] == "snapshot") {
            state = m["rows"];
            ++snapshots;
        } else if (m["type"] == "patch") {
            state = state.patch(m["patch"]);
            ++patches;
        } else {
            return;
        }
        pos = std::stoll(m["pos"].get<std::string>());
        positions.push_back(pos);
    }
};

// Reads frames into the views by `sub` until pred holds or the deadline passes.
bool pump(test::ws_client& ws, std::map<std::string, exact_view>& views, const std::function<bool()>& pred,
          std::chrono::milliseconds deadline = 10s) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (!pred()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        auto t = ws.read_text(std::min(left, 200ms));
        if (!t) continue;
        json m = parse_exact(*t);
        if (m.contains("sub")) views[m["sub"].get<std::string>()].take(m);
    }
    return true;
}

struct aggregate_e2e : ::testing::Test {
    static void SetUpTestSuite() { adb(); }
};

const std::vector<std::pair<std::string, std::string>> by_status_fields = {
    {"count", "count(*)"},          {"count:amount", "count(amount)"}, {"sum:amount", "sum(amount)"},
    {"avg:amount", "avg(amount)"},  {"min:amount", "min(amount)"},     {"max:amount", "max(amount)"},
    {"sum:n", "sum(n)"},            {"avg:n", "avg(n)"},               {"max:label", "max(label)"}};

// A numeric literal whose last digit is not 0, so equal values are equal literals (min/max
// among equal values of different scales is unspecified, in PostgreSQL as in pglive).
std::string amount(std::mt19937_64& rng) {
    int scale = int(rng() % 4);
    int64_t whole = int64_t(rng() % 2000) - 300;
    std::string s = std::to_string(whole);
    if (scale) {
        std::string frac;
        for (int i = 0; i < scale - 1; ++i) frac += char('0' + rng() % 10);
        frac += char('1' + rng() % 9);
        if (whole == 0 && rng() % 2) s = "-0";
        s += "." + frac;
    }
    return s;
}

TEST_F(aggregate_e2e, websocket_aggregates_equal_group_by_after_every_transaction) {
    adb().sql("CREATE TABLE public.agg_orders (id int PRIMARY KEY, status text, amount numeric, n bigint, label text);"
              "SELECT pglive.attach('public.agg_orders');");
    auto s = test::start_serve(adb().serve_conninfo(), {"--anonymous-topics", "*"});
    test::ws_client ws("127.0.0.1", s.port);
    const std::string T = "public.agg_orders";
    std::vector<std::string> aggs;
    for (auto& [name, _] : by_status_fields) aggs.push_back(name);
    ws.send(json{{"op", "subscribe"}, {"ref", "g"}, {"topic", T}, {"sub", "by-status"}, {"filter", {"amount=gt.0"}},
                 {"group", {"status"}}, {"aggregate", aggs}});
    ws.send(json{{"op", "subscribe"}, {"ref", "t"}, {"topic", T}, {"sub", "total"}, {"aggregate", {"count", "sum:n", "avg:amount"}}});
    ws.send(json{{"op", "subscribe"}, {"ref", "w"}, {"topic", T}, {"sub", "top"}, {"group", "status"},
                 {"aggregate", {"count", "sum:amount"}}, {"order", "count.desc"}, {"limit", 2}});
    auto first = ws.read(10s);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ((*first)["type"], "subscribed") << first->dump();
    EXPECT_EQ((*first)["key"], json({"status"}));
    EXPECT_EQ((*first)["columns"][0], "status");
    EXPECT_EQ((*first)["columns"][1], "count");

    std::map<std::string, exact_view> views;
    auto expected = [&](const std::string& sub) {
        if (sub == "by-status") return group_by({"status"}, by_status_fields, T + " WHERE amount > 0");
        if (sub == "total")
            return group_by({}, {{"count", "count(*)"}, {"sum:n", "sum(n)"}, {"avg:amount", "avg(amount)"}}, T);
        // Ties by group key in byte order: status COLLATE "C" ("null" for NULL, as its key).
        return group_by({"status"}, {{"count", "count(*)"}, {"sum:amount", "sum(amount)"}}, T,
                        "ORDER BY count(*) DESC, coalesce(status, 'null') COLLATE \"C\" LIMIT 2");
    };
    auto all_equal = [&] {
        for (const char* sub : {"by-status", "total", "top"})
            if (views[sub].state != expected(sub)) return false;
        return true;
    };
    ASSERT_TRUE(pump(ws, views, [&] { return views.size() == 3 && views["top"].snapshots && views["total"].snapshots &&
                                             views["by-status"].snapshots; }));
    EXPECT_EQ(dump_exact(views["total"].state), R"({"*":{"avg:amount":null,"count":0,"sum:n":null}})");

    std::vector<std::pair<int64_t, json>> at_step;  // (position, the by-status state there)
    std::mt19937_64 rng(14);
    std::vector<int> ids;
    int next_id = 1;
    const char* statuses[] = {"'open'", "'late'", "'done'", "'held'", "NULL"};
    for (int step = 0; step < 45; ++step) {
        std::string tx = "BEGIN;";
        int ops = 1 + int(rng() % 3);
        for (int i = 0; i < ops; ++i) {
            int what = int(rng() % 10);
            if (ids.empty() || what < 4) {
                int id = next_id++;
                ids.push_back(id);
                // n near 2^62: two of them pass bigint's range, as sum(bigint) (numeric) allows.
                std::string n = rng() % 3 ? std::to_string(4611686018427387904LL + int64_t(rng() % 1000)) : "NULL";
                tx += "INSERT INTO " + T + " VALUES (" + std::to_string(id) + ", " + statuses[rng() % 5] + ", " +
                      (rng() % 8 ? amount(rng) : "NULL") + ", " + n + ", " + (rng() % 4 ? "'l" + std::to_string(rng() % 50) + "'" : "NULL") + ");";
            } else if (what < 7) {
                int id = ids[rng() % ids.size()];
                tx += "UPDATE " + T + " SET status = " + statuses[rng() % 5] + ", amount = " + amount(rng) +
                      " WHERE id = " + std::to_string(id) + ";";
            } else if (what == 7) {  // the current extreme leaves
                tx += "DELETE FROM " + T + " WHERE id = (SELECT id FROM " + T +
                      " WHERE amount > 0 ORDER BY amount DESC LIMIT 1);";
            } else {
                size_t at = rng() % ids.size();
                tx += "DELETE FROM " + T + " WHERE id = " + std::to_string(ids[at]) + ";";
                ids.erase(ids.begin() + long(at));
            }
        }
        if (step == 30) tx += "TRUNCATE " + T + ";";
        adb().sql(tx + "COMMIT;");
        int64_t settled = adb().settled_position();
        ASSERT_TRUE(pump(ws, views, all_equal)) << "step " << step << ": " << tx << "\nby-status "
                                                << dump_exact(views["by-status"].state) << "\nexpected "
                                                << dump_exact(expected("by-status")) << "\ntop " << dump_exact(views["top"].state)
                                                << "\nexpected " << dump_exact(expected("top")) << "\ntotal "
                                                << dump_exact(views["total"].state);
        at_step.emplace_back(settled, views["by-status"].state);
    }
    for (auto& [sub, v] : views) {
        EXPECT_EQ(v.snapshots, 1) << sub;
        EXPECT_TRUE(test::strictly_increasing(v.positions)) << sub;
        EXPECT_GT(v.patches, 5) << sub;
    }

    // Resume: `since` a position in memory gets patches only (the state at `since` rolled back
    // in the hub), which move the state the client had at `since` to PostgreSQL's answer now.
    auto [since, state_then] = at_step[20];
    adb().sql("INSERT INTO " + T + " VALUES (1000, 'open', 5.5, 1, 'z')");
    test::ws_client ws2("127.0.0.1", s.port);
    ws2.send(json{{"op", "subscribe"}, {"topic", T}, {"sub", "by-status"}, {"filter", {"amount=gt.0"}},
                  {"group", {"status"}}, {"aggregate", aggs}, {"since", std::to_string(since)}});
    std::map<std::string, exact_view> resumed;
    resumed["by-status"].state = state_then;
    ASSERT_TRUE(pump(ws2, resumed, [&] { return resumed["by-status"].state == expected("by-status"); }))
        << dump_exact(resumed["by-status"].state);
    EXPECT_EQ(resumed["by-status"].snapshots, 0);
    EXPECT_GT(resumed["by-status"].patches, 1);
    EXPECT_GT(resumed["by-status"].positions.front(), since);
    EXPECT_TRUE(test::strictly_increasing(resumed["by-status"].positions));
}

TEST_F(aggregate_e2e, bad_aggregate_requests_are_refused_naming_the_field) {
    adb().sql("CREATE TABLE public.agg_secret (id int PRIMARY KEY, status text, amount numeric, secret text);");
    test::process attach({PGLIVE_BINARY, "attach", "public.agg_secret", "--exclude", "secret", "--db", adb().conninfo()});
    ASSERT_EQ(attach.wait_exit(60s).value_or(-1), 0) << attach.output();
    auto s = test::start_serve(adb().serve_conninfo(), {"--anonymous-topics", "*"});
    test::ws_client ws("127.0.0.1", s.port);
    auto refusal = [&](json req) {
        req["op"] = "subscribe";
        req["topic"] = "public.agg_secret";
        ws.send(req);
        auto m = ws.read(10s);
        return m ? *m : json();
    };
    json e = refusal({{"group", {"secret"}}, {"aggregate", {"count"}}});
    EXPECT_EQ(e["code"], "bad_filter") << e.dump();
    EXPECT_NE(e["message"].get<std::string>().find("group 'secret'"), std::string::npos) << e.dump();
    e = refusal({{"aggregate", {"median:amount"}}});
    EXPECT_EQ(e["code"], "bad_filter");
    EXPECT_NE(e["message"].get<std::string>().find("unknown function 'median'"), std::string::npos) << e.dump();
    e = refusal({{"aggregate", {"sum:status"}}});
    EXPECT_NE(e["message"].get<std::string>().find("sum needs a numeric column; status is text"), std::string::npos) << e.dump();
    e = refusal({{"aggregate", {"sum:nope"}}});
    EXPECT_NE(e["message"].get<std::string>().find("no column 'nope'"), std::string::npos) << e.dump();
    e = refusal({{"group", {"status"}}, {"aggregate", {"count"}}, {"order", "amount.desc"}});
    EXPECT_NE(e["message"].get<std::string>().find("neither a group column nor an aggregate"), std::string::npos) << e.dump();
    e = refusal({{"aggregate", {"count", 5}}});
    EXPECT_EQ(e["code"], "bad_request") << e.dump();
    EXPECT_NE(e["message"].get<std::string>().find("'aggregate'"), std::string::npos) << e.dump();
    // The same over HTTP: a 400 naming the field.
    auto r = test::http_get("127.0.0.1", s.port, "/api/topics/public.agg_secret/rows?aggregate=sum:status");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("sum needs a numeric column"), std::string::npos) << r.body;
    test::sse_client sse("127.0.0.1", s.port, "/sse?topic=public.agg_secret&group=secret&aggregate=count");
    EXPECT_EQ(sse.status(), 400) << sse.error_body();
}

// Sums and averages exactly as PostgreSQL's: bigint near 2^63, numeric with many digits, mixed scales.
TEST_F(aggregate_e2e, sums_and_averages_match_postgresql_exactly) {
    adb().sql("CREATE TABLE public.agg_exact (id int PRIMARY KEY, g int, b bigint, x numeric, i int, f float8);"
              "INSERT INTO public.agg_exact VALUES"
              " (1, 1, 9223372036854775807, 123456789012345678901234567890.123456789, 7, 0.1),"
              " (2, 1, 9223372036854775806, 0.000000000000000000001, 2, 0.2),"
              " (3, 1, -9223372036854775808, -5, -3, 1e300),"
              " (4, 2, 1, 1.5, 1, NULL), (5, 2, 2, 2.25, 2, 2.5),"
              " (6, 3, 3, 1e-40, 0, 1), (7, 3, 0, 0, 0, 2), (8, 3, 0, 0, 0, 3),"
              " (9, 4, NULL, NULL, NULL, NULL),"
              " (10, 5, 7, 7, 7, 0), (11, 5, -7, -7, -7, 0);"
              "SELECT pglive.attach('public.agg_exact');");
    auto s = test::start_serve(adb().serve_conninfo(), {"--anonymous-topics", "*"});
    const std::vector<std::pair<std::string, std::string>> fields = {
        {"sum:b", "sum(b)"}, {"avg:b", "avg(b)"}, {"sum:x", "sum(x)"}, {"avg:x", "avg(x)"},
        {"sum:i", "sum(i)"}, {"avg:i", "avg(i)"}, {"count:b", "count(b)"},
        // float8: summed as the values' wire literals read as numeric (PROTOCOL §5).
        {"sum:f", "sum(f::text::numeric)"}, {"avg:f", "avg(f::text::numeric)"}};
    json want = group_by({"g"}, fields, "public.agg_exact");
    std::string q = "/api/topics/public.agg_exact/rows?group=g";
    for (auto& [name, _] : fields) q += "&aggregate=" + name;
    auto r = test::http_get("127.0.0.1", s.port, q);
    ASSERT_EQ(r.status, 200) << r.body;
    json got = parse_exact(r.body)["rows"];
    EXPECT_EQ(dump_exact(got), dump_exact(want));
    // And live: a change to each group moves the WebSocket view to PostgreSQL's answer again.
    test::ws_client ws("127.0.0.1", s.port);
    std::vector<std::string> aggs;
    for (auto& [name, _] : fields) aggs.push_back(name);
    ws.send(json{{"op", "subscribe"}, {"topic", "public.agg_exact"}, {"sub", "x"}, {"group", {"g"}}, {"aggregate", aggs}});
    std::map<std::string, exact_view> views;
    ASSERT_TRUE(pump(ws, views, [&] { return views["x"].snapshots == 1; }));
    EXPECT_EQ(dump_exact(views["x"].state), dump_exact(want));
    adb().sql("BEGIN; DELETE FROM public.agg_exact WHERE id = 1; UPDATE public.agg_exact SET x = 3.125, g = 1 WHERE id = 4;"
              "UPDATE public.agg_exact SET b = 9223372036854775807 WHERE id = 9; COMMIT;");
    want = group_by({"g"}, fields, "public.agg_exact");
    EXPECT_TRUE(pump(ws, views, [&] { return views["x"].state == want; }))
        << dump_exact(views["x"].state) << "\n" << dump_exact(want);
}

TEST_F(aggregate_e2e, sse_long_poll_and_rest_serve_the_same_aggregates) {
    const std::string T = "public.agg_http";
    adb().sql("CREATE TABLE public.agg_http (id int PRIMARY KEY, status text, amount numeric);"
              "INSERT INTO public.agg_http VALUES (1, 'open', 10.5), (2, 'open', 1), (3, 'late', 7), (4, NULL, 2);"
              "SELECT pglive.attach('public.agg_http');");
    auto s = test::start_serve(adb().serve_conninfo(), {"--anonymous-topics", "*"});
    const std::vector<std::pair<std::string, std::string>> fields = {{"count", "count(*)"}, {"sum:amount", "sum(amount)"}};
    auto want = [&] { return group_by({"status"}, fields, T); };
    const std::string params = "group=status&aggregate=count&aggregate=sum:amount";

    // REST rows: keyed, and as a list in the order asked for.
    auto r = test::http_get("127.0.0.1", s.port, "/api/topics/" + T + "/rows?" + params);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(parse_exact(r.body)["rows"], want());
    r = test::http_get("127.0.0.1", s.port, "/api/topics/" + T + "/rows?group=status&aggregate=count,sum:amount&order=sum:amount.desc&limit=2&form=list");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(dump_exact(parse_exact(r.body)["rows"]),
              R"([{"count":2,"status":"open","sum:amount":11.5},{"count":1,"status":"late","sum:amount":7}])");

    // SSE: a snapshot, then one patch per transaction.
    test::sse_client sse("127.0.0.1", s.port, "/sse?topic=" + T + "&" + params);
    ASSERT_EQ(sse.status(), 200) << sse.error_body();
    exact_view v;
    auto read_sse = [&](const std::function<bool()>& pred) {
        auto until = std::chrono::steady_clock::now() + 10s;
        while (!pred() && std::chrono::steady_clock::now() < until) {
            auto e = sse.read(300ms);
            if (e && (e->event == "snapshot" || e->event == "patch")) v.take(parse_exact(e->data));
        }
        return pred();
    };
    ASSERT_TRUE(read_sse([&] { return v.snapshots == 1; }));
    EXPECT_EQ(v.state, want());
    adb().sql("BEGIN; INSERT INTO public.agg_http VALUES (5, 'done', 0.25); UPDATE public.agg_http SET status = 'late' WHERE id = 2; COMMIT;");
    ASSERT_TRUE(read_sse([&] { return v.state == want(); })) << dump_exact(v.state);
    EXPECT_EQ(v.patches, 1);

    // Long-poll: a snapshot, then `since` answers with the patches after it (rolled back from
    // memory, not a snapshot), and a quiet `since` waits and answers no patches.
    json first = parse_exact(test::http_get("127.0.0.1", s.port, "/poll?topic=" + T + "&" + params).body);
    ASSERT_TRUE(first.contains("snapshot")) << dump_exact(first);
    EXPECT_EQ(first["snapshot"], want());
    std::string pos = first["pos"];
    adb().sql("DELETE FROM public.agg_http WHERE status = 'late'");
    adb().sql("UPDATE public.agg_http SET amount = amount * 2 WHERE id = 1");
    int64_t last = adb().settled_position();
    json state = first["snapshot"];
    int64_t at = std::stoll(pos);
    for (int round = 0; round < 5 && at < last; ++round) {
        json next = parse_exact(test::http_get("127.0.0.1", s.port, "/poll?topic=" + T + "&" + params + "&since=" + pos).body);
        ASSERT_TRUE(next.contains("patches")) << dump_exact(next);
        for (auto& p : next["patches"]) state = state.patch(p["patch"]);
        pos = next["pos"];
        at = std::stoll(pos);
    }
    EXPECT_EQ(state, want());
    auto quiet = test::http_get("127.0.0.1", s.port, "/poll?topic=" + T + "&" + params + "&since=" + pos + "&timeout=1", {}, 5s);
    json q = parse_exact(quiet.body);
    EXPECT_EQ(q["patches"], json::array()) << quiet.body;
    EXPECT_EQ(q["pos"], pos);
}

}  // namespace
}  // namespace pglive
