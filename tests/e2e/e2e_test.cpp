// e2e_test.cpp — the real `pglive` binary on a real PostgreSQL, driven by real WebSocket clients.
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <sstream>
#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "capture/admin.h"
#include "pgtmp/cluster.h"
#include "capture/db.h"
#include "core/jwt.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_db.h"
#include "support/ws_client.h"

namespace pglive {
namespace {

using namespace std::chrono_literals;
using test::eventually;

// One PostgreSQL for the whole suite (stopped at exit); each test uses its own tables.
test::test_db& db() {
    static test::test_db d;
    return d;
}
cluster& pg() { return db().pg(); }
void sql(const std::string& text) { db().sql(text); }
json query_json(const std::string& text) { return db().query_json(text); }
json table_state(const std::string& table) { return db().rows_of("SELECT * FROM " + table); }
int64_t settled_position() { return db().settled_position(); }
using test::view;

// Reads messages into `v` until `pred` holds or the deadline passes.
bool pump_until(test::ws_client& ws, view& v, const std::function<bool()>& pred, std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (!pred()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        auto m = ws.read(std::min(left, std::chrono::milliseconds(200)));
        if (m) v.take(*m);
    }
    return true;
}

struct e2e : ::testing::Test {
    static void SetUpTestSuite() { pg(); }
};

test::serve_process serve(std::vector<std::string> extra = {"--anonymous-topics", "*"}) {
    return test::start_serve(db().serve_conninfo(), std::move(extra));
}

std::unique_ptr<test::ws_client> subscribe(uint16_t port, const std::string& topic, view& v,
                                           const std::string& target = "/ws") {
    auto ws = std::make_unique<test::ws_client>("127.0.0.1", port, target);
    ws->send(json{{"op", "subscribe"}, {"ref", "1"}, {"topic", topic}});
    auto first = ws->read(10s);
    EXPECT_TRUE(first.has_value());
    if (first) {
        EXPECT_EQ((*first)["type"], "subscribed") << first->dump();
    }
    EXPECT_TRUE(pump_until(*ws, v, [&] { return v.snapshots > 0; }, 20s));
    return ws;
}

int run_cli(std::vector<std::string> args, std::string* out = nullptr) {
    args.insert(args.begin(), PGLIVE_BINARY);
    test::process p(args);
    auto st = p.wait_exit(60s);
    if (out) *out = p.output();
    return st.value_or(-1);
}

TEST_F(e2e, cli_exit_statuses_and_clear_errors) {
    std::string out;
    EXPECT_EQ(run_cli({}, &out), 2);
    EXPECT_EQ(run_cli({"frobnicate"}, &out), 2);
    EXPECT_NE(out.find("unknown command 'frobnicate'"), std::string::npos) << out;
    EXPECT_EQ(run_cli({"attach"}, &out), 2);
    EXPECT_EQ(run_cli({"--version"}, &out), 0);
    EXPECT_NE(out.find("pglive "), std::string::npos);
    EXPECT_EQ(run_cli({"attach", "public.no_such_table", "--db", pg().conninfo()}, &out), 1);
    EXPECT_NE(out.find("no_such_table"), std::string::npos) << out;
    sql("CREATE TABLE IF NOT EXISTS public.e2e_nokey (a int, b text)");
    EXPECT_EQ(run_cli({"attach", "public.e2e_nokey", "--db", pg().conninfo()}, &out), 1);
    EXPECT_NE(out.find("--key"), std::string::npos) << out;
    EXPECT_EQ(run_cli({"attach", "public.e2e_nokey", "--key", "a", "--db", pg().conninfo()}, &out), 0) << out;
    EXPECT_EQ(run_cli({"status", "--db", pg().conninfo()}, &out), 0) << out;
    EXPECT_NE(out.find("public.e2e_nokey"), std::string::npos) << out;
    EXPECT_EQ(run_cli({"detach", "public.e2e_nokey", "--db", pg().conninfo()}, &out), 0) << out;
}

TEST_F(e2e, serve_refuses_to_start_without_the_schema) {
    {
        auto conn = open_connection(pg().conninfo(), "test");
        pqxx::nontransaction n(*conn);
        n.exec("DROP DATABASE IF EXISTS e2e_empty");
        n.exec("CREATE DATABASE e2e_empty");
    }
    test::process p({PGLIVE_BINARY, "serve", "--db", pg().conninfo("e2e_empty"), "--listen", "127.0.0.1:0"});
    auto st = p.wait_exit(30s);
    ASSERT_TRUE(st.has_value()) << p.output();
    EXPECT_EQ(*st, 1);
    EXPECT_NE(p.output().find("pglive install"), std::string::npos) << p.output();
}

TEST_F(e2e, snapshot_then_one_patch_per_transaction_in_commit_order) {
    sql("CREATE TABLE public.e2e_orders (id int PRIMARY KEY, status text, amount numeric(10,2));"
        "INSERT INTO public.e2e_orders VALUES (1, 'open', 10), (2, 'open', 20);"
        "SELECT pglive.attach('public.e2e_orders');");
    auto s = serve();
    view v;
    auto ws = subscribe(s.port, "public.e2e_orders", v);
    EXPECT_EQ(v.state, table_state("public.e2e_orders"));

    sql("BEGIN; INSERT INTO public.e2e_orders VALUES (3, 'open', 30);"
        "UPDATE public.e2e_orders SET amount = 11 WHERE id = 1;"
        "INSERT INTO public.e2e_orders VALUES (4, 'late', 40); COMMIT;");
    ASSERT_TRUE(pump_until(*ws, v, [&] { return v.patches.size() >= 1; }, 10s));
    EXPECT_EQ(v.patches.size(), 1u);  // three statements, one transaction, one patch
    EXPECT_EQ(v.state, table_state("public.e2e_orders"));

    sql("UPDATE public.e2e_orders SET status = 'done' WHERE id = 2");
    sql("DELETE FROM public.e2e_orders WHERE id = 3");
    sql("UPDATE public.e2e_orders SET id = 9 WHERE id = 4");  // a key change
    int64_t last = settled_position();
    ASSERT_TRUE(pump_until(*ws, v, [&] { return v.pos >= last; }, 10s));
    EXPECT_EQ(v.state, table_state("public.e2e_orders"));
    EXPECT_TRUE(test::strictly_increasing(v.positions()));
    sql("TRUNCATE public.e2e_orders");
    last = settled_position();
    ASSERT_TRUE(pump_until(*ws, v, [&] { return v.pos >= last; }, 10s));
    EXPECT_EQ(v.state, json::object());
}

TEST_F(e2e, a_100_kb_row_arrives_whole) {
    sql("CREATE TABLE public.e2e_big (id int PRIMARY KEY, body text); SELECT pglive.attach('public.e2e_big');");
    auto s = serve();
    view v;
    auto ws = subscribe(s.port, "public.e2e_big", v);
    sql("INSERT INTO public.e2e_big SELECT 1, repeat('x', 100000)");
    ASSERT_TRUE(pump_until(*ws, v, [&] { return v.state.contains("1"); }, 10s));
    EXPECT_EQ(v.state["1"]["body"].get<std::string>().size(), 100000u);
}

// Writers run while a client subscribes and while the listener's connection is killed:
// the client ends with exactly the table, and never sees a position twice.
TEST_F(e2e, concurrent_writers_snapshot_hand_off_and_killed_listener) {
    sql("CREATE TABLE public.e2e_stream (id int PRIMARY KEY, n int, w int); SELECT pglive.attach('public.e2e_stream');");
    auto s = serve();
    std::atomic<bool> stop{false};
    std::atomic<int> written{0};
    const int per_writer = 2500;
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w)
        writers.emplace_back([&, w] {
            auto conn = open_connection(pg().conninfo(), "test-writer");
            std::mt19937 rng(w);
            for (int i = 0; i < per_writer; ++i) {
                int id = w * per_writer + i;
                pqxx::work t(*conn);
                t.exec_params("INSERT INTO public.e2e_stream VALUES ($1, 0, $2)", id, w);
                if (i > 0 && rng() % 3 == 0) t.exec_params("UPDATE public.e2e_stream SET n = n + 1 WHERE id = $1", id - 1);
                if (i > 1 && rng() % 7 == 0) t.exec_params("DELETE FROM public.e2e_stream WHERE id = $1", id - 2);
                t.commit();
                ++written;
            }
        });
    // Subscribe mid-stream: the snapshot must meet the stream exactly.
    ASSERT_TRUE(eventually([&] { return written > 500; }, 30s));
    view v;
    auto ws = subscribe(s.port, "public.e2e_stream", v);
    std::thread killer([&] {
        for (int k = 0; k < 4 && !stop; ++k) {
            eventually([&] { return written > 2000 * (k + 1) || stop; }, 30s);
            sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pglive-listener'");
        }
    });
    std::thread reader([&] { pump_until(*ws, v, [&] { return stop.load(); }, 120s); });
    for (auto& t : writers) t.join();
    int64_t last = settled_position();
    stop = true;
    reader.join();
    killer.join();
    ASSERT_TRUE(pump_until(*ws, v, [&] { return v.pos >= last; }, 30s))
        << "at " << v.pos << " of " << last << "; server output:\n" << s.proc->output() << "\nmetrics:\n"
        << test::http_get("127.0.0.1", s.port, "/metrics").body;
    EXPECT_EQ(v.state, table_state("public.e2e_stream"));
    EXPECT_TRUE(test::strictly_increasing(v.positions()));
    auto positions = v.positions();
    std::set<int64_t> unique(positions.begin(), positions.end());
    EXPECT_EQ(unique.size(), positions.size());
}

TEST_F(e2e, keeps_serving_across_a_database_restart_and_reports_health) {
    sql("CREATE TABLE public.e2e_restart (id int PRIMARY KEY, v text); SELECT pglive.attach('public.e2e_restart');");
    auto s = serve({"--anonymous-topics", "*", "--token-secret", "s3cret"});
    view v;
    auto ws = subscribe(s.port, "public.e2e_restart", v);
    EXPECT_EQ(test::http_get("127.0.0.1", s.port, "/healthz").status, 200);
    const std::map<std::string, std::string> admin = {
        {"Authorization", "Bearer " + sign_jwt(json{{"sub", "ops"}, {"admin", true}}, "s3cret")}};
    EXPECT_EQ(test::http_get("127.0.0.1", s.port, "/api/admin/status", admin).status, 200);
    pg().stop();
    EXPECT_TRUE(eventually([&] { return test::http_get("127.0.0.1", s.port, "/healthz").status == 503; }, 20s));
    // The admin status says the database is away (503 with the reason), not an empty table list.
    auto status = test::http_get("127.0.0.1", s.port, "/api/admin/status", admin);
    EXPECT_EQ(status.status, 503) << status.body;
    EXPECT_TRUE(json::parse(status.body, nullptr, false).contains("error")) << status.body;
    pg().start();
    EXPECT_TRUE(eventually([&] { return test::http_get("127.0.0.1", s.port, "/healthz").status == 200; }, 30s));
    sql("INSERT INTO public.e2e_restart VALUES (1, 'after restart')");
    ASSERT_TRUE(pump_until(*ws, v, [&] { return v.state.contains("1"); }, 20s));
    EXPECT_EQ(v.state, table_state("public.e2e_restart"));
}

TEST_F(e2e, tokens_topics_and_refusals) {
    sql("CREATE TABLE public.e2e_auth (id int PRIMARY KEY); SELECT pglive.attach('public.e2e_auth');");
    auto s = serve({"--token-secret", "s3cret"});
    std::string good = sign_jwt(json{{"sub", "ann"}, {"topics", {"public.e2e_*"}}}, "s3cret");
    std::string other = sign_jwt(json{{"sub", "bob"}, {"topics", {"private.*"}}}, "s3cret");
    std::string forged = sign_jwt(json{{"sub", "eve"}, {"topics", {"*"}}}, "guess");

    view v;
    auto ws = subscribe(s.port, "public.e2e_auth", v, "/ws?token=" + good);
    EXPECT_EQ(v.snapshots, 1);

    test::ws_client anon("127.0.0.1", s.port, "/ws");  // anonymous: nothing by default
    anon.send(json{{"op", "subscribe"}, {"ref", "a"}, {"topic", "public.e2e_auth"}});
    auto e = anon.read(10s);
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["code"], "forbidden");
    anon.send(json{{"op", "auth"}, {"ref", "b"}, {"token", forged}});
    e = anon.read(10s);
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["code"], "unauthorized");
    anon.send(json{{"op", "auth"}, {"ref", "c"}, {"token", other}});
    anon.read(10s);  // accepted
    anon.send(json{{"op", "subscribe"}, {"ref", "d"}, {"topic", "public.e2e_auth"}});
    e = anon.read(10s);
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["code"], "forbidden");
    anon.send(json{{"op", "ping"}, {"ref", "p"}});
    e = anon.read(10s);
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["type"], "pong");

    EXPECT_EQ(test::http_get("127.0.0.1", s.port, "/api/topics", {{"Authorization", "Bearer " + forged}}).status, 401);
    auto topics = test::http_get("127.0.0.1", s.port, "/api/topics", {{"Authorization", "Bearer " + good}});
    EXPECT_EQ(topics.status, 200);
    EXPECT_NE(topics.body.find("public.e2e_auth"), std::string::npos) << topics.body;
}

TEST_F(e2e, the_server_prunes_the_outbox_to_its_retention) {
    sql("CREATE TABLE public.e2e_retention (id int PRIMARY KEY); SELECT pglive.attach('public.e2e_retention');");
    auto s = serve({"--anonymous-topics", "*", "--retention-count", "3", "--prune-interval-s", "1"});
    for (int i = 1; i <= 10; ++i) sql("INSERT INTO public.e2e_retention VALUES (" + std::to_string(i) + ")");
    int64_t last = settled_position();
    EXPECT_TRUE(eventually([&] {
        return query_json("SELECT to_jsonb(count(*)) FROM pglive.tx").get<int>() <= 3 &&
               query_json("SELECT to_jsonb(pruned_upto) FROM pglive.state").get<int64_t>() >= last - 3;
    }, 20s)) << query_json("SELECT jsonb_build_object('tx', (SELECT count(*) FROM pglive.tx), 'state', "
                           "(SELECT to_jsonb(s) FROM pglive.state s), 'nodes', (SELECT jsonb_agg(n) FROM pglive.nodes n), "
                           "'now', now())").dump();
    // Pruning keeps the newest transactions whole: every kept one still has its outbox rows.
    EXPECT_EQ(query_json("SELECT to_jsonb(count(*)) FROM pglive.tx t WHERE NOT EXISTS "
                         "(SELECT 1 FROM pglive.outbox o WHERE o.xid = t.xid)").get<int>(), 0);
}

// Retention never passes what a live node has not delivered: a serve is in pglive.nodes from
// its start, its delivered position follows the stream, and it leaves when it stops.
TEST_F(e2e, a_serve_records_what_it_delivered_and_leaves_when_it_stops) {
    sql("CREATE TABLE public.e2e_nodes (id int PRIMARY KEY); SELECT pglive.attach('public.e2e_nodes');");
    auto s = serve();
    std::string mine = "SELECT coalesce((SELECT to_jsonb(delivered) FROM pglive.nodes WHERE node_id LIKE '%:" +
                       std::to_string(s.proc->pid()) + ":%'), 'null')";
    EXPECT_FALSE(query_json(mine).is_null()) << "registered before it serves";
    sql("INSERT INTO public.e2e_nodes VALUES (1)");
    int64_t last = settled_position();
    EXPECT_TRUE(eventually([&] {
        json d = query_json(mine);
        return d.is_number() && d.get<int64_t>() >= last;
    }, 10s)) << query_json("SELECT coalesce(jsonb_agg(n), '[]') FROM pglive.nodes n").dump();
    s.proc->signal(SIGTERM);
    ASSERT_TRUE(s.proc->wait_exit(10s));
    EXPECT_TRUE(query_json(mine).is_null()) << "a stopped node holds no retention";
}

TEST_F(e2e, every_connection_names_itself_pglive) {
    auto s = serve();
    ASSERT_TRUE(eventually([&] {
        return query_json("SELECT to_jsonb(count(*)) FROM pg_stat_activity WHERE application_name = 'pglive-listener'")
                   .get<int>() >= 1;
    }, 10s));
    auto names = query_json(
        "SELECT coalesce(jsonb_agg(DISTINCT application_name), '[]') FROM pg_stat_activity WHERE "
        "application_name LIKE 'pglive%'");
    EXPECT_GE(names.size(), 2u) << names.dump();
}

// The README's least-privilege blocks, in order (```sql blocks of its "Least privilege" section).
std::vector<std::string> readme_privilege_blocks() {
    std::ifstream in(std::string(PGLIVE_SOURCE_DIR) + "/README.md");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    auto at = text.find("### Least privilege");
    auto end = text.find("\n## ", at);
    std::vector<std::string> blocks;
    for (auto b = text.find("```sql\n", at); b != std::string::npos && b < end; b = text.find("```sql\n", b)) {
        b += 7;
        auto e = text.find("```", b);
        blocks.push_back(text.substr(b, e - b));
        b = e + 3;
    }
    return blocks;
}

void sql_as(const std::string& conninfo, const std::string& text) {
    auto c = open_connection(conninfo, "test");
    pqxx::work w(*c);
    w.exec(text);
    w.commit();
}

// Issue 10.2: the capture triggers ran with the writer's rights, so a role with only INSERT on
// its own table got "permission denied for schema pglive"; and a role that could write pglive's
// tables could forge changes. The README's blocks, as pasted, on a fresh database: a
// non-superuser serve, an application role with only INSERT/UPDATE/DELETE on its table.
TEST_F(e2e, least_privilege_roles_from_the_readme) {
    {
        auto c = open_connection(pg().conninfo(), "test");
        pqxx::nontransaction n(*c);
        n.exec("CREATE DATABASE lp");
    }
    auto as = [&](const std::string& role) {
        auto ci = pg().conninfo("lp");
        return ci.replace(ci.find("postgres@"), 9, role + "@");
    };
    auto blocks = readme_privilege_blocks();
    ASSERT_EQ(blocks.size(), 3u) << "the README's least-privilege section changed shape";
    sql_as(pg().conninfo("lp"), blocks[0]);
    std::string out;
    ASSERT_EQ(run_cli({"install", "--db", as("pglive_admin")}, &out), 0) << out;
    sql_as(as("pglive_admin"), blocks[1]);
    sql_as(pg().conninfo("lp"), "CREATE TABLE public.orders (id int PRIMARY KEY, status text, amount numeric);"
                                "CREATE ROLE app_writer LOGIN;"
                                "GRANT INSERT, UPDATE, DELETE ON public.orders TO app_writer");
    sql_as(pg().conninfo("lp"), blocks[2]);
    ASSERT_EQ(run_cli({"attach", "public.orders", "--db", as("pglive_admin")}, &out), 0) << out;

    auto s = test::start_serve(as("pglive_serve"), {"--anonymous-topics", "*"});
    view v;
    auto ws = subscribe(s.port, "public.orders", v);
    // The application role writes as before: no right on pglive needed.
    sql_as(as("app_writer"), "INSERT INTO public.orders VALUES (1, 'open', 10), (2, 'open', 20)");
    sql_as(as("app_writer"), "UPDATE public.orders SET status = 'done'");
    sql_as(as("app_writer"), "DELETE FROM public.orders");  // DELETE with a WHERE would need SELECT
    sql_as(as("app_writer"), "INSERT INTO public.orders VALUES (3, 'late', 30)");
    auto want = [&] {
        auto c = open_connection(pg().conninfo("lp"), "test");
        pqxx::nontransaction n(*c);
        json rows = json::object();
        for (auto r : n.exec("SELECT id::text, to_jsonb(o)::text FROM public.orders o")) rows[r[0].c_str()] = json::parse(r[1].c_str());
        return rows;
    }();
    ASSERT_TRUE(pump_until(*ws, v, [&] { return v.state == want; }, 20s)) << v.state.dump() << "\n" << s.proc->output();
    // ...and can neither forge a change nor publish.
    for (std::string forge : {"INSERT INTO pglive.outbox (topic, op) VALUES ('public.orders', 'T')",
                              "SELECT pglive.publish('public.orders', '{}')", "UPDATE pglive.tx SET position = 0"}) {
        try {
            sql_as(as("app_writer"), forge);
            ADD_FAILURE() << "app_writer could run: " << forge;
        } catch (const pqxx::sql_error& e) {
            EXPECT_NE(std::string(e.what()).find("permission denied"), std::string::npos) << e.what();
        }
    }
    // serve is no superuser, and pglive's tables hold nothing it may not read.
    auto c = open_connection(pg().conninfo("lp"), "test");
    pqxx::nontransaction n(*c);
    EXPECT_FALSE(n.exec("SELECT rolsuper FROM pg_roles WHERE rolname = 'pglive_serve'")[0][0].as<bool>());
}

}  // namespace
}  // namespace pglive
