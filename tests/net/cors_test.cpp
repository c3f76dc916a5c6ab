// cors_test.cpp — CORS on the REST endpoints (preflight, actual requests, refusals logged once) and the
// ordered form of REST rows, over real sockets with a real hub fed from rows kept in memory.
#include <gtest/gtest.h>

#include <thread>

#include <boost/asio/executor_work_guard.hpp>

#include "core/exact_json.h"
#include "core/jwt.h"
#include "net/http_util.h"
#include "net/hub_runner.h"
#include "net/server.h"
#include "support/http_client.h"
#include "support/ws_client.h"

namespace pglive {
namespace {

using namespace std::chrono_literals;
using test::http_get;
using test::http_post;
using test::http_raw;

const std::string secret = "cors-test-secret";
const std::string host = "127.0.0.1";
const std::string app = "http://app.example";

topic_info items_info() {
    return {"public.items", {"id"}, {"amount", "id", "name", "ts"}, {"numeric", "bigint", "text", "timestamp with time zone"}};
}

struct cors_fixture : ::testing::Test {
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
    std::unique_ptr<hub_runner> runner;
    std::unique_ptr<server> srv;
    std::vector<std::thread> threads;
    std::vector<json> rows;  // read by the hub's load hook only after start()
    uint16_t port = 0;

    void SetUp() override {
        // Values whose key order, text order and value order all differ: amounts beyond 2^64
        // and numeric's NaN, timestamps with and without a fraction (text order is wrong there).
        auto row = [](int id, const char* amount, const char* ts, const char* name) {
            return json{{"id", id}, {"amount", std::string(amount) == "NaN" ? json("NaN") : exact_number(amount)},
                        {"ts", ts}, {"name", name}};
        };
        rows = {row(1, "100000000000000000000.5", "2026-12-02T12:00:00+00:00", "b"),
                row(2, "9", "2026-12-02T12:00:00.5+00:00", "a"),
                row(10, "NaN", "2026-12-02T11:59:59.999999+00:00", "c"),
                row(3, "-12345678901234567890.123456789", "2026-12-03T00:00:00+00:00", "a")};
    }

    void TearDown() override {
        if (srv) srv->stop();
        work.reset();
        io.stop();
        for (auto& t : threads) t.join();
        srv.reset();
        runner.reset();
    }

    void start(std::vector<std::string> allowed = {app}) {
        hub::hooks hk;
        hk.load_topic = [this](const std::string&) {
            topic_load l;
            l.info = items_info();
            l.snapshot = pg_snapshot::parse("1:1:");
            l.rows = rows;
            runner->post([l = std::move(l)](hub& h) mutable { h.on_topic_loaded(std::move(l)); });
        };
        hk.load_history = [this](const std::string& t, int64_t after, int64_t) {
            runner->post([t, after](hub& h) { h.on_history(t, after, history_result{}); });
        };
        hk.now_ms = [] { return int64_t(0); };
        hk.refresh_topics = [] {};
        hk.wall_us = [] { return int64_t(0); };
        runner = std::make_unique<hub_runner>(io, hk, hub_limits{});
        runner->post([](hub& h) {
            h.set_topics({items_info()});
            h.start_at(0);
        });
        net_options o;
        o.port = 0;
        o.token_secret = secret;
        o.anonymous.topics = {"public.*"};
        o.allowed_origins = std::move(allowed);
        net_callbacks cb;
        cb.health = [] { return std::pair<bool, std::string>{true, ""}; };
        cb.publish_topic = [](const std::string&, const json&, std::function<void(std::string)> done) { done(""); };
        srv = std::make_unique<server>(io, *runner, o, cb);
        srv->start();
        port = srv->port();
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    }

    test::http_result preflight(const std::string& target, const std::string& origin) {
        return http_raw(host, port,
                        "OPTIONS " + target + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                            "\r\nOrigin: " + origin +
                            "\r\nAccess-Control-Request-Method: POST\r\n"
                            "Access-Control-Request-Headers: authorization, content-type\r\n\r\n");
    }

    std::string header(const test::http_result& r, const std::string& name) {
        auto it = r.headers.find(name);
        return it == r.headers.end() ? "" : it->second;
    }
};

TEST_F(cors_fixture, preflight_from_an_allowed_origin_gets_204_with_the_allow_headers) {
    start();
    for (std::string target : {"/api/publish", "/api/topics/public.items/rows?limit=2", "/poll?topic=public.items",
                               "/healthz"}) {
        auto r = preflight(target, app);
        EXPECT_EQ(r.status, 204) << target << ": " << r.body;
        EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), app) << target;
        EXPECT_EQ(header(r, "Vary"), "Origin") << target;
        EXPECT_NE(header(r, "Access-Control-Allow-Methods").find("POST"), std::string::npos) << target;
        EXPECT_NE(header(r, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos) << target;
        EXPECT_NE(header(r, "Access-Control-Allow-Headers").find("Content-Type"), std::string::npos) << target;
        EXPECT_FALSE(header(r, "Access-Control-Max-Age").empty()) << target;
    }
    // Same origin needs no list entry; the wildcard lets any origin in.
    std::string self = "http://" + host + ":" + std::to_string(port);
    EXPECT_EQ(preflight("/api/publish", self).status, 204);
}

TEST_F(cors_fixture, wildcard_allows_any_origin) {
    start({"*"});
    auto r = preflight("/api/publish", "http://anything.example");
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "http://anything.example");
}

TEST_F(cors_fixture, preflight_and_requests_from_another_origin_get_403_naming_it_and_the_setting) {
    start();
    auto r = preflight("/api/publish", "http://evil.example");
    EXPECT_EQ(r.status, 403);
    auto body = json::parse(r.body);
    EXPECT_EQ(body["error"], "forbidden");
    std::string m = body["message"];
    EXPECT_NE(m.find("http://evil.example"), std::string::npos) << m;
    EXPECT_NE(m.find("allowed_origins"), std::string::npos) << m;
    // The refused page may read why (and only that).
    EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "http://evil.example");
    auto g = http_get(host, port, "/api/topics/public.items/rows", {{"Origin", "http://evil.example"}});
    EXPECT_EQ(g.status, 403);
    EXPECT_NE(g.body.find("allowed_origins"), std::string::npos) << g.body;
    // WebSocket and SSE refuse with the same words.
    auto ws = http_get(host, port, "/ws",
                       {{"Origin", "http://evil.example"}, {"Connection", "Upgrade"}, {"Upgrade", "websocket"},
                        {"Sec-WebSocket-Version", "13"}, {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}});
    EXPECT_EQ(ws.status, 403);
    EXPECT_NE(ws.body.find("allowed_origins"), std::string::npos) << ws.body;
    EXPECT_NE(ws.body.find("http://evil.example"), std::string::npos) << ws.body;
    // Callers without Origin (curl, servers) are not browsers: no CORS, no refusal.
    auto plain = http_get(host, port, "/api/topics/public.items/rows");
    EXPECT_EQ(plain.status, 200);
    EXPECT_EQ(header(plain, "Access-Control-Allow-Origin"), "");
}

TEST_F(cors_fixture, actual_requests_from_an_allowed_origin_carry_allow_origin_and_vary) {
    start();
    auto rows = http_get(host, port, "/api/topics/public.items/rows", {{"Origin", app}});
    ASSERT_EQ(rows.status, 200) << rows.body;
    EXPECT_EQ(header(rows, "Access-Control-Allow-Origin"), app);
    EXPECT_EQ(header(rows, "Vary"), "Origin");
    std::string tok = sign_jwt(json{{"sub", "svc"}, {"publish", true}}, secret);
    auto pub = http_post(host, port, "/api/publish", R"({"topic":"alerts","data":{"n":1}})",
                         {{"Origin", app}, {"Authorization", "Bearer " + tok}});
    EXPECT_EQ(pub.status, 200) << pub.body;
    EXPECT_EQ(header(pub, "Access-Control-Allow-Origin"), app);
    // Errors are readable too, so the page sees why.
    auto unauth = http_post(host, port, "/api/publish", R"({"topic":"alerts","data":1})", {{"Origin", app}});
    EXPECT_EQ(unauth.status, 401);
    EXPECT_EQ(header(unauth, "Access-Control-Allow-Origin"), app);
    auto health = http_get(host, port, "/healthz", {{"Origin", app}});
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(header(health, "Access-Control-Allow-Origin"), app);
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

TEST_F(cors_fixture, a_refused_origin_is_logged_once_however_often_it_retries) {
    start();
    ::testing::internal::CaptureStderr();
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(preflight("/api/publish", "http://retry.example").status, 403);
        EXPECT_EQ(http_get(host, port, "/sse?topic=public.items", {{"Origin", "http://retry.example"}}).status, 403);
    }
    EXPECT_EQ(preflight("/api/publish", "http://other.example").status, 403);
    std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(count(log, "origin \"http://retry.example\""), 1u) << log;
    EXPECT_EQ(count(log, "origin \"http://other.example\""), 1u) << log;
    EXPECT_NE(log.find("allowed_origins"), std::string::npos) << log;
    EXPECT_NE(log.find("WARN"), std::string::npos) << log;
}

TEST_F(cors_fixture, refused_origins_remembered_for_the_log_are_bounded) {
    start();
    ::testing::internal::CaptureStderr();
    for (size_t i = 0; i < max_logged_origins + 10; ++i)
        ASSERT_EQ(preflight("/api/publish", "http://o" + std::to_string(i) + ".example").status, 403);
    std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(count(log, "refused a request from origin"), max_logged_origins);
    EXPECT_EQ(count(log, "refusals of further origins are not logged"), 1u);
}

json rows_of(const test::http_result& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? parse_exact(r.body) : json();
}

std::vector<int> ids(const json& list) {
    std::vector<int> out;
    for (auto& r : list) out.push_back(r["id"].get<int>());
    return out;
}

TEST_F(cors_fixture, rows_keyed_by_default_and_as_a_list_in_the_windows_order) {
    start();
    std::string base = "/api/topics/public.items/rows";
    auto keyed = rows_of(http_get(host, port, base + "?order=amount.desc&limit=3"));
    ASSERT_TRUE(keyed["rows"].is_object()) << keyed;
    EXPECT_EQ(keyed["rows"].size(), 3u);

    // numeric: NaN above every number, exact beyond double (desc: NaN first).
    auto list = rows_of(http_get(host, port, base + "?order=amount.desc&limit=3&form=list"));
    ASSERT_TRUE(list["rows"].is_array()) << list;
    EXPECT_TRUE(list["pos"].is_string());
    EXPECT_EQ(ids(list["rows"]), (std::vector<int>{10, 1, 2}));
    // Every digit kept.
    std::string text = http_get(host, port, base + "?order=amount.asc&form=list").body;
    EXPECT_NE(text.find("-12345678901234567890.123456789"), std::string::npos) << text;
    EXPECT_NE(text.find("100000000000000000000.5"), std::string::npos) << text;
    EXPECT_EQ(ids(rows_of(http_get(host, port, base + "?order=amount.asc&form=list"))["rows"]), (std::vector<int>{3, 2, 1, 10}));
    // timestamptz: as instants, not as text ("12:00:00+00:00" sorts after "12:00:00.5+00:00" as text).
    EXPECT_EQ(ids(rows_of(http_get(host, port, base + "?order=ts.asc&form=list"))["rows"]), (std::vector<int>{10, 1, 2, 3}));
    // Ties broken by the key, integral keys as integers (2 before 3 before 10).
    EXPECT_EQ(ids(rows_of(http_get(host, port, base + "?order=name.asc&form=list"))["rows"]), (std::vector<int>{2, 3, 1, 10}));
    // No order: by key.
    EXPECT_EQ(ids(rows_of(http_get(host, port, base + "?form=list"))["rows"]), (std::vector<int>{1, 2, 3, 10}));
    // The window's rows, whatever the form.
    auto window = rows_of(http_get(host, port, base + "?order=ts.desc&limit=2&form=list"));
    EXPECT_EQ(ids(window["rows"]), (std::vector<int>{3, 2}));
    EXPECT_EQ(rows_of(http_get(host, port, base + "?form=keyed"))["rows"].size(), 4u);
}

TEST_F(cors_fixture, a_bad_form_is_a_400_naming_the_field) {
    start();
    auto r = http_get(host, port, "/api/topics/public.items/rows?form=table");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("'form'"), std::string::npos) << r.body;
    auto unknown = http_get(host, port, "/api/topics/public.nothing/rows?form=list");
    EXPECT_NE(unknown.status, 200) << unknown.body;
}

}  // namespace
}  // namespace pglive
