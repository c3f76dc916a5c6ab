// protocol_test.cpp — the subscriber protocol end to end: filters, windows, hidden columns,
// resume on every transport, publish, limits, a stalled client, poll-only capture, metrics.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <future>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "capture/admin.h"
#include "pgtmp/cluster.h"
#include "capture/db.h"
#include "core/exact_json.h"
#include "core/jwt.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_db.h"
#include "support/ws_client.h"

namespace pglive {
namespace {

using namespace std::chrono_literals;
using test::eventually;

// This suite's own PostgreSQL: its tests change the wake-up mode, which is database-wide.
test::test_db& proto_db() {
    static test::test_db d;
    return d;
}
cluster& proto_pg() { return proto_db().pg(); }
void sql(const std::string& text) { proto_db().sql(text); }
json query_json(const std::string& text) { return proto_db().query_json(text); }
json rows_of(const std::string& select) { return proto_db().rows_of(select); }
int64_t last_position() { return proto_db().settled_position(); }

// Retention never removes what a live node has not delivered (pglive.nodes): before pruning
// on purpose, wait until every running node has recorded that it has everything.
void wait_until_nodes_delivered_everything() {
    std::string pos = std::to_string(last_position());
    ASSERT_TRUE(eventually([&] {
        return query_json("SELECT to_jsonb(coalesce(min(delivered), " + pos + ") >= " + pos + ") FROM pglive.nodes")
            .get<bool>();
    }, 10s)) << query_json("SELECT coalesce(jsonb_agg(n), '[]') FROM pglive.nodes n").dump();
}

// Positions of the transactions that touched `topic` after `after`, in order.
std::vector<int64_t> positions_of(const std::string& topic, int64_t after) {
    json j = query_json("SELECT coalesce(jsonb_agg(position ORDER BY position), '[]') FROM pglive.tx t WHERE position > " +
                        std::to_string(after) + " AND EXISTS (SELECT 1 FROM pglive.outbox o WHERE o.xid = t.xid AND topic = '" +
                        topic + "')");
    return j.get<std::vector<int64_t>>();
}

int64_t pos_of(const json& m) { return std::stoll(m["pos"].get<std::string>()); }

using test::strictly_increasing;
using test::view;

// A WebSocket connection with any number of subscriptions: snapshots and patches go to the
// view of their `sub`, everything else (replies, errors, messages) into `others`.
struct ws_conn {
    std::unique_ptr<test::ws_client> ws;
    std::map<std::string, view> subs;
    std::vector<json> others;

    explicit ws_conn(uint16_t port, const std::string& target = "/ws",
                        const std::map<std::string, std::string>& headers = {})
        : ws(std::make_unique<test::ws_client>("127.0.0.1", port, target, headers)) {}

    void send(const json& m) { ws->send(m); }
    void take(const json& m) {
        if (m["type"] == "snapshot" || m["type"] == "patch") subs[m["sub"].get<std::string>()].take(m);
        else others.push_back(m);
    }
    // Reads until pred holds or the deadline passes.
    bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline = 10s) {
        auto until = std::chrono::steady_clock::now() + deadline;
        while (!pred()) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0 || ws->closed()) return false;
            // parse_exact: pglive's own parser, as fast as the server's (nlohmann's made these
            // readers slower than the server's fan-out of 16 kB rows in the flood test).
            auto t = ws->read_text(std::min(left, std::chrono::milliseconds(200)));
            if (t) take(parse_exact(*t));
        }
        return true;
    }
    // The first non-state message matching pred (removed from `others`), or nullopt.
    std::optional<json> other(const std::function<bool(const json&)>& pred, std::chrono::milliseconds deadline = 10s) {
        std::optional<json> found;
        pump_until([&] {
            for (auto it = others.begin(); it != others.end(); ++it)
                if (pred(*it)) {
                    found = *it;
                    others.erase(it);
                    return true;
                }
            return false;
        }, deadline);
        return found;
    }
    std::optional<json> reply(const std::string& ref, std::chrono::milliseconds deadline = 10s) {
        return other([&](const json& m) { return m.value("ref", "") == ref; }, deadline);
    }
    // Subscribes and waits for `subscribed` and (unless resuming) the snapshot.
    void subscribe(json req, bool expect_snapshot = true) {
        static int next_ref = 0;
        std::string ref = "s" + std::to_string(++next_ref);
        req["op"] = "subscribe";
        req["ref"] = ref;
        std::string sub = req.contains("sub") ? req["sub"].get<std::string>() : req["topic"].get<std::string>();
        send(req);
        auto r = reply(ref);
        ASSERT_TRUE(r) << "no reply to " << req.dump();
        ASSERT_EQ((*r)["type"], "subscribed") << r->dump();
        EXPECT_EQ((*r)["sub"], sub);
        if (expect_snapshot) {
            ASSERT_TRUE(pump_until([&] { return subs[sub].snapshots > 0; })) << "no snapshot for " << sub;
        }
    }
};

struct protocol_e2e : ::testing::Test {
    static void SetUpTestSuite() { proto_pg(); }
};

test::serve_process serve(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--anonymous-topics", "*"});
    return test::start_serve(proto_db().serve_conninfo(), std::move(extra));
}

int run_cli(std::vector<std::string> args, std::string* out = nullptr) {
    args.insert(args.begin(), PGLIVE_BINARY);
    test::process p(args);
    auto st = p.wait_exit(60s);
    if (out) *out = p.output();
    return st.value_or(-1);
}

// A Prometheus sample's value (first line starting with `series `), or -1 when absent.
double metric(const std::string& text, const std::string& series) {
    size_t at = 0;
    while ((at = text.find(series + " ", at)) != std::string::npos) {
        if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + series.size() + 1));
        at += series.size();
    }
    return -1;
}

std::string metrics_of(uint16_t port) { return test::http_get("127.0.0.1", port, "/metrics").body; }

// ---------------------------------------------------------------------------------------------

TEST_F(protocol_e2e, filters_move_rows_in_and_out_and_stay_silent_when_untouched) {
    sql("CREATE TABLE public.proto_orders (id int PRIMARY KEY, status text, amount int);"
        "INSERT INTO public.proto_orders VALUES (1, 'open', 10), (2, 'closed', 20), (3, 'open', 30);"
        "SELECT pglive.attach('public.proto_orders');");
    auto s = serve();
    ws_conn c(s.port);
    const std::string T = "public.proto_orders";
    c.subscribe({{"topic", T}, {"sub", "open"}, {"filter", json::array({"status=eq.open"})}});
    c.subscribe({{"topic", T}, {"sub", "all"}});
    c.subscribe({{"topic", T}, {"sub", "big-open"}, {"filter", json::array({"status=eq.open", "amount=gt.15"})}});
    auto open_rows = [&] { return rows_of("SELECT * FROM " + T + " WHERE status = 'open'"); };
    auto big_open_rows = [&] { return rows_of("SELECT * FROM " + T + " WHERE status = 'open' AND amount > 15"); };
    EXPECT_EQ(c.subs["open"].state, open_rows());
    EXPECT_EQ(c.subs["all"].state, rows_of("SELECT * FROM " + T));
    EXPECT_EQ(c.subs["big-open"].state, big_open_rows());

    // Into the filter: the whole row is added.
    sql("UPDATE public.proto_orders SET status = 'open' WHERE id = 2");
    ASSERT_TRUE(c.pump_until([&] { return c.subs["open"].patches.size() >= 1; }));
    EXPECT_EQ(c.subs["open"].patches.back()["patch"],
              json::parse(R"([{"op":"add","path":"/2","value":{"id":2,"status":"open","amount":20}}])"));
    // Out of it: removed.
    sql("UPDATE public.proto_orders SET status = 'closed' WHERE id = 1");
    ASSERT_TRUE(c.pump_until([&] { return c.subs["open"].patches.size() >= 2; }));
    EXPECT_EQ(c.subs["open"].patches.back()["patch"], json::parse(R"([{"op":"remove","path":"/1"}])"));

    // Outside every filtered set: only the unfiltered subscription hears of it.
    sql("UPDATE public.proto_orders SET amount = 11 WHERE id = 1");
    int64_t silent = last_position();
    ASSERT_TRUE(c.pump_until([&] { return c.subs["all"].pos >= silent; }));
    // A later change that touches every subscription: it arrives after anything sent for
    // `silent` (one connection, one ordered stream), so `silent` must be absent before it.
    sql("INSERT INTO public.proto_orders VALUES (4, 'open', 40)");
    int64_t later = last_position();
    ASSERT_TRUE(c.pump_until([&] {
        return c.subs["open"].pos >= later && c.subs["big-open"].pos >= later && c.subs["all"].pos >= later;
    }));
    for (const char* name : {"open", "big-open"}) {
        auto p = c.subs[name].positions();
        EXPECT_EQ(std::count(p.begin(), p.end(), silent), 0) << name << " got a patch for a change outside its filter";
        EXPECT_TRUE(strictly_increasing(p));
    }
    EXPECT_EQ(c.subs["open"].state, open_rows());
    EXPECT_EQ(c.subs["big-open"].state, big_open_rows());
    EXPECT_EQ(c.subs["all"].state, rows_of("SELECT * FROM " + T));
    // Both filters of big-open must hold: a small open row is not in it.
    sql("INSERT INTO public.proto_orders VALUES (5, 'open', 5)");
    later = last_position();
    ASSERT_TRUE(c.pump_until([&] { return c.subs["open"].pos >= later; }));
    EXPECT_FALSE(c.subs["big-open"].state.contains("5"));

    // A bad filter: an error naming it, and the connection keeps working.
    c.send({{"op", "subscribe"}, {"ref", "bad"}, {"topic", T}, {"sub", "bad"}, {"filter", json::array({"amount=xx.5"})}});
    auto e = c.reply("bad");
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["type"], "error");
    EXPECT_EQ((*e)["code"], "bad_filter");
    EXPECT_NE((*e)["message"].get<std::string>().find("amount=xx.5"), std::string::npos) << e->dump();
    c.send({{"op", "subscribe"}, {"ref", "bad2"}, {"topic", T}, {"sub", "bad2"}, {"filter", json::array({"nosuchcol=eq.1"})}});
    e = c.reply("bad2");
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["code"], "bad_filter");
    EXPECT_NE((*e)["message"].get<std::string>().find("nosuchcol"), std::string::npos) << e->dump();

    // Unsubscribing one leaves the others flowing.
    c.send({{"op", "unsubscribe"}, {"ref", "u"}, {"sub", "open"}});
    auto u = c.reply("u");
    ASSERT_TRUE(u);
    EXPECT_EQ((*u)["type"], "unsubscribed");
    size_t open_before = c.subs["open"].patches.size();
    sql("UPDATE public.proto_orders SET amount = 41 WHERE id = 4");
    later = last_position();
    ASSERT_TRUE(c.pump_until([&] { return c.subs["all"].pos >= later && c.subs["big-open"].pos >= later; }));
    EXPECT_EQ(c.subs["open"].patches.size(), open_before);
}

TEST_F(protocol_e2e, window_evicts_backfills_and_always_equals_the_top_n) {
    sql("CREATE TABLE public.proto_scores (id int PRIMARY KEY, name text, amount int);"
        "INSERT INTO public.proto_scores SELECT i, 'n' || i, i * 10 FROM generate_series(1, 6) i;"
        "SELECT pglive.attach('public.proto_scores');");
    auto s = serve();
    ws_conn c(s.port);
    c.subscribe({{"topic", "public.proto_scores"}, {"sub", "top"}, {"limit", 3}, {"order", "amount.desc"}});
    auto top3 = [] { return rows_of("SELECT * FROM public.proto_scores ORDER BY amount DESC, id LIMIT 3"); };
    view& v = c.subs["top"];
    EXPECT_EQ(v.state, top3());  // 60, 50, 40

    // A larger amount enters: the smallest of the window (id 4, amount 40) leaves.
    sql("INSERT INTO public.proto_scores VALUES (7, 'n7', 55)");
    ASSERT_TRUE(c.pump_until([&] { return v.patches.size() >= 1; }));
    std::set<std::string> ops;
    for (auto& op : v.patches.back()["patch"]) ops.insert(op["op"].get<std::string>() + " " + op["path"].get<std::string>());
    EXPECT_EQ(ops, (std::set<std::string>{"remove /4", "add /7"})) << v.patches.back().dump();
    EXPECT_EQ(v.state, top3());

    // A row of the window is deleted: the next one (id 4, amount 40) backfills.
    sql("DELETE FROM public.proto_scores WHERE id = 6");
    ASSERT_TRUE(c.pump_until([&] { return v.patches.size() >= 2; }));
    ops.clear();
    for (auto& op : v.patches.back()["patch"]) ops.insert(op["op"].get<std::string>() + " " + op["path"].get<std::string>());
    EXPECT_EQ(ops, (std::set<std::string>{"remove /6", "add /4"})) << v.patches.back().dump();
    EXPECT_EQ(v.state, top3());

    // A change below the window sends nothing; one inside it replaces just that column.
    sql("UPDATE public.proto_scores SET name = 'low' WHERE id = 1");
    sql("UPDATE public.proto_scores SET name = 'top' WHERE id = 7");
    int64_t last = last_position();
    ASSERT_TRUE(c.pump_until([&] { return v.pos >= last; }));
    EXPECT_EQ(v.patches.size(), 3u);
    EXPECT_EQ(v.patches.back()["patch"], json::parse(R"([{"op":"replace","path":"/7/name","value":"top"}])"));

    // Random traffic (distinct amounts, so the order is total): the window always equals the query.
    std::mt19937 rng(7);
    std::set<int> used_amounts;
    for (auto a : query_json("SELECT jsonb_agg(amount) FROM public.proto_scores")) used_amounts.insert(a.get<int>());
    auto fresh_amount = [&] {
        int a;
        do a = int(rng() % 1000); while (!used_amounts.insert(a).second);
        return a;
    };
    int next_id = 8;
    for (int i = 0; i < 40; ++i) {
        int ids = int(query_json("SELECT to_jsonb(count(*)) FROM public.proto_scores").get<int>());
        switch (rng() % 3) {
        case 0:
            sql("INSERT INTO public.proto_scores VALUES (" + std::to_string(next_id) + ", 'r', " +
                std::to_string(fresh_amount()) + ")");
            ++next_id;
            break;
        case 1:
            sql("UPDATE public.proto_scores SET amount = " + std::to_string(fresh_amount()) +
                " WHERE id = (SELECT id FROM public.proto_scores ORDER BY random() LIMIT 1)");
            break;
        default:
            if (ids > 4) sql("DELETE FROM public.proto_scores WHERE id = (SELECT id FROM public.proto_scores ORDER BY amount DESC LIMIT 1 OFFSET " + std::to_string(rng() % 4) + ")");
        }
        // Window patches come only for changes that touch the window, so wait on the state itself.
        ASSERT_TRUE(c.pump_until([&] { return v.state == top3(); }, 5s)) << "step " << i << ": " << v.state.dump()
                                                                        << " vs " << top3().dump();
        EXPECT_EQ(v.state.size(), 3u);
    }
    // A last change inside the window, waited for by position: nothing else may follow.
    sql("UPDATE public.proto_scores SET name = 'last' WHERE id = (SELECT id FROM public.proto_scores ORDER BY amount DESC LIMIT 1)");
    last = last_position();
    ASSERT_TRUE(c.pump_until([&] { return v.pos >= last; }));
    EXPECT_EQ(v.state, top3());
    EXPECT_TRUE(strictly_increasing(v.positions()));
}

TEST_F(protocol_e2e, excluded_column_never_leaves_the_database) {
    sql("CREATE TABLE public.proto_secret (id int PRIMARY KEY, name text, secret text);"
        "INSERT INTO public.proto_secret VALUES (1, 'a', 'hush-1')");
    std::string out;
    ASSERT_EQ(run_cli({"attach", "public.proto_secret", "--exclude", "secret", "--db", proto_pg().conninfo()}, &out), 0)
        << out;
    auto s = serve();
    ws_conn c(s.port);
    c.subscribe({{"topic", "public.proto_secret"}});
    view& v = c.subs["public.proto_secret"];
    auto visible = [] { return rows_of("SELECT id, name FROM public.proto_secret"); };
    EXPECT_EQ(v.state, visible());
    sql("INSERT INTO public.proto_secret VALUES (2, 'b', 'hush-2')");
    sql("UPDATE public.proto_secret SET name = 'a2', secret = 'hush-3' WHERE id = 1");
    sql("UPDATE public.proto_secret SET secret = 'hush-4' WHERE id = 2");  // only the hidden column
    sql("DELETE FROM public.proto_secret WHERE id = 2");
    int64_t last = last_position();
    ASSERT_TRUE(c.pump_until([&] { return v.pos >= last || v.state == visible(); }));
    ASSERT_TRUE(c.pump_until([&] { return v.state == visible(); }));
    for (auto& p : v.patches) {
        EXPECT_EQ(p["patch"].dump().find("secret"), std::string::npos) << p.dump();
        EXPECT_EQ(p["patch"].dump().find("hush"), std::string::npos) << p.dump();
    }
    auto topics = json::parse(test::http_get("127.0.0.1", s.port, "/api/topics").body);
    bool listed = false;
    for (auto& t : topics)
        if (t["name"] == "public.proto_secret") {
            listed = true;
            EXPECT_EQ(t["columns"], json::array({"id", "name"})) << t.dump();
        }
    EXPECT_TRUE(listed) << topics.dump();
    auto rows = test::http_get("127.0.0.1", s.port, "/api/topics/public.proto_secret/rows");
    EXPECT_EQ(rows.status, 200);
    EXPECT_EQ(rows.body.find("hush"), std::string::npos) << rows.body;
    // Nor does it reach the outbox (which any reader of the database could see).
    auto leaked = query_json(
        "SELECT coalesce(jsonb_agg(o), '[]') FROM pglive.outbox o WHERE topic = 'public.proto_secret' AND op <> 'C' AND "
        "(coalesce(old_rows::text, '') || coalesce(new_rows::text, '')) ~ '(\"secret\"|hush)'");
    EXPECT_EQ(leaked, json::array()) << leaked.dump();
    EXPECT_GT(query_json("SELECT to_jsonb(count(*)) FROM pglive.outbox WHERE topic = 'public.proto_secret'").get<int>(), 0);
}

TEST_F(protocol_e2e, websocket_resume_with_since_gets_the_patches_after_and_no_snapshot) {
    sql("CREATE TABLE public.proto_resume (id int PRIMARY KEY, v text);"
        "INSERT INTO public.proto_resume VALUES (1, 'a');"
        "SELECT pglive.attach('public.proto_resume');");
    const std::string T = "public.proto_resume";
    auto s = serve();
    view before;
    {
        ws_conn c(s.port);
        c.subscribe({{"topic", T}});
        sql("INSERT INTO public.proto_resume VALUES (2, 'b')");
        int64_t p = last_position();
        ASSERT_TRUE(c.pump_until([&] { return c.subs[T].pos >= p; }));
        before = c.subs[T];
    }
    sql("INSERT INTO public.proto_resume VALUES (3, 'c')");
    sql("UPDATE public.proto_resume SET v = 'a2' WHERE id = 1");
    sql("DELETE FROM public.proto_resume WHERE id = 2");
    int64_t last = last_position();
    ws_conn c(s.port);
    c.subs[T].state = before.state;
    c.subscribe({{"topic", T}, {"since", std::to_string(before.pos)}}, false);
    ASSERT_TRUE(c.pump_until([&] { return c.subs[T].pos >= last; }));
    EXPECT_EQ(c.subs[T].snapshots, 0);
    EXPECT_EQ(c.subs[T].positions(), positions_of(T, before.pos));
    EXPECT_EQ(c.subs[T].state, rows_of("SELECT * FROM " + T));

    // On a second, freshly started node: its memory knows nothing, the outbox has it all.
    sql("INSERT INTO public.proto_resume VALUES (4, 'd')");
    sql("UPDATE public.proto_resume SET v = 'c2' WHERE id = 3");
    last = last_position();
    auto s2 = serve();
    ws_conn c2(s2.port);
    c2.subs[T].state = before.state;
    c2.subscribe({{"topic", T}, {"since", std::to_string(before.pos)}}, false);
    ASSERT_TRUE(c2.pump_until([&] { return c2.subs[T].pos >= last; })) << s2.proc->output();
    EXPECT_EQ(c2.subs[T].snapshots, 0);
    EXPECT_EQ(c2.subs[T].positions(), positions_of(T, before.pos));
    EXPECT_EQ(c2.subs[T].state, rows_of("SELECT * FROM " + T));
    // The same patches, byte for byte apart from the subscription's framing, on both nodes.
    std::vector<json> a, b;
    for (auto& m : c.subs[T].patches) a.push_back(m["patch"]);
    for (auto& m : c2.subs[T].patches) b.push_back(m["patch"]);
    ASSERT_GE(b.size(), a.size());
    b.resize(a.size());
    EXPECT_EQ(a, b);

    // Retention pruned the range: a fresh node answers an old `since` with a snapshot.
    wait_until_nodes_delivered_everything();
    sql("SELECT pglive.prune(null, 1)");
    auto s3 = serve();
    ws_conn c3(s3.port);
    c3.subscribe({{"topic", T}, {"since", std::to_string(before.pos)}}, true);
    EXPECT_EQ(c3.subs[T].snapshots, 1);
    EXPECT_EQ(c3.subs[T].state, rows_of("SELECT * FROM " + T));
}

// A filtered subscription resumed on another node (from the outbox) and on the same node
// (from memory) gets exactly the patches the live one got; a window or a TRUNCATE in the
// range gets a snapshot instead.
TEST_F(protocol_e2e, filtered_resume_from_memory_and_outbox_matches_the_live_stream) {
    const std::string T = "public.proto_fresume";
    sql("CREATE TABLE public.proto_fresume (id int PRIMARY KEY, status text, amount int);"
        "INSERT INTO public.proto_fresume VALUES (1, 'open', 1), (2, 'closed', 2);"
        "SELECT pglive.attach('public.proto_fresume');");
    auto s = serve();
    const json sub = {{"topic", T}, {"sub", "open"}, {"filter", json::array({"status=eq.open"})}};
    ws_conn live(s.port);
    live.subscribe(sub);
    int64_t from = live.subs["open"].pos;
    json at_from = live.subs["open"].state;
    sql("UPDATE public.proto_fresume SET status = 'open' WHERE id = 2");     // into the filter
    sql("UPDATE public.proto_fresume SET amount = 10 WHERE id = 1");         // inside
    sql("INSERT INTO public.proto_fresume VALUES (3, 'closed', 3)");         // outside: nothing
    sql("UPDATE public.proto_fresume SET status = 'closed', amount = 20 WHERE id = 1");  // out of it
    sql("BEGIN; UPDATE public.proto_fresume SET id = 4 WHERE id = 2; INSERT INTO public.proto_fresume VALUES (5, 'open', 5); COMMIT");
    int64_t last = last_position();
    auto open_rows = [&] { return rows_of("SELECT * FROM " + T + " WHERE status = 'open'"); };
    ASSERT_TRUE(live.pump_until([&] { return live.subs["open"].pos >= last; }));
    EXPECT_EQ(live.subs["open"].state, open_rows());
    EXPECT_EQ(live.subs["open"].patches.size(), 4u);

    auto resume_on = [&](uint16_t port) {
        ws_conn c(port);
        c.subs["open"].state = at_from;
        json req = sub;
        req["since"] = std::to_string(from);
        c.subscribe(req, false);
        EXPECT_TRUE(c.pump_until([&] { return c.subs["open"].pos >= last; }));
        EXPECT_EQ(c.subs["open"].snapshots, 0);
        EXPECT_EQ(c.subs["open"].state, open_rows());
        std::vector<json> a, b;
        for (auto& m : live.subs["open"].patches) a.push_back(json{{"pos", m["pos"]}, {"patch", m["patch"]}});
        for (auto& m : c.subs["open"].patches) b.push_back(json{{"pos", m["pos"]}, {"patch", m["patch"]}});
        EXPECT_EQ(b, a);
    };
    resume_on(s.port);  // from memory
    auto s2 = serve();
    resume_on(s2.port);  // from the outbox

    // A windowed subscription cannot resume: its window at `since` is unknown.
    ws_conn w(s.port);
    w.subscribe({{"topic", T}, {"sub", "w"}, {"limit", 2}, {"order", "amount.desc"}, {"since", std::to_string(from)}});
    EXPECT_EQ(w.subs["w"].state, rows_of("SELECT * FROM " + T + " ORDER BY amount DESC LIMIT 2"));

    // A TRUNCATE in the range: the outbox does not hold the removed rows, so a snapshot.
    sql("TRUNCATE public.proto_fresume");
    sql("INSERT INTO public.proto_fresume VALUES (9, 'open', 9)");
    last = last_position();
    auto s3 = serve();
    ws_conn t(s3.port);
    t.subs["open"].state = at_from;
    json req = sub;
    req["since"] = std::to_string(from);
    t.subscribe(req, true);
    ASSERT_TRUE(t.pump_until([&] { return t.subs["open"].pos >= last; }));
    EXPECT_EQ(t.subs["open"].state, open_rows());
}

TEST_F(protocol_e2e, sse_reconnect_with_last_event_id_loses_nothing) {
    sql("CREATE TABLE public.proto_sse (id int PRIMARY KEY, v int);"
        "INSERT INTO public.proto_sse VALUES (1, 1);"
        "SELECT pglive.attach('public.proto_sse');");
    const std::string T = "public.proto_sse";
    auto s = serve();
    view v;
    std::string last_id;
    auto read_into = [&](test::sse_client& sse, int64_t upto) {
        auto until = std::chrono::steady_clock::now() + 10s;
        while (v.pos < upto && std::chrono::steady_clock::now() < until) {
            auto e = sse.read(500ms);
            if (!e) continue;
            if (e->event != "snapshot" && e->event != "patch") continue;
            json m = json::parse(e->data);
            EXPECT_EQ(m["type"], e->event);
            EXPECT_EQ(e->id, m["pos"].get<std::string>());
            v.take(m);
            last_id = e->id;
        }
        return v.pos >= upto;
    };
    {
        test::sse_client sse("127.0.0.1", s.port, "/sse?topic=" + T);
        ASSERT_EQ(sse.status(), 200) << sse.error_body();
        EXPECT_NE(sse.head().find("text/event-stream"), std::string::npos) << sse.head();
        ASSERT_TRUE(read_into(sse, 0));
        EXPECT_EQ(v.snapshots, 1);
        sql("INSERT INTO public.proto_sse VALUES (2, 2)");
        ASSERT_TRUE(read_into(sse, last_position()));
        sse.close();
    }
    int snapshots = v.snapshots;
    size_t patches = v.patches.size();
    int64_t resume_from = std::stoll(last_id);
    sql("INSERT INTO public.proto_sse VALUES (3, 3)");
    sql("UPDATE public.proto_sse SET v = 10 WHERE id = 1");
    sql("DELETE FROM public.proto_sse WHERE id = 2");
    // Last-Event-ID wins over a stale `since` in the URL (what a browser's reconnect sends).
    test::sse_client sse("127.0.0.1", s.port, "/sse?topic=" + T + "&since=1", {{"Last-Event-ID", last_id}});
    ASSERT_EQ(sse.status(), 200) << sse.error_body();
    ASSERT_TRUE(read_into(sse, last_position()));
    EXPECT_EQ(v.snapshots, snapshots);  // no snapshot on resume
    auto all = v.positions();
    std::vector<int64_t> resumed(all.begin() + long(patches), all.end());
    EXPECT_EQ(resumed, positions_of(T, resume_from));
    EXPECT_EQ(v.state, rows_of("SELECT * FROM " + T));

    // Refusals before streaming are HTTP errors with a JSON body.
    test::sse_client bad("127.0.0.1", s.port, "/sse?topic=public.proto_nope");
    EXPECT_EQ(bad.status(), 404);
    EXPECT_NE(bad.error_body().find("unknown_topic"), std::string::npos) << bad.error_body();
}

// SSE and long-poll take the same filters as WebSocket, and SSE carries published messages.
TEST_F(protocol_e2e, sse_and_long_poll_filters_and_sse_messages) {
    const std::string T = "public.proto_ssef";
    sql("CREATE TABLE public.proto_ssef (id int PRIMARY KEY, status text);"
        "INSERT INTO public.proto_ssef VALUES (1, 'open'), (2, 'closed');"
        "SELECT pglive.attach('public.proto_ssef');");
    auto s = serve();
    auto open_rows = [&] { return rows_of("SELECT * FROM " + T + " WHERE status = 'open'"); };
    test::sse_client sse("127.0.0.1", s.port, "/sse?topic=" + T + "&filter=status%3Deq.open");
    ASSERT_EQ(sse.status(), 200) << sse.error_body();
    json first = json::parse(test::http_get("127.0.0.1", s.port, "/poll?topic=" + T + "&filter=status%3Deq.open").body);
    ASSERT_TRUE(first.contains("snapshot")) << first.dump();
    EXPECT_EQ(first["snapshot"], open_rows());
    view v;
    std::vector<json> messages;
    auto read_until = [&](const std::function<bool()>& pred) {
        auto until = std::chrono::steady_clock::now() + 10s;
        while (!pred() && std::chrono::steady_clock::now() < until) {
            auto e = sse.read(200ms);
            if (!e) continue;
            json m = json::parse(e->data);
            if (e->event == "message") messages.push_back(m);
            else v.take(m);
        }
        return pred();
    };
    ASSERT_TRUE(read_until([&] { return v.snapshots == 1; }));
    EXPECT_EQ(v.state, open_rows());
    sql("UPDATE public.proto_ssef SET status = 'open' WHERE id = 2");
    sql("UPDATE public.proto_ssef SET status = 'closed' WHERE id = 1");
    sql("INSERT INTO public.proto_ssef VALUES (3, 'closed')");  // nothing for this filter
    sql("SELECT pglive.publish('public.proto_ssef', '{\"hello\":\"sse\"}')");
    ASSERT_TRUE(read_until([&] { return !messages.empty(); }));
    EXPECT_EQ(messages[0]["data"], json({{"hello", "sse"}}));
    EXPECT_EQ(v.patches.size(), 2u);  // messages follow the patches before them, in order
    EXPECT_EQ(v.state, open_rows());

    json got = json::parse(test::http_get("127.0.0.1", s.port, "/poll?topic=" + T + "&filter=status%3Deq.open&since=" +
                                          first["pos"].get<std::string>() + "&timeout=0").body);
    ASSERT_TRUE(got.contains("patches")) << got.dump();
    json state = first["snapshot"];
    for (auto& p : got["patches"]) state.patch_inplace(p["patch"]);
    EXPECT_EQ(got["patches"].size(), 2u) << got.dump();
    EXPECT_EQ(state, open_rows());
}

TEST_F(protocol_e2e, long_poll_answers_at_once_parks_and_times_out) {
    sql("CREATE TABLE public.proto_poll (id int PRIMARY KEY, v int);"
        "INSERT INTO public.proto_poll VALUES (1, 1);"
        "SELECT pglive.attach('public.proto_poll');");
    const std::string T = "public.proto_poll";
    auto s = serve();
    auto poll = [&](const std::string& query, std::chrono::milliseconds deadline = 10s) {
        auto r = test::http_get("127.0.0.1", s.port, "/poll?topic=" + T + query, {}, deadline);
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status == 200 ? json::parse(r.body) : json::object();
    };
    json first = poll("");
    ASSERT_TRUE(first.contains("snapshot")) << first.dump();
    json state = first["snapshot"];
    std::string pos = first["pos"];
    EXPECT_EQ(state, rows_of("SELECT * FROM " + T));

    // Patches already there: answered at once.
    sql("INSERT INTO public.proto_poll VALUES (2, 2)");
    sql("UPDATE public.proto_poll SET v = 5 WHERE id = 1");
    int64_t last = last_position();
    json got;
    ASSERT_TRUE(eventually([&] {
        got = poll("&since=" + pos + "&timeout=0");
        return pos_of(got) >= last;
    }, 10s));
    ASSERT_FALSE(got.contains("snapshot")) << got.dump();
    for (auto& p : got["patches"]) state.patch_inplace(p["patch"]);
    EXPECT_EQ(got["patches"].size(), 2u);
    EXPECT_EQ(state, rows_of("SELECT * FROM " + T));
    pos = got["pos"];

    // Nothing new: parked, then answered by a later insert.
    uint64_t polls_before = uint64_t(metric(metrics_of(s.port), "pglive_polls_total"));
    auto parked = std::async(std::launch::async, [&] { return poll("&since=" + pos + "&timeout=20", 30s); });
    ASSERT_TRUE(eventually([&] { return metric(metrics_of(s.port), "pglive_polls_total") > double(polls_before); }, 10s));
    // Give the hub a chance to answer wrongly at once; a correct server keeps it parked.
    EXPECT_EQ(parked.wait_for(300ms), std::future_status::timeout) << "the poll was answered with nothing new";
    auto t0 = std::chrono::steady_clock::now();
    sql("INSERT INTO public.proto_poll VALUES (3, 3)");
    ASSERT_EQ(parked.wait_for(10s), std::future_status::ready);
    got = parked.get();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    ASSERT_EQ(got["patches"].size(), 1u) << got.dump();
    state.patch_inplace(got["patches"][0]["patch"]);
    EXPECT_EQ(state, rows_of("SELECT * FROM " + T));
    pos = got["pos"];

    // Timeout: no patches, the same position to pass back.
    auto t1 = std::chrono::steady_clock::now();
    got = poll("&since=" + pos + "&timeout=1");
    EXPECT_GE(std::chrono::steady_clock::now() - t1, 900ms);
    EXPECT_EQ(got["patches"], json::array()) << got.dump();
    EXPECT_EQ(got["pos"], pos);

    // A position older than retention: a fresh snapshot on a node that must read the outbox.
    wait_until_nodes_delivered_everything();
    sql("SELECT pglive.prune(null, 1)");
    auto s2 = serve();
    auto r = test::http_get("127.0.0.1", s2.port, "/poll?topic=" + T + "&since=" + first["pos"].get<std::string>());
    ASSERT_EQ(r.status, 200) << r.body;
    got = json::parse(r.body);
    ASSERT_TRUE(got.contains("snapshot")) << got.dump();
    EXPECT_EQ(got["snapshot"], rows_of("SELECT * FROM " + T));
}

// Issue 9 finding 4: transactions retention removed before the listener delivered them (here
// the node is made to look dead, and the listener is held in the sequencer meanwhile) leave a
// gap; subscribers used to keep a wrong state forever. Now they get a fresh snapshot.
TEST_F(protocol_e2e, a_gap_left_by_retention_gives_subscribers_a_fresh_snapshot) {
    const std::string T = "public.proto_gap";
    sql("CREATE TABLE public.proto_gap (id int PRIMARY KEY, v int);"
        "INSERT INTO public.proto_gap VALUES (1, 1);"
        "SELECT pglive.attach('public.proto_gap');");
    auto s = serve();
    ws_conn c(s.port);
    c.subscribe({{"topic", T}});
    ASSERT_EQ(c.subs[T].snapshots, 1);

    // Hold the sequencer's lock: the listener's next read waits in pglive.sequence().
    auto holder = open_connection(proto_pg().conninfo(), "test");
    pqxx::nontransaction h(*holder);
    h.exec("select pg_advisory_lock(pglive.lock_sequencer())");
    sql("INSERT INTO public.proto_gap VALUES (2, 2)");  // lost in the gap
    sql("INSERT INTO public.proto_gap VALUES (3, 3)");  // kept: delivered after it
    ASSERT_TRUE(eventually([&] {
        return query_json("SELECT to_jsonb(count(*)) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                          "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = 'pglive-listener'")
                   .get<int>() > 0;
    }, 10s)) << "the listener never waited for the sequencer";
    h.exec("select pglive.sequence()");
    h.exec("update pglive.nodes set beat_at = now() - interval '1 hour'");  // the node looks dead
    h.exec("select pglive.prune(null, 1)");                                  // keeps only the newest
    h.exec("select pg_advisory_unlock(pglive.lock_sequencer())");

    ASSERT_TRUE(c.pump_until([&] { return c.subs[T].snapshots >= 2; })) << s.proc->output();
    ASSERT_TRUE(c.pump_until([&] { return c.subs[T].state == rows_of("SELECT * FROM " + T); }))
        << c.subs[T].state.dump();
    EXPECT_NE(s.proc->output().find("retention removed positions"), std::string::npos) << s.proc->output();
}

TEST_F(protocol_e2e, publish_to_topics_and_users_through_the_outbox) {
    sql("CREATE TABLE public.proto_pub (id int PRIMARY KEY); SELECT pglive.attach('public.proto_pub');");
    auto s = test::start_serve(proto_db().serve_conninfo(), {"--token-secret", "pub-secret"});
    std::string publisher = sign_jwt(json{{"sub", "svc"}, {"publish", true}}, "pub-secret");
    std::string ann = sign_jwt(json{{"sub", "ann"}, {"topics", {"*"}}}, "pub-secret");
    std::string bob = sign_jwt(json{{"sub", "bob"}, {"topics", {"*"}}}, "pub-secret");
    ws_conn ann1(s.port, "/ws?token=" + ann), ann2(s.port, "/ws?token=" + ann), bob1(s.port, "/ws?token=" + bob);
    ann1.subscribe({{"topic", "proto_alerts"}}, false);
    ann1.subscribe({{"topic", "public.proto_pub"}});
    bob1.subscribe({{"topic", "public.proto_pub"}});
    auto post = [&](const json& body, const std::string& token) {
        std::map<std::string, std::string> h;
        if (!token.empty()) h["Authorization"] = "Bearer " + token;
        return test::http_post("127.0.0.1", s.port, "/api/publish", body.dump(), h);
    };
    auto is_message = [](const json& m) { return m["type"] == "message"; };

    auto r = post({{"topic", "proto_alerts"}, {"data", {{"n", 1}}}}, publisher);
    ASSERT_EQ(r.status, 200) << r.body;
    auto m = ann1.other(is_message);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["topic"], "proto_alerts");
    EXPECT_EQ((*m)["data"], json({{"n", 1}}));
    EXPECT_EQ(query_json("SELECT to_jsonb(count(*)) FROM pglive.outbox WHERE topic = 'proto_alerts' AND op = 'M'").get<int>(), 1);

    // To a table's topic: its subscribers get it.
    r = post({{"topic", "public.proto_pub"}, {"data", "hello"}}, publisher);
    ASSERT_EQ(r.status, 200) << r.body;
    for (auto* c : {&bob1, &ann1}) {
        m = c->other(is_message);
        ASSERT_TRUE(m);
        EXPECT_EQ((*m)["topic"], "public.proto_pub");
        EXPECT_EQ((*m)["data"], "hello");
    }

    // From SQL: the same path.
    sql("SELECT pglive.publish('proto_alerts', '{\"n\":2}')");
    m = ann1.other(is_message);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["data"], json({{"n", 2}}));

    // To a user: every connection of ann, none of bob's.
    r = post({{"user", "ann"}, {"data", {{"for", "ann"}}}}, publisher);
    ASSERT_EQ(r.status, 200) << r.body;
    for (auto* c : {&ann1, &ann2}) {
        m = c->other(is_message);
        ASSERT_TRUE(m);
        EXPECT_EQ((*m)["user"], "ann");
        EXPECT_EQ((*m)["data"], json({{"for", "ann"}}));
    }
    r = post({{"user", "bob"}, {"data", {{"for", "bob"}}}}, publisher);
    ASSERT_EQ(r.status, 200) << r.body;
    m = bob1.other(is_message);  // bob's first user message is his own: ann's never reached him
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["data"], json({{"for", "bob"}}));
    // …and ann's connections got nothing of bob's: a ping's pong comes first.
    for (auto* c : {&ann1, &ann2}) {
        c->send({{"op", "ping"}, {"ref", "p"}});
        ASSERT_TRUE(c->reply("p"));
        for (auto& o : c->others) EXPECT_FALSE(o["type"] == "message") << o.dump();
    }

    // Refusals.
    EXPECT_EQ(post({{"topic", "proto_alerts"}, {"data", 1}}, "").status, 401);
    EXPECT_EQ(post({{"topic", "proto_alerts"}, {"data", 1}}, ann).status, 403);
    EXPECT_EQ(post({{"topic", "proto_alerts"}, {"data", 1}}, sign_jwt(json{{"sub", "x"}, {"publish", true}}, "wrong")).status, 401);
    auto bad = post({{"topic", "proto_alerts"}}, publisher);
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("data"), std::string::npos) << bad.body;
    EXPECT_EQ(query_json("SELECT to_jsonb(count(*)) FROM pglive.outbox WHERE topic = 'proto_alerts' AND op = 'M'").get<int>(), 2);
}

TEST_F(protocol_e2e, origins_frame_size_bad_json_and_subscription_limit) {
    sql("CREATE TABLE public.proto_limits (id int PRIMARY KEY); SELECT pglive.attach('public.proto_limits');");
    auto s = serve({"--allowed-origins", "http://good.example", "--max-message-bytes", "1024",
                    "--max-subscriptions-per-connection", "2"});
    auto upgrade = [&](const std::string& origin) {
        return test::http_get("127.0.0.1", s.port, "/ws",
                              {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
                               {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Sec-WebSocket-Version", "13"},
                               {"Origin", origin}});
    };
    auto evil = upgrade("http://evil.example");
    EXPECT_EQ(evil.status, 403);
    EXPECT_NE(evil.body.find("evil.example"), std::string::npos) << evil.body;
    EXPECT_EQ(upgrade("http://good.example").status, 101);
    EXPECT_THROW((test::ws_client("127.0.0.1", s.port, "/ws", {{"Origin", "http://evil.example"}})), std::exception);
    // Same-origin pages pass without being listed.
    EXPECT_EQ(upgrade("http://127.0.0.1:" + std::to_string(s.port)).status, 101);

    ws_conn c(s.port, "/ws", {{"Origin", "http://good.example"}});
    c.ws->send_text("this is {not json");
    auto e = c.other([](const json& m) { return m["type"] == "error"; });
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["code"], "bad_request");
    c.send({{"op", "subscribe"}, {"ref", "nt"}});  // no topic
    e = c.reply("nt");
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["code"], "bad_request");
    EXPECT_NE((*e)["message"].get<std::string>().find("topic"), std::string::npos) << e->dump();
    c.send({{"op", "ping"}, {"ref", "alive"}});
    ASSERT_TRUE(c.reply("alive"));  // still open

    c.subscribe({{"topic", "public.proto_limits"}, {"sub", "a"}});
    c.subscribe({{"topic", "public.proto_limits"}, {"sub", "b"}});
    c.send({{"op", "subscribe"}, {"ref", "third"}, {"topic", "public.proto_limits"}, {"sub", "c"}});
    e = c.reply("third");
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["code"], "too_many_subscriptions") << e->dump();
    // Replacing an existing name is not a new subscription.
    c.subscribe({{"topic", "public.proto_limits"}, {"sub", "b"}, {"filter", json::array({"id=gt.0"})}});

    // A frame over max_message_bytes closes the connection with 1009.
    c.ws->send_text(json{{"op", "ping"}, {"ref", std::string(2000, 'x')}}.dump());
    EXPECT_FALSE(c.ws->read_until([](const json&) { return false; }, 10s));
    EXPECT_TRUE(c.ws->closed());
    EXPECT_EQ(c.ws->close_code(), 1009);
}

// Two fast subscribers and one that stops reading while thousands of large transactions
// commit: the fast ones see everything in order, memory stays bounded, and the stalled one
// recovers with a snapshot.
// `writers` threads, each committing `per_writer` single-row UPDATEs (one transaction each) of
// `table`'s rows 1..50 (id, n, body): n + 1 and a fresh body. The caller joins them.
std::vector<std::thread> update_writers(const std::string& table, int writers, int per_writer, const std::string& body) {
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w)
        threads.emplace_back([=] {
            auto conn = open_connection(proto_pg().conninfo(), "test-writer");
            for (int i = 0; i < per_writer; ++i) {
                pqxx::work t(*conn);
                t.exec_params("UPDATE " + table + " SET n = n + 1, body = $1 WHERE id = $2", std::to_string(i) + body,
                              1 + (w * per_writer + i) % 50);
                t.commit();
            }
        });
    return threads;
}

TEST_F(protocol_e2e, a_stalled_client_is_resynced_and_never_slows_the_others) {
    const std::string T = "public.proto_flood";
    sql("CREATE TABLE public.proto_flood (id int PRIMARY KEY, n int, body text);"
        "INSERT INTO public.proto_flood SELECT i, 0, '' FROM generate_series(1, 50) i;"
        "SELECT pglive.attach('public.proto_flood');");
    // Reads of at most 32 transactions: a burst larger than the queue bound passes it for every
    // client, however fast (a read is fanned out at once). 2048 frames / 32 MB (~0.5 s of this
    // traffic: 8 MB was too little once lz4 made the writers faster, 16 MB once the listener's
    // pass became one round trip) let a fast reader survive being descheduled on a busy host
    // (ctest -j2 runs a browser beside this); the stalled one still passes it many times over.
    auto s = serve({"--max-queue-frames", "2048", "--max-queue-bytes", "33554432", "--batch-transactions", "32",
                    "--history-transactions", "100"});
    auto rss_kb = [&] {
        std::ifstream in("/proc/" + std::to_string(s.proc->pid()) + "/status");
        std::string line;
        while (std::getline(in, line))
            if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
        return 0L;
    };
    ws_conn fast1(s.port), fast2(s.port), stalled(s.port);
    for (auto* c : {&fast1, &fast2, &stalled}) c->subscribe({{"topic", T}});
    int64_t start = std::max({fast1.subs[T].pos, fast2.subs[T].pos});
    long rss_start = rss_kb();

    // 2 × 7000 × 16 kB = 224 MB: far more than the stalled queue may hold.
    const int writers = 2, per_writer = 7000;
    auto threads = update_writers(T, writers, per_writer, std::string(16000, 'x'));
    // Readers run until the last position is known and reached; RSS is sampled meanwhile.
    std::atomic<int64_t> target{INT64_MAX};
    std::vector<std::thread> readers;
    for (auto* c : {&fast1, &fast2})
        readers.emplace_back([c, &target, &T] { c->pump_until([&] { return c->subs[T].pos >= target.load(); }, 120s); });
    std::atomic<bool> sampling{true};
    std::atomic<long> rss_max{rss_start};
    std::thread sampler([&] {
        while (sampling) {
            rss_max = std::max(rss_max.load(), rss_kb());
            std::this_thread::sleep_for(20ms);  // the sampling period, not a wait for an event
        }
    });
    for (auto& t : threads) t.join();
    int64_t last = last_position();
    target = last;
    for (auto& t : readers) t.join();
    sampling = false;
    sampler.join();
    ASSERT_TRUE(fast1.subs[T].pos >= last && fast2.subs[T].pos >= last)
        << "fast clients at " << fast1.subs[T].pos << ", " << fast2.subs[T].pos << " of " << last;

    auto expected = positions_of(T, start);
    EXPECT_EQ(expected.size(), size_t(writers * per_writer));
    json table = rows_of("SELECT * FROM " + T);
    for (auto* c : {&fast1, &fast2}) {
        EXPECT_EQ(c->subs[T].snapshots, 1) << s.proc->output();
        EXPECT_EQ(c->subs[T].positions(), expected);
        EXPECT_EQ(c->subs[T].state, table);
    }
    // Memory: three queues of at most 32 MB (the fast ones near empty), plus allocator slack;
    // unbounded, the stalled queue alone would hold the 224 MB stream.
    EXPECT_LT(rss_max - rss_start, 128 * 1024) << "RSS grew from " << rss_start << " kB to " << rss_max.load() << " kB";
    auto text = metrics_of(s.port);
    EXPECT_GE(metric(text, "pglive_queue_overflows_total"), 1) << text;
    EXPECT_GE(metric(text, "pglive_frames_dropped_total"), 1) << text;

    // The stalled client reads again: old frames, then a fresh snapshot, then exactly the table.
    ASSERT_TRUE(stalled.pump_until([&] { return stalled.subs[T].snapshots >= 2 && stalled.subs[T].pos >= last; }, 60s))
        << "snapshots " << stalled.subs[T].snapshots << ", at " << stalled.subs[T].pos;
    EXPECT_EQ(stalled.subs[T].state, table);
    EXPECT_TRUE(eventually([&] { return metric(metrics_of(s.port), "pglive_resyncs_total") >= 1; }, 10s));
    sql("UPDATE public.proto_flood SET body = 'after' WHERE id = 1");
    last = last_position();
    ASSERT_TRUE(stalled.pump_until([&] { return stalled.subs[T].pos >= last; }));
    EXPECT_EQ(stalled.subs[T].state, rows_of("SELECT * FROM " + T));
}

// Issue 12: overload without collapse. A client that falls behind while the server still holds
// the transactions it missed gets them merged into one patch (`from` its position), not a
// snapshot of the table, and ends exact.
TEST_F(protocol_e2e, a_stalled_client_catches_up_with_one_merged_patch) {
    const std::string T = "public.proto_catchup";
    sql("CREATE TABLE public.proto_catchup (id int PRIMARY KEY, n int, body text);"
        "INSERT INTO public.proto_catchup SELECT i, 0, '' FROM generate_series(1, 50) i;"
        "SELECT pglive.attach('public.proto_catchup');");
    auto s = serve({"--max-queue-frames", "64", "--max-queue-bytes", "262144", "--batch-transactions", "32",
                    "--history-transactions", "100000"});
    ws_conn fast(s.port), stalled(s.port);
    for (auto* c : {&fast, &stalled}) c->subscribe({{"topic", T}});
    // ~24 MB of updates to 50 rows: far past what the socket buffers and the queue bound hold.
    const int writers = 3, per_writer = 1000;
    auto threads = update_writers(T, writers, per_writer, std::string(8000, 'y'));
    std::atomic<int64_t> target{INT64_MAX};
    std::thread reader([&] { fast.pump_until([&] { return fast.subs[T].pos >= target.load(); }, 120s); });
    for (auto& t : threads) t.join();
    int64_t last = last_position();
    target = last;
    reader.join();
    ASSERT_GE(fast.subs[T].pos, last);
    json table = rows_of("SELECT * FROM " + T);
    // The reading client ends exact too; on a busy host (ctest -j2) its small queue may overflow
    // as well, and then it catches up the same way.
    EXPECT_EQ(fast.subs[T].state, table);
    EXPECT_EQ(fast.subs[T].misplaced_catch_ups, 0);
    EXPECT_TRUE(strictly_increasing(fast.subs[T].positions()));

    ASSERT_TRUE(stalled.pump_until([&] { return stalled.subs[T].pos >= last; }, 60s)) << "at " << stalled.subs[T].pos;
    auto& v = stalled.subs[T];
    EXPECT_EQ(v.state, table);
    EXPECT_EQ(v.snapshots, 1) << "caught up by a snapshot instead of a merged patch";
    EXPECT_GE(v.catch_ups, 1);
    EXPECT_EQ(v.misplaced_catch_ups, 0);
    EXPECT_TRUE(strictly_increasing(v.positions()));
    EXPECT_LT(v.patches.size(), size_t(writers * per_writer)) << "it was never behind";
    auto text = metrics_of(s.port);
    EXPECT_GE(metric(text, "pglive_queue_overflows_total"), 1) << text;
    EXPECT_TRUE(eventually([&] { return metric(metrics_of(s.port), "pglive_catch_ups_total") >= 1; }, 10s));
    // Live again afterwards.
    sql("UPDATE public.proto_catchup SET body = 'after' WHERE id = 1");
    last = last_position();
    ASSERT_TRUE(stalled.pump_until([&] { return stalled.subs[T].pos >= last; }));
    EXPECT_EQ(stalled.subs[T].state, rows_of("SELECT * FROM " + T));
}

// Issue 12, overload: the hub handed out each read at once, up to batch_transactions, so a
// backlog read in one go (the listener was behind: writers faster than the fan-out, a stalled
// sequencer) passed every connection's queue bound, however fast its reader, and every
// subscriber was resynced. Now the hub takes the stream in chunks and waits while many
// connections' queues are a quarter into their bound (hub_feed, net::server::under_pressure):
// the backlog waits in the outbox, and readers that keep reading get every patch.
TEST_F(protocol_e2e, a_backlog_read_at_once_reaches_every_reader_without_a_resync) {
    const std::string T = "public.proto_burst";
    sql("CREATE TABLE public.proto_burst (id int PRIMARY KEY, n int, body text);"
        "INSERT INTO public.proto_burst SELECT i, 0, '' FROM generate_series(1, 50) i;"
        "SELECT pglive.attach('public.proto_burst');");
    // 64 frames / 1 MB a connection (the hub's chunks are 16 transactions); one read takes the
    // whole backlog below.
    auto s = serve({"--max-queue-frames", "64", "--max-queue-bytes", "1048576", "--batch-transactions", "1000"});
    const int readers = 4;
    std::vector<std::unique_ptr<ws_conn>> conns;
    for (int i = 0; i < readers; ++i) {
        conns.push_back(std::make_unique<ws_conn>(s.port));
        conns.back()->subscribe({{"topic", T}});
    }
    int64_t start = conns[0]->subs[T].pos;
    // The sequencer is held while 600 updates of 16 kB commit: the listener then sequences and
    // reads all of them at once (~10 MB for each reader, ten times what its bound holds).
    auto hold = open_connection(proto_pg().conninfo(), "test-hold");
    {
        pqxx::nontransaction n(*hold);
        n.exec("select pg_advisory_lock(pglive.lock_sequencer())");
    }
    const int writers = 2, per_writer = 300;
    auto threads = update_writers(T, writers, per_writer, std::string(16000, 'b'));
    for (auto& t : threads) t.join();
    {
        pqxx::nontransaction n(*hold);
        n.exec("select pg_advisory_unlock(pglive.lock_sequencer())");
    }
    int64_t last = last_position();
    std::vector<std::thread> pumps;
    for (auto& c : conns)
        pumps.emplace_back([&c, last, &T] { c->pump_until([&] { return c->subs[T].pos >= last; }, 60s); });
    for (auto& t : pumps) t.join();
    auto expected = positions_of(T, start);
    ASSERT_EQ(expected.size(), size_t(writers * per_writer));
    json table = rows_of("SELECT * FROM " + T);
    for (auto& c : conns) {
        auto& v = c->subs[T];
        EXPECT_EQ(v.snapshots, 1) << "resynced by a snapshot";
        EXPECT_EQ(v.catch_ups, 0) << "resynced by a catch-up patch";
        EXPECT_EQ(v.positions(), expected);
        EXPECT_EQ(v.state, table);
    }
    auto text = metrics_of(s.port);
    EXPECT_EQ(metric(text, "pglive_queue_overflows_total"), 0) << s.proc->output();
    EXPECT_GE(metric(text, "pglive_hub_feed_pauses_total"), 1) << "the hub never waited: the test proves nothing";
    // Every queue has drained: nothing may still count as pressure (a leaked count would hold
    // the feed to a chunk per max_pause for good).
    EXPECT_TRUE(eventually([&] { return metric(metrics_of(s.port), "pglive_deep_queues") == 0; }, 10s))
        << metrics_of(s.port);
}

// Receives NOTIFYs on channel pglive into a list.
struct notify_log : pqxx::notification_receiver {
    std::vector<std::string> payloads;
    explicit notify_log(pqxx::connection_base& c) : pqxx::notification_receiver(c, "pglive") {}
    void operator()(const std::string& payload, int) override { payloads.push_back(payload); }
};

TEST_F(protocol_e2e, poll_mode_sends_no_notify_and_still_delivers) {
    sql("CREATE TABLE public.proto_pollmode (id int PRIMARY KEY, v int); SELECT pglive.attach('public.proto_pollmode');");
    auto s = serve({"--wakeup", "poll", "--poll-interval-ms", "50"});
    EXPECT_EQ(query_json("SELECT to_jsonb(wakeup) FROM pglive.state").get<std::string>(), "poll");
    auto listen_conn = open_connection(proto_pg().conninfo(), "test-listen");
    notify_log log(*listen_conn);
    ws_conn c(s.port);
    const std::string T = "public.proto_pollmode";
    c.subscribe({{"topic", T}});
    sql("SELECT pglive.publish('proto_pollmode_channel', '{}')");  // messages take no NOTIFY either
    for (int i = 1; i <= 5; ++i) sql("INSERT INTO public.proto_pollmode VALUES (" + std::to_string(i) + ", " + std::to_string(i) + ")");
    sql("UPDATE public.proto_pollmode SET v = v * 10");
    int64_t last = last_position();
    ASSERT_TRUE(c.pump_until([&] { return c.subs[T].pos >= last; })) << "at " << c.subs[T].pos << " of " << last
                                                                      << "; server output:\n" << s.proc->output();
    EXPECT_EQ(c.subs[T].state, rows_of("SELECT * FROM " + T));
    // A marker NOTIFY after all of that: notifications arrive in commit order, so once the
    // marker is here, any NOTIFY from the captured transactions would be here before it.
    sql("NOTIFY pglive, 'marker'");
    ASSERT_TRUE(eventually([&] {
        {
            pqxx::nontransaction n(*listen_conn);  // a round trip lets pending notifications in
            n.exec("SELECT 1");
        }
        listen_conn->get_notifs();
        return !log.payloads.empty() && log.payloads.back() == "marker";
    }, 10s));
    EXPECT_EQ(log.payloads, std::vector<std::string>{"marker"});
}

TEST_F(protocol_e2e, metrics_are_present_and_move) {
    sql("CREATE TABLE public.proto_metrics (id int PRIMARY KEY); SELECT pglive.attach('public.proto_metrics');");
    auto s = serve();
    const std::string T = "public.proto_metrics";
    ws_conn c(s.port);
    c.subscribe({{"topic", T}});
    std::string before;
    EXPECT_TRUE(eventually([&] {
        before = metrics_of(s.port);
        return metric(before, "pglive_database_up") == 1;
    }, 10s)) << before;
    for (const char* name : {"pglive_transactions_total", "pglive_patches_sent_total", "pglive_snapshots_sent_total",
                             "pglive_connections", "pglive_frames_sent_total"})
        EXPECT_GE(metric(before, name), 0) << name << " missing:\n" << before;
    EXPECT_TRUE(eventually([&] { return metric(metrics_of(s.port), "pglive_subscriptions{topic=\"" + T + "\"}") == 1; }, 10s));
    // The gauges read from the database's status (the first tick asks for it).
    EXPECT_TRUE(eventually([&] {
        before = metrics_of(s.port);
        return metric(before, "pglive_outbox_rows") >= 0 && metric(before, "pglive_capture_lag_seconds") >= 0 &&
               metric(before, "pglive_notification_queue_usage") >= 0;
    }, 10s)) << before;
    for (int i = 1; i <= 3; ++i) sql("INSERT INTO public.proto_metrics VALUES (" + std::to_string(i) + ")");
    int64_t last = last_position();
    ASSERT_TRUE(c.pump_until([&] { return c.subs[T].pos >= last; }));
    std::string after;
    EXPECT_TRUE(eventually([&] {
        after = metrics_of(s.port);
        return metric(after, "pglive_transactions_total") >= metric(before, "pglive_transactions_total") + 3 &&
               metric(after, "pglive_patches_sent_total") >= metric(before, "pglive_patches_sent_total") + 3 &&
               metric(after, "pglive_changes_total{topic=\"" + T + "\"}") >= 3 &&
               metric(after, "pglive_topic_patches_total{topic=\"" + T + "\"}") >= 3 &&
               metric(after, "pglive_position") >= double(last);
    }, 10s)) << after;
    EXPECT_NE(after.find("# TYPE pglive_transactions_total counter"), std::string::npos);
}


// Issue 12: every millisecond accounted for. Each transaction delivered is timed from its commit
// at every stage, and the stages follow each other: a later stage's total can never be below an
// earlier one's (each transaction ends a later stage after the earlier one).
TEST_F(protocol_e2e, stage_timings_cover_every_transaction_in_order) {
    sql("CREATE TABLE public.proto_stages (id int PRIMARY KEY); SELECT pglive.attach('public.proto_stages');");
    auto s = serve();
    const std::string T = "public.proto_stages";
    ws_conn c(s.port);
    c.subscribe({{"topic", T}});
    ASSERT_TRUE(c.pump_until([&] { return c.subs[T].snapshots >= 1; }));
    const int n = 20;
    for (int i = 1; i <= n; ++i) sql("INSERT INTO public.proto_stages VALUES (" + std::to_string(i) + ")");
    int64_t last = last_position();
    ASSERT_TRUE(c.pump_until([&] { return c.subs[T].pos >= last; }));
    auto count = [](const std::string& text, const char* stage) {
        return metric(text, std::string("pglive_stage_seconds_count{stage=\"") + stage + "\"}");
    };
    auto sum = [](const std::string& text, const char* stage) {
        return metric(text, std::string("pglive_stage_seconds_sum{stage=\"") + stage + "\"}");
    };
    const char* stages[] = {"sequenced", "read", "hub", "handed", "written"};
    std::string text;
    EXPECT_TRUE(eventually([&] {
        text = metrics_of(s.port);
        for (const char* st : stages)
            if (count(text, st) != n) return false;
        return true;
    }, 10s)) << text;
    // `handed` ends when the hub has handed the frame to every subscriber; a connection on the
    // other thread may write it before that, so `written` follows `hub`, not `handed`.
    for (auto [a, b] : {std::pair{"sequenced", "read"}, {"read", "hub"}, {"hub", "handed"}, {"hub", "written"}})
        EXPECT_LE(sum(text, a), sum(text, b)) << a << " then " << b << ":\n" << text;
    EXPECT_GT(sum(text, "written"), 0) << text;
    EXPECT_EQ(metric(text, "pglive_commit_to_send_seconds_count"), n) << text;
    EXPECT_NE(text.find("pglive_stage_seconds_bucket{stage=\"written\",le=\"+Inf\"} 20"), std::string::npos) << text;
}

}  // namespace
}  // namespace pglive
