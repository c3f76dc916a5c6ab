// policy_e2e_test.cpp — row policies through the real `pglive serve`: two tenants on every transport, resume, CLI, admin views.
#include <gtest/gtest.h>

#include "core/jwt.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_db.h"
#include "support/ws_client.h"

namespace pglive {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::view;

// This suite's own PostgreSQL (its policies and roles touch nobody else's tables).
test::test_db& pol_db() {
    static test::test_db d;
    return d;
}
void sql(const std::string& text) { pol_db().sql(text); }
json rows_of(const std::string& select) { return pol_db().rows_of(select); }
int64_t last_position() { return pol_db().settled_position(); }

const std::string T = "public.pol_orders";
const std::string secret = "s3cret";

std::string token(json claims) {
    claims["sub"] = "u";
    if (!claims.contains("topics")) claims["topics"] = {"public.*"};
    return sign_jwt(claims, secret);
}
const std::string acme = token({{"tenant", "acme"}});
const std::string bolt = token({{"tenant", "bolt"}});
std::map<std::string, std::string> bearer(const std::string& t) { return {{"Authorization", "Bearer " + t}}; }

json acme_rows() { return rows_of("SELECT * FROM " + T + " WHERE tenant = 'acme'"); }
json bolt_rows() { return rows_of("SELECT * FROM " + T + " WHERE tenant = 'bolt'"); }

// Every byte a reader got must be free of the other tenant's marker values: rows of acme carry
// "AAA-…" notes, rows of bolt "BBB-…" (a row that moves changes its note in the same UPDATE).
void never_saw(const std::string& bytes, const std::string& tenant, const std::string& marker) {
    EXPECT_EQ(bytes.find(tenant), std::string::npos) << bytes;
    EXPECT_EQ(bytes.find(marker), std::string::npos) << bytes;
}

// A WebSocket reader keeping every text frame as it came.
struct raw_ws {
    test::ws_client ws;
    std::string bytes;
    view v;
    std::vector<json> others;
    raw_ws(uint16_t port, const std::string& tok) : ws("127.0.0.1", port, "/ws?token=" + tok) {}
    bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline = 10s) {
        auto until = std::chrono::steady_clock::now() + deadline;
        while (!pred()) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0 || ws.closed()) return false;
            auto t = ws.read_text(std::min(left, 200ms));
            if (!t) continue;
            bytes += *t + "\n";
            json m = json::parse(*t);
            if (m["type"] == "snapshot" || m["type"] == "patch") v.take(m);
            else others.push_back(m);
        }
        return true;
    }
    // Subscribes; the reply (subscribed or error).
    json subscribe(std::optional<int64_t> since = std::nullopt) {
        json req = {{"op", "subscribe"}, {"ref", "s"}, {"topic", T}};
        if (since) req["since"] = std::to_string(*since);
        ws.send(req);
        size_t seen = others.size();
        EXPECT_TRUE(pump_until([&] { return others.size() > seen; })) << "no reply";
        return others.size() > seen ? others[seen] : json();
    }
};

struct policy_e2e : ::testing::Test {
    static void SetUpTestSuite() {
        sql("DROP TABLE IF EXISTS public.pol_orders; CREATE TABLE public.pol_orders (id int PRIMARY KEY, tenant text, note text);"
            "INSERT INTO public.pol_orders VALUES (1, 'acme', 'AAA-1'), (2, 'bolt', 'BBB-2'), (3, 'acme', 'AAA-3');"
            "SELECT pglive.attach('public.pol_orders', policy => 'tenant=eq.{tenant}');");
    }
    static test::serve_process serve() {
        return test::start_serve(pol_db().serve_conninfo(),
                                 {"--token-secret", secret, "--anonymous-topics", "public.*", "--history-transactions", "3"});
    }
};

TEST_F(policy_e2e, websocket_tenants_never_see_each_others_rows_and_a_moved_row_is_remove_then_add) {
    auto s = serve();
    raw_ws a(s.port, acme), b(s.port, bolt), admin(s.port, token({{"admin", true}, {"topics", {"*"}}}));
    for (raw_ws* c : {&a, &b, &admin}) {
        EXPECT_EQ(c->subscribe()["type"], "subscribed");
        ASSERT_TRUE(c->pump_until([&] { return c->v.snapshots == 1; }));
    }
    EXPECT_EQ(a.v.state, acme_rows());
    EXPECT_EQ(b.v.state, bolt_rows());
    EXPECT_EQ(admin.v.state, rows_of("SELECT * FROM " + T));

    sql("INSERT INTO public.pol_orders VALUES (10, 'acme', 'AAA-10'), (11, 'bolt', 'BBB-11')");
    sql("UPDATE public.pol_orders SET note = 'BBB-2b' WHERE id = 2");
    sql("UPDATE public.pol_orders SET tenant = 'bolt', note = 'BBB-moved' WHERE id = 1");  // acme → bolt
    int64_t moved_at = last_position();
    sql("UPDATE public.pol_orders SET tenant = 'acme', note = 'AAA-back' WHERE id = 11");  // bolt → acme
    int64_t last = last_position();
    for (raw_ws* c : {&a, &b, &admin}) ASSERT_TRUE(c->pump_until([&] { return c->v.pos >= last; }));
    EXPECT_EQ(a.v.state, acme_rows());
    EXPECT_EQ(b.v.state, bolt_rows());
    EXPECT_EQ(admin.v.state, rows_of("SELECT * FROM " + T));
    auto patch_at = [&](const view& v, int64_t pos) {
        for (auto& p : v.patches)
            if (std::stoll(p["pos"].get<std::string>()) == pos) return p["patch"];
        return json();
    };
    EXPECT_EQ(patch_at(a.v, moved_at), json::parse(R"([{"op":"remove","path":"/1"}])"));
    json add = patch_at(b.v, moved_at);
    ASSERT_EQ(add.size(), 1u) << add.dump();
    EXPECT_EQ(add[0]["op"], "add");
    EXPECT_EQ(add[0]["path"], "/1");
    never_saw(a.bytes, "bolt", "BBB");
    never_saw(b.bytes, "acme", "AAA");

    // A token without the claim, and anonymous access, read nothing of the topic.
    raw_ws none(s.port, token({{"org", "x"}}));
    json e = none.subscribe();
    EXPECT_EQ(e["code"], "forbidden") << e.dump();
    EXPECT_NE(e["message"].get<std::string>().find("'tenant'"), std::string::npos) << e.dump();
    test::ws_client anon("127.0.0.1", s.port, "/ws");
    anon.send(json{{"op", "subscribe"}, {"ref", "a"}, {"topic", T}});
    auto ae = anon.read(10s);
    ASSERT_TRUE(ae);
    EXPECT_EQ((*ae)["code"], "forbidden") << ae->dump();
    EXPECT_NE((*ae)["message"].get<std::string>().find("anonymous"), std::string::npos) << ae->dump();
    // A claim value that looks like syntax is one literal: it matches no tenant.
    raw_ws hostile(s.port, token({{"tenant", "acme,bolt"}}));
    EXPECT_EQ(hostile.subscribe()["type"], "subscribed");
    ASSERT_TRUE(hostile.pump_until([&] { return hostile.v.snapshots == 1; }));
    EXPECT_EQ(hostile.v.state, json::object());
}

TEST_F(policy_e2e, sse_long_poll_and_rest_rows_read_only_the_callers_tenant) {
    auto s = serve();
    // REST rows
    auto ra = test::http_get("127.0.0.1", s.port, "/api/topics/" + T + "/rows", bearer(acme));
    ASSERT_EQ(ra.status, 200) << ra.body;
    EXPECT_EQ(json::parse(ra.body)["rows"], acme_rows());
    never_saw(ra.body, "bolt", "BBB");
    auto rb = test::http_get("127.0.0.1", s.port, "/api/topics/" + T + "/rows", bearer(bolt));
    EXPECT_EQ(json::parse(rb.body)["rows"], bolt_rows());
    never_saw(rb.body, "acme", "AAA");
    auto rn = test::http_get("127.0.0.1", s.port, "/api/topics/" + T + "/rows", bearer(token({{"org", "x"}})));
    EXPECT_EQ(rn.status, 403) << rn.body;
    EXPECT_NE(rn.body.find("'tenant'"), std::string::npos) << rn.body;
    auto rh = test::http_get("127.0.0.1", s.port, "/api/topics/" + T + "/rows", bearer(token({{"tenant", "(acme,bolt)"}})));
    EXPECT_EQ(json::parse(rh.body)["rows"], json::object()) << rh.body;
    auto radmin = test::http_get("127.0.0.1", s.port, "/api/topics/" + T + "/rows",
                                 bearer(token({{"admin", true}, {"topics", {"*"}}})));
    EXPECT_EQ(json::parse(radmin.body)["rows"], rows_of("SELECT * FROM " + T));

    // SSE: a refusal up front, then a stream for the caller's tenant only.
    test::sse_client refused("127.0.0.1", s.port, "/sse?topic=" + T, bearer(token({{"tenant", json::array({"acme"})}})));
    EXPECT_EQ(refused.status(), 403);
    EXPECT_NE(refused.error_body().find("an array"), std::string::npos) << refused.error_body();
    test::sse_client sse("127.0.0.1", s.port, "/sse?topic=" + T, bearer(acme));
    ASSERT_EQ(sse.status(), 200) << sse.error_body();
    view sv;
    std::string sse_bytes;
    auto read_sse = [&](int64_t upto) {
        return eventually([&] {
            if (auto e = sse.read(200ms)) {
                sse_bytes += e->id + " " + e->data + "\n";
                sv.take(json::parse(e->data));
            }
            return sv.snapshots > 0 && sv.pos >= upto;
        }, 10s);
    };
    ASSERT_TRUE(read_sse(0));
    // long-poll: a snapshot, then the patches after it
    auto pa = test::http_get("127.0.0.1", s.port, "/poll?topic=" + T, bearer(acme));
    ASSERT_EQ(pa.status, 200) << pa.body;
    json first = json::parse(pa.body);
    EXPECT_EQ(first["snapshot"], acme_rows());
    never_saw(pa.body, "bolt", "BBB");

    sql("INSERT INTO public.pol_orders VALUES (20, 'bolt', 'BBB-20'), (21, 'acme', 'AAA-21')");
    sql("UPDATE public.pol_orders SET tenant = 'bolt', note = 'BBB-moved-3' WHERE id = 3");  // leaves acme
    sql("UPDATE public.pol_orders SET tenant = 'acme', note = 'AAA-from-b' WHERE id = 20");  // joins acme
    int64_t last = last_position();
    ASSERT_TRUE(read_sse(last));
    EXPECT_EQ(sv.state, acme_rows());
    never_saw(sse_bytes, "bolt", "BBB");

    json state = first["snapshot"];
    std::string poll_bytes;
    std::string pos = first["pos"];
    ASSERT_TRUE(eventually([&] {
        auto r = test::http_get("127.0.0.1", s.port, "/poll?topic=" + T + "&since=" + pos + "&timeout=0", bearer(acme));
        if (r.status != 200) return false;
        poll_bytes += r.body;
        json got = json::parse(r.body);
        for (auto& p : got["patches"]) state.patch_inplace(p["patch"]);
        pos = got["pos"];
        return std::stoll(pos) >= last;
    }, 10s));
    EXPECT_EQ(state, acme_rows());
    never_saw(poll_bytes, "bolt", "BBB");
    auto pn = test::http_get("127.0.0.1", s.port, "/poll?topic=" + T, bearer(token({{"tenant", nullptr}})));
    EXPECT_EQ(pn.status, 403) << pn.body;
}

// Resume through the policy: from memory on the same node, from the outbox on a fresh one and
// past the memory history (3 transactions), on WebSocket, SSE's Last-Event-ID and long-poll.
TEST_F(policy_e2e, resume_from_memory_and_from_the_outbox_keeps_to_the_tenant) {
    auto s = serve();
    view before;
    {
        raw_ws a(s.port, bolt);
        a.subscribe();
        ASSERT_TRUE(a.pump_until([&] { return a.v.snapshots == 1; }));
        before = a.v;
    }
    sql("INSERT INTO public.pol_orders VALUES (30, 'acme', 'AAA-30'), (31, 'bolt', 'BBB-31')");
    sql("UPDATE public.pol_orders SET note = 'AAA-30b' WHERE id = 30");
    sql("UPDATE public.pol_orders SET tenant = 'acme', note = 'AAA-took-2' WHERE id = 2");  // leaves bolt
    int64_t mid = last_position();
    auto resume_ws = [&](uint16_t port, int64_t upto) {
        raw_ws c(port, bolt);
        c.v = before;
        c.v.patches.clear();
        EXPECT_EQ(c.subscribe(before.pos)["type"], "subscribed");
        EXPECT_TRUE(c.pump_until([&] { return c.v.pos >= upto; })) << c.bytes;
        EXPECT_EQ(c.v.snapshots, before.snapshots) << "a resume, not a snapshot";
        EXPECT_EQ(c.v.state, bolt_rows());
        never_saw(c.bytes, "acme", "AAA");
        return c.v.patches.size();
    };
    EXPECT_GE(resume_ws(s.port, mid), 2u);  // from memory: bolt's insert and the row leaving
    // More than the memory holds for the topic: the outbox answers, here and on a fresh node.
    for (int i = 0; i < 4; ++i) sql("UPDATE public.pol_orders SET note = 'AAA-30-" + std::to_string(i) + "' WHERE id = 30");
    sql("INSERT INTO public.pol_orders VALUES (32, 'bolt', 'BBB-32')");
    int64_t last = last_position();
    EXPECT_GE(resume_ws(s.port, last), 3u);
    auto s2 = serve();
    EXPECT_GE(resume_ws(s2.port, last), 3u);

    test::sse_client sse("127.0.0.1", s2.port, "/sse?topic=" + T,
                         {{"Authorization", "Bearer " + bolt}, {"Last-Event-ID", std::to_string(before.pos)}});
    ASSERT_EQ(sse.status(), 200) << sse.error_body();
    view sv = before;
    std::string sse_bytes;
    ASSERT_TRUE(eventually([&] {
        if (auto e = sse.read(200ms)) {
            sse_bytes += e->data + "\n";
            sv.take(json::parse(e->data));
        }
        return sv.pos >= last;
    }, 10s));
    EXPECT_EQ(sv.snapshots, before.snapshots);
    EXPECT_EQ(sv.state, bolt_rows());
    never_saw(sse_bytes, "acme", "AAA");

    json state = before.state;
    std::string pos = std::to_string(before.pos), poll_bytes;
    auto s3 = serve();  // memory empty: the first answer comes from the outbox
    ASSERT_TRUE(eventually([&] {
        auto r = test::http_get("127.0.0.1", s3.port, "/poll?topic=" + T + "&since=" + pos + "&timeout=5", bearer(bolt));
        json got = r.status == 200 ? json::parse(r.body) : json();
        if (!got.contains("patches")) return ADD_FAILURE() << r.body, true;
        poll_bytes += r.body;
        for (auto& p : got["patches"]) state.patch_inplace(p["patch"]);
        pos = got["pos"];
        return std::stoll(pos) >= last;
    }, 10s));
    EXPECT_EQ(state, bolt_rows());
    never_saw(poll_bytes, "acme", "AAA");
}

TEST_F(policy_e2e, a_changed_policy_ends_live_subscriptions_and_the_next_one_reads_under_the_new) {
    sql("DROP TABLE IF EXISTS public.pol_live; CREATE TABLE public.pol_live (id int PRIMARY KEY, tenant text, note text);"
        "INSERT INTO public.pol_live VALUES (1, 'acme', 'AAA-1'), (200, 'acme', 'AAA-200'), (2, 'bolt', 'BBB-2');"
        "SELECT pglive.attach('public.pol_live', policy => 'tenant=eq.{tenant}');");
    auto s = serve();
    test::ws_client ws("127.0.0.1", s.port, "/ws?token=" + acme);
    ws.send(json{{"op", "subscribe"}, {"ref", "1"}, {"topic", "public.pol_live"}});
    auto snap = ws.read_until([](const json& m) { return m["type"] == "snapshot"; }, 10s);
    ASSERT_TRUE(snap);
    EXPECT_EQ((*snap)["rows"].size(), 2u);
    sql("SELECT pglive.attach('public.pol_live', policy => 'tenant=eq.{tenant}&id=lt.100')");  // tightened
    auto e = ws.read_until([](const json& m) { return m["type"] == "error"; }, 10s);
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["code"], "forbidden") << e->dump();
    EXPECT_NE((*e)["message"].get<std::string>().find("changed"), std::string::npos) << e->dump();
    ws.send(json{{"op", "subscribe"}, {"ref", "2"}, {"topic", "public.pol_live"}});
    snap = ws.read_until([](const json& m) { return m["type"] == "snapshot"; }, 10s);
    ASSERT_TRUE(snap);
    EXPECT_EQ((*snap)["rows"], rows_of("SELECT * FROM public.pol_live WHERE tenant = 'acme' AND id < 100"));
}

int run_cli(std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), PGLIVE_BINARY);
    test::process p(args);
    auto st = p.wait_exit(60s);
    *out = p.output();
    return st.value_or(-1);
}

TEST_F(policy_e2e, cli_attach_policy_status_and_the_admin_views) {
    sql("DROP TABLE IF EXISTS public.pol_cli; CREATE TABLE public.pol_cli (id int PRIMARY KEY, tenant text, region text)");
    std::string out, db = pol_db().conninfo();
    EXPECT_EQ(run_cli({"attach", "public.pol_cli", "--db", db, "--policy", "tenant=eq.{tenant}", "--policy",
                       "region=in.({region},global)"}, &out), 0) << out;
    EXPECT_NE(out.find("policy tenant=eq.{tenant}&region=in.({region},global)"), std::string::npos) << out;
    EXPECT_EQ(run_cli({"attach", "public.pol_cli", "--db", db}, &out), 0) << out;  // kept
    EXPECT_EQ(run_cli({"status", "--db", db, "--json"}, &out), 0) << out;
    json st = json::parse(out);
    json found;
    for (auto& t : st["tables"])
        if (t["topic"] == "public.pol_cli") found = t;
    EXPECT_EQ(found.value("policy", ""), "tenant=eq.{tenant}&region=in.({region},global)") << out;
    EXPECT_EQ(run_cli({"status", "--db", db}, &out), 0) << out;
    EXPECT_NE(out.find("POLICY"), std::string::npos) << out;
    EXPECT_NE(out.find("tenant=eq.{tenant}&region=in.({region},global)"), std::string::npos) << out;
    EXPECT_EQ(run_cli({"attach", "public.pol_cli", "--db", db, "--policy", "nope=eq.1"}, &out), 1);
    EXPECT_NE(out.find("nope=eq.1"), std::string::npos) << out;
    EXPECT_NE(out.find("no exposed column \"nope\""), std::string::npos) << out;
    EXPECT_EQ(run_cli({"attach", "public.pol_cli", "--db", db, "--policy", "x=eq.1", "--no-policy"}, &out), 2) << out;

    auto s = serve();
    std::string root = token({{"admin", true}, {"topics", {"*"}}});
    auto topics = json::parse(test::http_get("127.0.0.1", s.port, "/api/topics", bearer(root)).body);
    json seen;
    for (auto& t : topics)
        if (t["name"] == T) seen = t;
    EXPECT_EQ(seen.value("policy", ""), "tenant=eq.{tenant}") << topics.dump();
    auto mine = test::http_get("127.0.0.1", s.port, "/api/topics", bearer(acme));
    EXPECT_NE(mine.body.find(T), std::string::npos) << mine.body;
    EXPECT_EQ(mine.body.find("policy"), std::string::npos) << mine.body;
    auto status = test::http_get("127.0.0.1", s.port, "/api/admin/status", bearer(root));
    ASSERT_EQ(status.status, 200) << status.body;
    EXPECT_NE(status.body.find("\"policy\":\"tenant=eq.{tenant}\""), std::string::npos) << status.body;

    EXPECT_EQ(run_cli({"attach", "public.pol_cli", "--db", db, "--no-policy"}, &out), 0) << out;
    EXPECT_EQ(run_cli({"status", "--db", db, "--json"}, &out), 0) << out;
    for (auto& t : json::parse(out)["tables"])
        if (t["topic"] == "public.pol_cli") EXPECT_FALSE(t.contains("policy")) << t.dump();
}

}  // namespace
}  // namespace pglive
