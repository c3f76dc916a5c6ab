// net_test.cpp — the Beast server over real sockets, with a real hub fed from an in-memory table.
//
// The database is the e2e suite's business: here the hub's hooks answer loads and history
// reads from `table`, so every test drives the network layer exactly as the server does.
#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>

#include "net/hub_runner.h"
#include "net/server.h"
#include "support/http_client.h"
#include "support/ws_client.h"

namespace pglive {
namespace {

using namespace std::chrono_literals;
using test::http_get;
using test::http_post;
using test::sse_client;
using test::ws_client;
namespace fs = std::filesystem;

const std::string secret = "net-test-secret";
const std::string host = "127.0.0.1";

topic_info orders_info() { return {"public.orders", {"id"}, {"id", "status", "note"}}; }
topic_info keys_info() { return {"secret.keys", {"id"}, {"id", "status", "note"}}; }

std::string token(json claims) { return sign_jwt(claims, secret); }

// An attached table kept in memory: its rows, and every transaction committed to it.
struct memory_table {
    std::mutex mutex;
    std::map<int, json> rows;            // guarded by mutex
    std::vector<transaction> log;        // guarded by mutex
    int64_t position = 0;                // guarded by mutex
};

struct net_fixture : ::testing::Test {
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
    std::unique_ptr<hub_runner> runner;
    std::unique_ptr<server> srv;
    std::vector<std::thread> threads;
    memory_table table;
    std::atomic<bool> db_up{true};
    std::vector<std::pair<std::string, json>> published;  // guarded by published_mutex
    std::mutex published_mutex;
    fs::path dir;
    uint16_t port = 0;

    void SetUp() override {
        dir = fs::temp_directory_path() / ("pglive-net-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir / "www");
        std::ofstream(dir / "www" / "index.html") << "<!doctype html><title>pglive</title>";
        std::ofstream(dir / "www" / "pglive.js") << "export const x = 1;";
        std::ofstream(dir / "www" / "dashboard.css") << "body{}";
        std::ofstream(dir / "secret.txt") << "TOP SECRET";
        for (int id = 1; id <= 3; ++id) table.rows[id] = json{{"id", id}, {"status", "open"}, {"note", "n"}};
    }

    void TearDown() override {
        if (srv) srv->stop();
        work.reset();
        io.stop();
        for (auto& t : threads) t.join();
        srv.reset();
        runner.reset();
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }

    net_options default_options() {
        net_options o;
        o.port = 0;
        o.token_secret = secret;
        o.anonymous.topics = {"public.*"};
        o.dashboard_dir = (dir / "www").string();
        return o;
    }

    void start(net_options o = {}, bool defaults = true) {
        if (defaults) o = default_options();
        hub::hooks hk;
        hk.load_topic = [this](const std::string& t) {
            topic_load l;
            {
                std::lock_guard<std::mutex> g(table.mutex);
                l.info = t == "secret.keys" ? keys_info() : orders_info();
                l.position = l.read_position = table.position;
                l.snapshot = pg_snapshot::parse("1:1:");  // every later xid is above it: none visible
                for (auto& [id, r] : table.rows) l.rows.push_back(r);
            }
            runner->post([l = std::move(l)](hub& h) mutable { h.on_topic_loaded(std::move(l)); });
        };
        hk.load_history = [this](const std::string& t, int64_t after, int64_t upto) {
            history_result r;
            {
                std::lock_guard<std::mutex> g(table.mutex);
                for (auto& tx : table.log)
                    if (tx.position > after && tx.position <= upto) r.transactions.push_back(tx);
            }
            runner->post([t, after, r = std::move(r)](hub& h) mutable { h.on_history(t, after, std::move(r)); });
        };
        hk.now_ms = [] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
                .count();
        };
        hk.refresh_topics = [] {};
        hk.wall_us = [] {
            return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        };
        runner = std::make_unique<hub_runner>(io, hk, hub_limits{});
        runner->post([](hub& h) {
            h.set_topics({orders_info(), keys_info()});
            h.start_at(0);
        });
        net_callbacks cb;
        cb.health = [this] { return std::pair<bool, std::string>{db_up.load(), db_up ? "" : "database connection lost"}; };
        cb.metrics = [] { return std::string("pglive_test_stage 1\n"); };
        cb.publish_topic = [this](const std::string& topic, const json& data, std::function<void(std::string)> done) {
            {
                std::lock_guard<std::mutex> g(published_mutex);
                published.emplace_back(topic, data);
            }
            done("");
        };
        srv = std::make_unique<server>(io, *runner, o, cb);
        srv->start();
        port = srv->port();
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    }

    // Commits one transaction updating row `id`'s note, and hands it to the hub; returns its position.
    int64_t commit_note(int id, const std::string& note) {
        transaction tx;
        {
            std::lock_guard<std::mutex> g(table.mutex);
            json old_row = table.rows.at(id);
            json new_row = old_row;
            new_row["note"] = note;
            table.rows[id] = new_row;
            tx.position = ++table.position;
            tx.ts = "2026-11-22T10:00:00.000000Z";
            tx.xid = 1000 + uint64_t(tx.position);
            tx.changes.push_back(change{"public.orders", op_kind::update, old_row, new_row});
            table.log.push_back(tx);
        }
        runner->post([tx](hub& h) { h.on_transactions({tx}); });
        return tx.position;
    }

    json table_state() {
        std::lock_guard<std::mutex> g(table.mutex);
        json s = json::object();
        for (auto& [id, r] : table.rows) s[std::to_string(id)] = r;
        return s;
    }

    std::unique_ptr<ws_client> ws(const std::string& target = "/ws", std::map<std::string, std::string> headers = {},
                                  int recv_buffer = 0) {
        return std::make_unique<ws_client>(host, port, target, headers, recv_buffer);
    }

    // A raw upgrade request, to see the HTTP status of a refused upgrade.
    test::http_result upgrade(const std::string& target, std::map<std::string, std::string> extra = {}) {
        std::map<std::string, std::string> h = {{"Connection", "Upgrade"},
                                                {"Upgrade", "websocket"},
                                                {"Sec-WebSocket-Version", "13"},
                                                {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
        for (auto& [k, v] : extra) h[k] = v;
        return http_get(host, port, target, h);
    }

    // Subscribes and waits for the snapshot.
    json subscribe(ws_client& c, const std::string& topic = "public.orders", const std::string& sub = "all") {
        c.send({{"op", "subscribe"}, {"ref", sub}, {"topic", topic}, {"sub", sub}});
        auto snap = c.read_until([&](const json& m) { return m["type"] == "snapshot" || m["type"] == "error"; }, 5s);
        EXPECT_TRUE(snap.has_value()) << "no snapshot for " << topic;
        return snap ? *snap : json();
    }

    std::string metrics() {
        return http_get(host, port, "/metrics", {{"Authorization", "Bearer " + token({{"sub", "ops"}, {"metrics", true}})}}).body;
    }
};

double metric(const std::string& text, const std::string& name) {
    auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + name.size() + 2));
}

// --- WebSocket protocol ---------------------------------------------------------------

TEST_F(net_fixture, ping_gets_pong_with_ref) {
    start();
    auto c = ws();
    c->send({{"op", "ping"}, {"ref", "4"}});
    auto m = c->read(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(*m, json({{"type", "pong"}, {"ref", "4"}}));
}

TEST_F(net_fixture, non_json_gets_bad_request_and_the_connection_stays_open) {
    start();
    auto c = ws();
    c->send_text("this is not json");
    auto m = c->read(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "error");
    EXPECT_EQ((*m)["code"], "bad_request");
    c->send({{"op", "ping"}, {"ref", "after"}});
    auto p = c->read(5s);
    ASSERT_TRUE(p);
    EXPECT_EQ((*p)["type"], "pong");
    EXPECT_EQ((*p)["ref"], "after");
}

TEST_F(net_fixture, unknown_op_names_the_op) {
    start();
    auto c = ws();
    c->send({{"op", "dance"}, {"ref", "7"}});
    auto m = c->read(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["code"], "bad_request");
    EXPECT_EQ((*m)["ref"], "7");
    EXPECT_NE((*m)["message"].get<std::string>().find("dance"), std::string::npos) << *m;
}

TEST_F(net_fixture, oversized_frame_closes_with_1009) {
    auto o = default_options();
    o.max_message_bytes = 1024;
    start(o, false);
    auto c = ws();
    c->send_text(json{{"op", "ping"}, {"ref", std::string(2000, 'x')}}.dump());
    auto m = c->read(5s);
    EXPECT_FALSE(m);
    EXPECT_TRUE(c->closed());
    EXPECT_EQ(c->close_code(), 1009);
}

TEST_F(net_fixture, subscribe_gets_subscribed_snapshot_then_patches) {
    start();
    auto c = ws();
    c->send({{"op", "subscribe"}, {"ref", "1"}, {"topic", "public.orders"}, {"sub", "all"}});
    auto sub = c->read(5s);
    ASSERT_TRUE(sub);
    EXPECT_EQ((*sub)["type"], "subscribed");
    EXPECT_EQ((*sub)["ref"], "1");
    EXPECT_EQ((*sub)["key"], json::array({"id"}));
    auto snap = c->read(5s);
    ASSERT_TRUE(snap);
    EXPECT_EQ((*snap)["type"], "snapshot");
    json state = (*snap)["rows"];
    int64_t pos = commit_note(2, "changed");
    auto patch = c->read_until([](const json& m) { return m["type"] == "patch"; }, 5s);
    ASSERT_TRUE(patch);
    EXPECT_EQ((*patch)["pos"], std::to_string(pos));
    EXPECT_EQ(state.patch((*patch)["patch"]), table_state());
}

TEST_F(net_fixture, forbidden_topic_is_refused_on_the_socket) {
    start();
    auto c = ws();
    c->send({{"op", "subscribe"}, {"ref", "s"}, {"topic", "secret.keys"}});
    auto m = c->read(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["type"], "error");
    EXPECT_EQ((*m)["code"], "forbidden");
    EXPECT_EQ((*m)["ref"], "s");
}

// --- Origins and tokens -----------------------------------------------------------------

TEST_F(net_fixture, cross_origin_upgrade_is_refused_same_origin_passes) {
    start();
    auto refused = upgrade("/ws", {{"Origin", "http://evil.example"}});
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(json::parse(refused.body)["error"], "forbidden");
    std::string self = "http://" + host + ":" + std::to_string(port);
    auto c = ws("/ws", {{"Origin", self}});
    c->send({{"op", "ping"}});
    EXPECT_TRUE(c->read(5s));
    EXPECT_THROW(ws("/ws", {{"Origin", "http://evil.example"}}), boost::system::system_error);
}

TEST_F(net_fixture, allow_listed_origin_passes) {
    auto o = default_options();
    o.allowed_origins = {"http://app.example"};
    start(o, false);
    auto c = ws("/ws", {{"Origin", "http://app.example"}});
    c->send({{"op", "ping"}});
    EXPECT_TRUE(c->read(5s));
    EXPECT_EQ(upgrade("/ws", {{"Origin", "http://other.example"}}).status, 403);
}

TEST_F(net_fixture, bad_token_gets_401_before_upgrade) {
    start();
    EXPECT_EQ(upgrade("/ws?token=not.a.token").status, 401);
    EXPECT_EQ(upgrade("/ws", {{"Authorization", "Bearer " + sign_jwt({{"sub", "x"}}, "other-secret")}}).status, 401);
    auto good = upgrade("/ws?token=" + token({{"sub", "alice"}, {"topics", {"*"}}}));
    EXPECT_EQ(good.status, 101);
}

TEST_F(net_fixture, op_auth_bad_token_is_unauthorized_good_token_widens_access) {
    start();
    auto c = ws();
    c->send({{"op", "auth"}, {"ref", "a1"}, {"token", "garbage"}});
    auto bad = c->read(5s);
    ASSERT_TRUE(bad);
    EXPECT_EQ((*bad)["code"], "unauthorized");
    EXPECT_EQ((*bad)["ref"], "a1");

    c->send({{"op", "auth"}, {"ref", "a2"}, {"token", token({{"sub", "alice"}, {"topics", {"*"}}})}});
    auto ok = c->read(5s);
    ASSERT_TRUE(ok);
    EXPECT_EQ((*ok)["type"], "authenticated");
    auto snap = subscribe(*c, "secret.keys", "keys");
    EXPECT_EQ(snap["type"], "snapshot") << snap;
}

// --- Static files, health, metrics ---------------------------------------------------------

TEST_F(net_fixture, static_files_with_content_types_and_404) {
    start();
    auto index = http_get(host, port, "/");
    EXPECT_EQ(index.status, 200);
    EXPECT_NE(index.headers["Content-Type"].find("text/html"), std::string::npos);
    EXPECT_NE(index.body.find("pglive"), std::string::npos);
    auto js = http_get(host, port, "/pglive.js");
    EXPECT_EQ(js.status, 200);
    EXPECT_NE(js.headers["Content-Type"].find("javascript"), std::string::npos);
    auto css = http_get(host, port, "/dashboard.css");
    EXPECT_NE(css.headers["Content-Type"].find("text/css"), std::string::npos);
    auto missing = http_get(host, port, "/nope.html");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(json::parse(missing.body)["error"], "not_found");
    auto api = http_get(host, port, "/api/nothing");
    EXPECT_EQ(api.status, 404);
    EXPECT_EQ(json::parse(api.body)["error"], "not_found");
}

TEST_F(net_fixture, path_traversal_is_refused) {
    start();
    for (std::string t : {"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/x/../../secret.txt",
                          "/%2e%2e%2fsecret.txt"}) {
        auto r = http_get(host, port, t);
        EXPECT_NE(r.status, 200) << t;
        EXPECT_EQ(r.body.find("TOP SECRET"), std::string::npos) << t;
    }
}

TEST_F(net_fixture, healthz_follows_the_database_link) {
    start();
    auto up = http_get(host, port, "/healthz");
    EXPECT_EQ(up.status, 200);
    EXPECT_EQ(json::parse(up.body)["status"], "ok");
    db_up = false;
    auto down = http_get(host, port, "/healthz");
    EXPECT_EQ(down.status, 503);
    EXPECT_EQ(json::parse(down.body)["reason"], "database connection lost");
}

TEST_F(net_fixture, metrics_has_net_counters_and_other_stages) {
    start();
    auto c = ws();
    c->send({{"op", "ping"}});
    ASSERT_TRUE(c->read(5s));
    // The pong can reach us before the server's write handler counts it: poll with a deadline.
    std::string text = metrics();
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (metric(text, "pglive_frames_sent_total") < 1 && std::chrono::steady_clock::now() < deadline)
        text = metrics();
    EXPECT_GE(metric(text, "pglive_websocket_connections_total"), 1);
    EXPECT_GE(metric(text, "pglive_frames_sent_total"), 1);
    EXPECT_NE(text.find("pglive_test_stage 1"), std::string::npos);
}

// --- REST ---------------------------------------------------------------------------------

TEST_F(net_fixture, topics_and_rows) {
    start();
    auto topics = http_get(host, port, "/api/topics");
    ASSERT_EQ(topics.status, 200);
    auto list = json::parse(topics.body);
    EXPECT_NE(topics.body.find("public.orders"), std::string::npos);
    EXPECT_EQ(topics.body.find("secret.keys"), std::string::npos) << "anonymous may not see it: " << list;
    auto rows = http_get(host, port, "/api/topics/public.orders/rows?filter=id=eq.2");
    ASSERT_EQ(rows.status, 200) << rows.body;
    auto body = json::parse(rows.body);
    EXPECT_EQ(body["rows"].size(), 1u);
    EXPECT_TRUE(body["rows"].contains("2"));
    EXPECT_EQ(http_get(host, port, "/api/topics/secret.keys/rows").status, 403);
}

// --- SSE ----------------------------------------------------------------------------------

TEST_F(net_fixture, sse_streams_snapshot_then_patches_with_ids) {
    start();
    sse_client s(host, port, "/sse?topic=public.orders");
    ASSERT_EQ(s.status(), 200) << s.error_body();
    EXPECT_NE(s.head().find("Content-Type: text/event-stream"), std::string::npos) << s.head();
    EXPECT_NE(s.head().find("Cache-Control: no-cache"), std::string::npos);
    EXPECT_EQ(s.head().find("Content-Length"), std::string::npos);
    EXPECT_EQ(s.head().find("chunked"), std::string::npos);
    auto snap = s.read(5s);
    ASSERT_TRUE(snap);
    EXPECT_EQ(snap->event, "snapshot");
    EXPECT_EQ(snap->id, "0");
    json state = json::parse(snap->data)["rows"];
    int64_t pos = commit_note(1, "sse");
    auto patch = s.read(5s);
    ASSERT_TRUE(patch);
    EXPECT_EQ(patch->event, "patch");
    EXPECT_EQ(patch->id, std::to_string(pos));
    EXPECT_EQ(state.patch(json::parse(patch->data)["patch"]), table_state());
}

TEST_F(net_fixture, sse_last_event_id_resumes_without_snapshot) {
    start();
    int64_t first = commit_note(1, "a");
    int64_t second = commit_note(2, "b");
    {
        // Wait until the hub has seen both (a subscriber's snapshot is at the newest position).
        auto c = ws();
        auto deadline = std::chrono::steady_clock::now() + 5s;
        for (;;) {
            auto snap = subscribe(*c, "public.orders", "s" + std::to_string(std::rand()));
            if (snap["pos"] == std::to_string(second) || std::chrono::steady_clock::now() > deadline) break;
        }
    }
    sse_client s(host, port, "/sse?topic=public.orders&since=0", {{"Last-Event-ID", std::to_string(first)}});
    ASSERT_EQ(s.status(), 200) << s.error_body();
    auto e = s.read(5s);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->event, "patch") << e->data;
    EXPECT_EQ(e->id, std::to_string(second));
}

TEST_F(net_fixture, sse_refusals_are_http_errors) {
    start();
    sse_client forbidden(host, port, "/sse?topic=secret.keys");
    EXPECT_EQ(forbidden.status(), 403);
    EXPECT_EQ(json::parse(forbidden.error_body())["error"], "forbidden");
    sse_client unknown(host, port, "/sse?topic=public.nothing");
    EXPECT_EQ(unknown.status(), 404);
    sse_client bad(host, port, "/sse?topic=public.orders&limit=zero");
    EXPECT_EQ(bad.status(), 400);
    sse_client badtoken(host, port, "/sse?topic=public.orders&token=nope");
    EXPECT_EQ(badtoken.status(), 401);
    // Issue 10.7: a bad filter was a 200 and then an error event.
    sse_client badfilter(host, port, "/sse?topic=public.orders&filter=nosuch=eq.1");
    EXPECT_EQ(badfilter.status(), 400);
    EXPECT_EQ(json::parse(badfilter.error_body())["error"], "bad_filter");
    sse_client badorder(host, port, "/sse?topic=public.orders&order=status.up");
    EXPECT_EQ(badorder.status(), 400);
}

// --- Long-poll ----------------------------------------------------------------------------

TEST_F(net_fixture, long_poll_answers_at_once_when_there_is_news) {
    start();
    auto c = ws();
    subscribe(*c);  // loads the topic
    int64_t pos = commit_note(3, "poll");
    c->read_until([](const json& m) { return m["type"] == "patch"; }, 5s);
    auto t0 = std::chrono::steady_clock::now();
    auto r = http_get(host, port, "/poll?topic=public.orders&since=0&timeout=10");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    ASSERT_EQ(r.status, 200) << r.body;
    auto body = json::parse(r.body);
    EXPECT_EQ(body["pos"], std::to_string(pos)) << body;
    ASSERT_TRUE(body.contains("patches")) << body;
    EXPECT_EQ(body["patches"].back()["pos"], std::to_string(pos));
}

TEST_F(net_fixture, long_poll_times_out_empty_and_wakes_on_commit) {
    start();
    auto c = ws();
    subscribe(*c);
    auto t0 = std::chrono::steady_clock::now();
    auto r = http_get(host, port, "/poll?topic=public.orders&since=0&timeout=1");
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 5s);
    auto body = json::parse(r.body);
    EXPECT_TRUE(!body.contains("patches") || body["patches"].empty()) << body;

    auto waiting = std::async(std::launch::async,
                              [&] { return http_get(host, port, "/poll?topic=public.orders&since=0&timeout=20"); });
    // The poll parks on the hub; a commit answers it.
    int64_t pos = 0;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (waiting.wait_for(100ms) != std::future_status::ready && std::chrono::steady_clock::now() < deadline)
        if (pos == 0) pos = commit_note(1, "wake");
    auto woke = waiting.get();
    ASSERT_EQ(woke.status, 200);
    EXPECT_EQ(json::parse(woke.body)["patches"].back()["pos"], std::to_string(pos)) << woke.body;
}

// --- Publish ------------------------------------------------------------------------------

TEST_F(net_fixture, publish_to_a_user_needs_the_publish_right) {
    start();
    auto bob = ws("/ws?token=" + token({{"sub", "bob"}, {"topics", {"public.*"}}}));
    bob->send({{"op", "ping"}});
    ASSERT_TRUE(bob->read(5s));  // registered with the hub before the publish
    std::string body = json{{"user", "bob"}, {"data", {{"hello", 1}}}}.dump();

    EXPECT_EQ(http_post(host, port, "/api/publish", body).status, 401);
    std::string reader = token({{"sub", "carol"}, {"topics", {"*"}}});
    EXPECT_EQ(http_post(host, port, "/api/publish", body, {{"Authorization", "Bearer " + reader}}).status, 403);
    std::string publisher = token({{"sub", "svc"}, {"publish", true}});
    auto ok = http_post(host, port, "/api/publish", body, {{"Authorization", "Bearer " + publisher}});
    EXPECT_EQ(ok.status, 200) << ok.body;
    auto m = bob->read_until([](const json& m) { return m["type"] == "message"; }, 5s);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["data"], json({{"hello", 1}}));

    auto topic = http_post(host, port, "/api/publish", json{{"topic", "alerts"}, {"data", 7}}.dump(),
                           {{"Authorization", "Bearer " + publisher}});
    EXPECT_EQ(topic.status, 200);
    std::lock_guard<std::mutex> g(published_mutex);
    ASSERT_EQ(published.size(), 1u);
    EXPECT_EQ(published[0].first, "alerts");
    EXPECT_EQ(published[0].second, 7);
}

// --- Backpressure -------------------------------------------------------------------------

// A client that stops reading: its queue stays within the bound (overflow → patches dropped),
// it gets a fresh snapshot once it drains, and the fast clients miss nothing meanwhile.
TEST_F(net_fixture, stalled_client_is_bounded_and_resynced_fast_ones_get_every_patch) {
    auto o = default_options();
    o.max_queue_bytes = 512 << 10;
    o.max_queue_frames = 256;
    start(o, false);

    constexpr int fast_count = 2;
    constexpr int transactions = 1200;
    const std::string big(8000, 'z');

    std::vector<std::unique_ptr<ws_client>> fast;
    for (int i = 0; i < fast_count; ++i) {
        fast.push_back(ws());
        subscribe(*fast.back());
    }
    auto slow = ws("/ws", {}, 4096);
    json slow_snap = subscribe(*slow);
    ASSERT_EQ(slow_snap["type"], "snapshot");

    // Fast readers on their own threads, each checking positions arrive one by one.
    std::atomic<int64_t> seen[fast_count];
    std::atomic<bool> gap{false};
    std::vector<std::thread> readers;
    for (int i = 0; i < fast_count; ++i) {
        seen[i] = 0;
        readers.emplace_back([&, i] {
            json state = json::object();
            while (seen[i] < transactions) {
                auto m = fast[i]->read(10s);
                if (!m) return;
                if ((*m)["type"] != "patch") {
                    if ((*m)["type"] == "snapshot") gap = true;  // a resync would mean it fell behind
                    continue;
                }
                int64_t pos = std::stoll((*m)["pos"].get<std::string>());
                if (pos != seen[i] + 1) gap = true;
                seen[i] = pos;
            }
        });
    }

    for (int n = 1; n <= transactions; ++n) {
        commit_note(1 + n % 3, big + std::to_string(n));
        if (n % 20 == 0) {
            // Pace the writer to the fast readers, so only the stalled one can fall behind.
            auto deadline = std::chrono::steady_clock::now() + 10s;
            while (std::chrono::steady_clock::now() < deadline &&
                   !(seen[0] >= n && seen[1] >= n) && !gap)
                std::this_thread::yield();
        }
    }
    for (auto& r : readers) r.join();
    EXPECT_FALSE(gap);
    for (int i = 0; i < fast_count; ++i) EXPECT_EQ(seen[i], transactions);

    auto text = metrics();
    EXPECT_GE(metric(text, "pglive_queue_overflows_total"), 1) << text;
    EXPECT_GE(metric(text, "pglive_frames_dropped_total"), 1);

    // The stalled client drains: a prefix of patches in order, then one resync message: a patch
    // merging everything it missed (`from` exactly where it stands; the hub holds the history
    // here), or a fresh snapshot of now.
    json state = slow_snap["rows"];
    int64_t last = std::stoll(slow_snap["pos"].get<std::string>());
    int resyncs = 0;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
        auto m = slow->read(10s);
        ASSERT_TRUE(m) << "the stalled client was never resynced";
        int64_t pos = std::stoll((*m)["pos"].get<std::string>());
        if ((*m)["type"] == "snapshot") {
            ++resyncs;
            state = (*m)["rows"];
            EXPECT_GE(pos, last);
        } else if ((*m)["type"] == "patch" && m->contains("from")) {
            ++resyncs;
            EXPECT_EQ((*m)["from"], std::to_string(last)) << "a catch-up must start where the client stands";
            EXPECT_GT(pos, last);
            state = state.patch((*m)["patch"]);
        } else if ((*m)["type"] == "patch") {
            EXPECT_EQ(pos, last + 1) << "patches before the resync must be a gapless prefix";
            state = state.patch((*m)["patch"]);
        }
        last = pos;
        if (resyncs > 0 && last == transactions) break;
    }
    EXPECT_EQ(resyncs, 1);
    EXPECT_EQ(last, transactions);
    EXPECT_EQ(state, table_state());
}

// Issue 9.5: a snapshot larger than max_queue_bytes never let a client go live: a patch
// arriving while it was written overflowed the queue and asked for another snapshot. A client
// whose link is faster than the patch rate must get one snapshot and then every patch.
TEST_F(net_fixture, snapshot_larger_than_the_queue_bound_still_goes_live_on_a_slow_link) {
    const std::string wide(1000, 'w');
    {
        std::lock_guard<std::mutex> g(table.mutex);
        for (int id = 1; id <= 1500; ++id) table.rows[id] = json{{"id", id}, {"status", "open"}, {"note", wide}};
    }
    auto o = default_options();
    o.max_queue_bytes = 256 << 10;  // the snapshot is ~1.5 MB
    o.max_queue_frames = 256;
    start(o, false);

    auto c = ws("/ws", {}, 4096);
    c->limit_read_rate(600 << 10);  // 600 KB/s: the snapshot takes ~2.5 s
    c->send({{"op", "subscribe"}, {"ref", "1"}, {"topic", "public.orders"}, {"sub", "all"}});
    constexpr int transactions = 300;
    std::thread writer([&] {
        for (int n = 1; n <= transactions; ++n) {
            commit_note(1 + n % 1500, wide + std::to_string(n));  // ~1.1 KB a patch, 110 KB/s
            std::this_thread::sleep_for(10ms);                    // the topic's write rate, not a wait
        }
    });
    json state;
    int snapshots = 0;
    int64_t last = -1;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (last < transactions && std::chrono::steady_clock::now() < deadline) {
        auto m = c->read(20s);
        if (!m) break;
        if ((*m)["type"] == "snapshot") {
            ++snapshots;
            state = (*m)["rows"];
            last = std::stoll((*m)["pos"].get<std::string>());
        } else if ((*m)["type"] == "patch") {
            int64_t pos = std::stoll((*m)["pos"].get<std::string>());
            EXPECT_EQ(pos, last + 1);
            last = pos;
            state = state.patch((*m)["patch"]);
        }
    }
    writer.join();
    EXPECT_EQ(snapshots, 1) << "the client was resynced instead of going live";
    EXPECT_EQ(last, transactions);
    EXPECT_EQ(state, table_state());
    EXPECT_EQ(metric(metrics(), "pglive_queue_overflows_total"), 0);
}

// Issue 10.1: invalid UTF-8 in a percent-decoded path, a query value or a header reached a
// JSON message, whose dump() threw out of the handler and aborted the process.
TEST_F(net_fixture, invalid_utf8_anywhere_in_a_request_is_a_400_and_the_server_serves_on) {
    start();
    const std::string origin_ff = std::string("http://\xff");
    for (std::string target : {"/%ff", "/api/topics/%ff/rows", "/api/topics/public.orders/rows?filter=status=eq.%ff",
                               "/sse?topic=%ff", "/sse?topic=public.orders&filter=%c3%28", "/poll?topic=%ed%a0%80&since=0",
                               "/ws?token=%ff", "/api/nothing%f4%90%80%80", "/pglive.js%00.html"}) {
        auto r = http_get(host, port, target);
        EXPECT_EQ(r.status, 400) << target;
        auto body = json::parse(r.body, nullptr, false);
        EXPECT_FALSE(body.is_discarded()) << target << ": " << r.body;
        if (!body.is_discarded()) {
            EXPECT_EQ(body["error"], "bad_request") << target;
        }
    }
    for (std::string header : std::vector<std::string>{"Origin: " + origin_ff, "Authorization: Bearer \xfe\xff", "Last-Event-ID: 1\xc0\xaf"}) {
        auto r = test::http_raw(host, port,
                                "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
                                    header + "\r\n\r\n");
        EXPECT_EQ(r.status, 400) << header;
        EXPECT_NE(r.body.find("not valid UTF-8"), std::string::npos) << r.body;
    }
    // Still serving, and valid multi-byte UTF-8 passes untouched.
    EXPECT_EQ(http_get(host, port, "/api/topics").status, 200);
    EXPECT_EQ(http_get(host, port, "/api/topics/public.orders/rows?filter=note=eq.%c3%a9").status, 200);
}

// Issue 10.7: a NUL in a path truncated it (/pglive.js%00.html was served as text/html);
// malformed HTTP was closed without an answer; the Origin's scheme was ignored.
TEST_F(net_fixture, nul_bytes_malformed_http_and_origin_schemes) {
    start();
    auto nul = http_get(host, port, "/pglive.js%00.html");
    EXPECT_EQ(nul.status, 400);
    EXPECT_NE(nul.body.find("NUL"), std::string::npos) << nul.body;
    auto bad = test::http_raw(host, port, "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("malformed HTTP"), std::string::npos) << bad.body;
    auto hostname = "127.0.0.1:" + std::to_string(port);
    EXPECT_EQ(upgrade("/ws", {{"Origin", "http://" + hostname}, {"Host", hostname}}).status, 101);
    EXPECT_EQ(upgrade("/ws", {{"Origin", "evil://" + hostname}, {"Host", hostname}}).status, 403);
    EXPECT_EQ(upgrade("/ws", {{"Origin", "null://" + hostname}, {"Host", hostname}}).status, 403);
}

// Issue 10.6: a token that expired during an open WebSocket or SSE connection kept receiving.
TEST_F(net_fixture, a_token_expiring_on_an_open_connection_closes_it_and_auth_renews) {
    start();
    auto soon = [](int s) { return int64_t(std::time(nullptr)) + s; };
    // WebSocket: closed at exp with 1008 after an unauthorized error.
    auto c = ws("/ws?token=" + token({{"sub", "ann"}, {"topics", {"public.*"}}, {"exp", soon(2)}}));
    subscribe(*c);
    auto err = c->read_until([](const json& m) { return m["type"] == "error"; }, 10s);
    ASSERT_TRUE(err) << "no error at expiry";
    EXPECT_EQ((*err)["code"], "unauthorized");
    EXPECT_TRUE(c->read_until([](const json&) { return false; }, 5s) == std::nullopt);
    EXPECT_TRUE(c->closed());
    EXPECT_EQ(c->close_code(), 1008);

    // An auth renewal before exp moves the deadline: still open and receiving after the first exp.
    auto r = ws("/ws?token=" + token({{"sub", "bob"}, {"topics", {"public.*"}}, {"exp", soon(2)}}));
    subscribe(*r);
    r->send({{"op", "auth"}, {"ref", "a"}, {"token", token({{"sub", "bob"}, {"topics", {"public.*"}}, {"exp", soon(60)}})}});
    ASSERT_TRUE(r->read_until([](const json& m) { return m["type"] == "authenticated"; }, 5s));
    auto first_exp = std::chrono::steady_clock::now() + 3s;
    int64_t pos = 0;
    while (std::chrono::steady_clock::now() < first_exp) {  // commit until past the first exp
        pos = commit_note(1, "renewed" + std::to_string(pos));
        auto p = r->read_until([&](const json& m) { return m["type"] == "patch" || m["type"] == "error"; }, 5s);
        ASSERT_TRUE(p);
        ASSERT_EQ((*p)["type"], "patch") << p->dump();
    }
    EXPECT_FALSE(r->closed());

    // SSE: an error event, then the stream ends.
    sse_client sse(host, port, "/sse?topic=public.orders&token=" + token({{"sub", "cy"}, {"topics", {"public.*"}}, {"exp", soon(2)}}));
    ASSERT_EQ(sse.status(), 200);
    bool got_error = false, ended = false;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        auto e = sse.read(10s);
        if (!e) {
            ended = true;
            break;
        }
        if (e->event == "error") got_error = json::parse(e->data)["code"] == "unauthorized";
    }
    EXPECT_TRUE(got_error);
    EXPECT_TRUE(ended);
}

// Issue 10.4: /metrics answered anyone, with every topic name and raw error texts as labels.
TEST_F(net_fixture, metrics_need_the_metrics_right_or_their_own_listener) {
    auto o = default_options();
    o.metrics_port = 0;  // a second listener on any free port
    start(o, false);
    EXPECT_EQ(http_get(host, port, "/metrics").status, 401);
    auto reader = token({{"sub", "ann"}, {"topics", {"public.*"}}});
    EXPECT_EQ(http_get(host, port, "/metrics", {{"Authorization", "Bearer " + reader}}).status, 403);
    for (auto claims : {json{{"sub", "ops"}, {"metrics", true}}, json{{"sub", "root"}, {"admin", true}}}) {
        auto r = http_get(host, port, "/metrics", {{"Authorization", "Bearer " + token(claims)}});
        EXPECT_EQ(r.status, 200) << claims.dump();
        EXPECT_NE(r.body.find("pglive_http_requests_total"), std::string::npos);
    }
    ASSERT_NE(srv->metrics_port(), 0);
    auto open = http_get(host, srv->metrics_port(), "/metrics");
    EXPECT_EQ(open.status, 200);
    EXPECT_NE(open.body.find("pglive_test_stage 1"), std::string::npos);
    EXPECT_EQ(http_get(host, srv->metrics_port(), "/api/topics").status, 404);  // nothing else there
    // Disconnect reasons are a fixed set: an error's text never becomes a label value.
    for (int i = 0; i < 3; ++i) {
        auto c = ws();
        c->close();
    }
    auto text = open.body + http_get(host, srv->metrics_port(), "/metrics").body;
    for (size_t at = text.find("pglive_disconnects_total{"); at != std::string::npos;
         at = text.find("pglive_disconnects_total{", at + 1)) {
        auto line = text.substr(at, text.find('\n', at) - at);
        EXPECT_TRUE(line.find("reason=\"closed by client\"") != std::string::npos ||
                    line.find("reason=\"error\"") != std::string::npos || line.find("reason=\"server stopping\"") != std::string::npos)
            << line;
    }
}

// Issue 10.5: re-subscribing one subscription 150 times without reading queued 150 full
// snapshots (snapshots were exempt from the bound): 9 KB of requests, 27 MB of memory.
TEST_F(net_fixture, resubscribing_without_reading_queues_one_snapshot_not_one_per_request) {
    const std::string wide(1000, 'w');
    {
        std::lock_guard<std::mutex> g(table.mutex);
        for (int id = 1; id <= 1000; ++id) table.rows[id] = json{{"id", id}, {"status", "open"}, {"note", wide}};
    }
    start();
    auto c = ws("/ws", {}, 4096);  // reads nothing until every request is in
    c->send({{"op", "subscribe"}, {"ref", "first"}, {"topic", "public.orders"}, {"sub", "same"}});
    ASSERT_TRUE(c->read_until([](const json& m) { return m["type"] == "snapshot"; }, 20s));  // loaded
    constexpr int requests = 150;
    for (int i = 0; i < requests; ++i)
        c->send({{"op", "subscribe"}, {"ref", std::to_string(i)}, {"topic", "public.orders"}, {"sub", "same"}});
    // Read nothing until the hub has handed over every snapshot (a reader draining meanwhile
    // would receive them as they come, which is no amplification).
    auto handed = [&] {
        std::promise<uint64_t> n;
        runner->post([&](hub& h) { n.set_value(h.stats().snapshots_sent); });
        return n.get_future().get();
    };
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (handed() < uint64_t(requests + 1) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    ASSERT_GE(handed(), uint64_t(requests + 1));
    // A channel subscription after them: its reply comes from the hub after theirs.
    c->send({{"op", "subscribe"}, {"ref", "marker"}, {"topic", "marker"}, {"sub", "marker"}});
    int snapshots = 0, subscribed = 0;
    json last;
    auto count = [&](const json& m) {
        if (m["type"] == "snapshot") ++snapshots, last = m;
        if (m["type"] == "subscribed" && m["sub"] == "same") ++subscribed;
    };
    ASSERT_TRUE(c->read_until([&](const json& m) { return count(m), m.value("ref", "") == "marker"; }, 30s));
    EXPECT_EQ(subscribed, requests);  // every request is answered
    EXPECT_GE(snapshots, 1);
    // The ones being written stay (the kernel's socket buffers hold a few 1 MB snapshots);
    // every one still queued behind them is dropped when the next request replaces it.
    EXPECT_LE(snapshots, 8) << "queued snapshots of replaced subscriptions must be dropped";
    EXPECT_EQ(last["rows"], table_state());
    // The last subscription is live.
    int64_t pos = commit_note(7, "after");
    auto p = c->read_until([](const json& m) { return m["type"] == "patch"; }, 5s);
    ASSERT_TRUE(p);
    EXPECT_EQ((*p)["pos"], std::to_string(pos));
}

}  // namespace
}  // namespace pglive
