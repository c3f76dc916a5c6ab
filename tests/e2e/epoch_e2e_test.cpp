// epoch_e2e_test.cpp — the sequencer commits asynchronously; a crash that loses its commits
// (simulated exactly, and real: PostgreSQL killed) never gives a client a position twice, skips
// one, or applies a transaction twice.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "capture/db.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_db.h"
#include "support/ws_client.h"

namespace pglive {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::view;

test::test_db& db() {
    static test::test_db d;
    return d;
}
cluster& pg() { return db().pg(); }
void sql(const std::string& text) { db().sql(text); }
int64_t q64(const std::string& text) { return db().query_json("select to_jsonb((" + text + "))").get<int64_t>(); }
json table_state(const std::string& table) { return db().rows_of("SELECT * FROM " + table); }

struct epoch_e2e : ::testing::Test {
    static void SetUpTestSuite() { pg(); }
};

test::serve_process serve() { return test::start_serve(db().serve_conninfo(), {"--anonymous-topics", "*"}); }

// A client's view plus every message position in arrival order, and its state after each.
struct client {
    std::unique_ptr<test::ws_client> ws;
    view v;
    std::vector<std::pair<std::string, int64_t>> seen;  // (type, pos)
    std::map<int64_t, json> state_at;

    client(uint16_t port, const std::string& topic, std::optional<int64_t> since = std::nullopt,
           json state = json::object()) {
        ws = std::make_unique<test::ws_client>("127.0.0.1", port, "/ws");
        json req{{"op", "subscribe"}, {"ref", "1"}, {"topic", topic}};
        if (since) {
            req["since"] = std::to_string(*since);
            v.state = std::move(state);
            v.pos = *since;
        }
        ws->send(req);
        auto first = ws->read(10s);
        EXPECT_TRUE(first && (*first)["type"] == "subscribed") << (first ? first->dump() : "nothing");
    }
    bool pump(const std::function<bool()>& pred, std::chrono::milliseconds deadline = 30s) {
        auto until = std::chrono::steady_clock::now() + deadline;
        while (!pred()) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            auto m = ws->read(std::min(left, std::chrono::milliseconds(200)));
            if (!m) continue;
            v.take(*m);
            if ((*m)["type"] == "snapshot" || (*m)["type"] == "patch") {
                seen.emplace_back((*m)["type"].get<std::string>(), v.pos);
                state_at[v.pos] = v.state;
            }
        }
        return true;
    }
    // Snapshots never go back, patches always forward.
    bool monotonic() const {
        for (size_t i = 1; i < seen.size(); ++i) {
            if (seen[i].first == "patch" && seen[i].second <= seen[i - 1].second) return false;
            if (seen[i].first == "snapshot" && seen[i].second < seen[i - 1].second) return false;
        }
        return true;
    }
    std::string trace() const {
        std::string s;
        for (auto& [k, p] : seen) s += k + "@" + std::to_string(p) + " ";
        return s;
    }
};

int64_t settled() { return db().settled_position(); }

// What a crash that lost the last k sequencer commits does to pglive, done exactly, as a
// superuser in one transaction: their tx rows are gone (their transactions, committed
// durably by the application, are sequenced again), the sequence goes back below them, and
// recovery empties live_epoch. The very last transaction is lost altogether (as a writer's
// asynchronous commit would be, whose commit record preceded the sequencer's): its outbox rows
// and its row go too. Returns the lost positions.
std::vector<int64_t> simulate_crash(const std::string& table, int k, const std::string& undo_last) {
    std::vector<int64_t> lost;
    auto c = open_connection(pg().conninfo(), "test-crash");
    pqxx::work w(*c);
    for (const auto& r : w.exec("select position from pglive.tx order by position desc limit " + std::to_string(k)))
        lost.push_back(r[0].as<int64_t>());
    w.exec("delete from pglive.outbox where xid = (select xid from pglive.tx where position = " +
           std::to_string(lost.front()) + ")");
    w.exec("set local session_replication_role = replica");  // the row goes without a capture
    w.exec(undo_last);
    w.exec("delete from pglive.tx where position >= " + std::to_string(lost.back()));
    w.exec("select setval('pglive.position_seq', " + std::to_string(lost.back() - 2) + ")");
    w.exec("truncate pglive.live_epoch");
    w.commit();
    (void)table;
    return lost;
}

TEST_F(epoch_e2e, a_simulated_loss_of_sequencer_commits_gives_fresh_snapshots_and_exact_resumes) {
    const std::string T = "public.ep_sim";
    sql("CREATE TABLE " + T + " (id int PRIMARY KEY, v int); INSERT INTO " + T + " VALUES (1, 0), (2, 0);"
        "SELECT pglive.attach('" + T + "')");
    auto s = serve();
    client a(s.port, T);
    ASSERT_TRUE(a.pump([&] { return a.v.snapshots == 1; }));
    for (int i = 3; i <= 10; ++i) sql("INSERT INTO " + T + " VALUES (" + std::to_string(i) + ", 0)");
    sql("UPDATE " + T + " SET v = 1 WHERE id = 1");
    sql("INSERT INTO " + T + " VALUES (100, 100)");  // its commit will be lost altogether
    int64_t before = settled();
    ASSERT_TRUE(a.pump([&] { return a.v.pos >= before; })) << a.trace();
    ASSERT_EQ(a.v.state, table_state(T));
    ASSERT_TRUE(a.v.state.contains("100"));

    auto lost = simulate_crash(T, 3, "DELETE FROM " + T + " WHERE id = 100");
    int64_t durable = q64("select max(position) from pglive.tx");
    ASSERT_LT(durable, lost.back());
    // A durable position the client saw, and its state there.
    int64_t durable_seen = -1;
    for (auto& [k, p] : a.seen)
        if (k == "patch" && p <= durable) durable_seen = p;
    ASSERT_GT(durable_seen, 0);
    json durable_state = a.state_at.at(durable_seen);

    sql("UPDATE " + T + " SET v = 2 WHERE id = 2");
    sql("INSERT INTO " + T + " VALUES (11, 11)");
    int64_t after = settled();
    EXPECT_GE(after, int64_t(2) << 40) << "a new epoch";
    ASSERT_TRUE(a.pump([&] { return a.v.pos >= after && a.v.state == table_state(T); }))
        << a.trace() << "\n" << a.v.state.dump() << "\n" << table_state(T).dump();
    EXPECT_EQ(a.v.snapshots, 2) << "the crash's fresh snapshot: " << a.trace();
    EXPECT_FALSE(a.v.state.contains("100")) << "the lost write is gone";
    EXPECT_TRUE(a.monotonic()) << a.trace();
    EXPECT_TRUE(test::strictly_increasing(a.v.positions()));

    auto check_resumes = [&](uint16_t port, const std::string& which) {
        // From a lost position: a fresh snapshot, never patches.
        client b(port, T, lost.front(), a.state_at.at(lost.front()));
        ASSERT_TRUE(b.pump([&] { return !b.seen.empty(); })) << which;
        EXPECT_EQ(b.seen.front().first, "snapshot") << which << ": " << b.trace();
        EXPECT_EQ(b.v.state, table_state(T)) << which;
        // From a durable position: patches, and exactly the table.
        client c(port, T, durable_seen, durable_state);
        ASSERT_TRUE(c.pump([&] { return c.v.pos >= after; })) << which << ": " << c.trace();
        EXPECT_EQ(c.v.snapshots, 0) << which << ": " << c.trace();
        EXPECT_EQ(c.v.state, table_state(T)) << which;
        EXPECT_TRUE(c.monotonic()) << which << ": " << c.trace();
    };
    check_resumes(s.port, "the serve that saw the crash");
    // A serve started after the crash knows the lost range only from pglive.epochs.
    auto s2 = serve();
    check_resumes(s2.port, "a serve started after the crash");
    std::string metrics;
    EXPECT_TRUE(eventually([&] {
        metrics = test::http_get("127.0.0.1", s.port, "/metrics").body;
        return metrics.find("\npglive_epochs_lost_total 1\n") != std::string::npos;
    }, 10s)) << metrics;
}

// PostgreSQL killed (crash recovery) while writers stream and a client is subscribed.
TEST_F(epoch_e2e, a_real_crash_while_writers_stream_loses_nothing_and_repeats_nothing) {
    const std::string T = "public.ep_crash";
    sql("CREATE TABLE " + T + " (id int PRIMARY KEY, n int, w int); SELECT pglive.attach('" + T + "')");
    auto s = serve();
    client a(s.port, T);
    ASSERT_TRUE(a.pump([&] { return a.v.snapshots == 1; }));
    int64_t epoch_before = q64("select epoch from pglive.state");
    std::atomic<bool> stop{false};
    std::atomic<int> written{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w)
        writers.emplace_back([&, w] {
            std::mt19937 rng(w);
            int i = 0;
            while (!stop) {
                try {
                    auto conn = open_connection(pg().conninfo(), "test-writer");
                    while (!stop) {
                        int id = w * 1000000 + i;
                        pqxx::work t(*conn);
                        t.exec_params("INSERT INTO " + T + " VALUES ($1, 0, $2) ON CONFLICT (id) DO UPDATE SET n = " + T +
                                          ".n + 1",
                                      id, w);
                        if (i > 0 && rng() % 3 == 0) t.exec_params("UPDATE " + T + " SET n = n + 1 WHERE id = $1", id - 1);
                        t.commit();
                        ++i;
                        ++written;
                    }
                } catch (const std::exception&) {
                    // the crash: connect again (polled by the reconnect itself)
                    std::this_thread::sleep_for(20ms);
                }
            }
        });
    std::thread reader([&] { a.pump([&] { return stop.load(); }, 300s); });
    ASSERT_TRUE(eventually([&] { return written > 1500; }, 60s));
    pg().kill();  // immediate: crash recovery at the next start, unlogged tables reset
    pg().start();
    int at_restart = written;
    ASSERT_TRUE(eventually([&] { return written > at_restart + 1500; }, 60s));
    stop = true;
    for (auto& t : writers) t.join();
    reader.join();
    int64_t last = settled();
    ASSERT_TRUE(a.pump([&] { return a.v.pos >= last; }, 60s)) << a.trace() << "\n" << s.proc->output();
    EXPECT_EQ(q64("select epoch from pglive.state"), epoch_before + 1) << "the crash started an epoch";
    EXPECT_EQ(a.v.state, table_state(T));
    EXPECT_TRUE(a.monotonic());
    EXPECT_TRUE(test::strictly_increasing(a.v.positions()));
    // A resume from the last position is exact.
    json st = a.v.state;
    sql("UPDATE " + T + " SET n = n + 1 WHERE id % 7 = 0");
    int64_t last2 = settled();
    client b(s.port, T, a.v.pos, st);
    ASSERT_TRUE(b.pump([&] { return b.v.pos >= last2; })) << b.trace();
    EXPECT_EQ(b.v.snapshots, 0);
    EXPECT_EQ(b.v.state, table_state(T));
}

}  // namespace
}  // namespace pglive
