// hub_feed_test.cpp — the listener's stream into a real hub: in order, in chunks, paused under pressure, bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>

#include "net/hub_feed.h"
#include "net/hub_runner.h"

namespace pglive {
namespace {

using namespace std::chrono_literals;

std::vector<transaction> txs(int64_t from, int64_t to) {
    std::vector<transaction> v;
    for (int64_t p = from; p <= to; ++p) {
        transaction t;
        t.position = p;
        t.ts = "2026-12-03T00:00:00.000000Z";
        v.push_back(std::move(t));
    }
    return v;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds within = 10s) {
    auto deadline = std::chrono::steady_clock::now() + within;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(1ms);  // polling with a deadline
    }
    return true;
}

struct feed_fixture : ::testing::Test {
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
    std::unique_ptr<hub_runner> runner;
    std::thread thread;
    std::atomic<bool> pressed{false};

    void SetUp() override {
        hub::hooks hk;
        hk.load_topic = [](const std::string&) {};
        hk.load_history = [](const std::string&, int64_t, int64_t) {};
        hk.now_ms = [] { return int64_t(0); };
        hk.refresh_topics = [] {};
        runner = std::make_unique<hub_runner>(io, hk, hub_limits{});
        runner->post([](hub& h) { h.start_at(0); });
        thread = std::thread([this] { io.run(); });
    }
    // The feed must outlive its pump: the tests end drained, and one more trip through the
    // strand ends the pump that drained it.
    void TearDown() override {
        work.reset();
        io.stop();
        thread.join();
    }
    // What the hub has taken: (transactions, last position), read on its strand.
    std::pair<uint64_t, int64_t> taken() {
        std::promise<std::pair<uint64_t, int64_t>> p;
        runner->post([&p](hub& h) { p.set_value({h.stats().transactions, h.stats().position}); });
        return p.get_future().get();
    }
    hub_feed::options opts(size_t chunk, size_t max_outstanding = 1000, std::chrono::milliseconds max_pause = 60s) {
        hub_feed::options o;
        o.chunk = chunk;
        o.max_outstanding = max_outstanding;
        o.max_pause = max_pause;
        return o;
    }
};

TEST_F(feed_fixture, hands_the_stream_over_in_order_in_chunks) {
    hub_feed feed(*runner, opts(4), [this] { return pressed.load(); });
    ASSERT_TRUE(feed.transactions(txs(1, 10)));
    feed.gap(10, 10);  // nothing lost in fact: it is ordered with the rest, and changes no position
    ASSERT_TRUE(feed.transactions(txs(11, 13)));
    feed.epoch(0, 0);
    ASSERT_TRUE(feed.transactions(txs(14, 30)));
    ASSERT_TRUE(eventually([&] { return taken().first == 30; })) << taken().first;
    EXPECT_EQ(taken().second, 30) << "every position, in order (the hub skips one it has passed)";
    EXPECT_TRUE(eventually([&] { return feed.outstanding() == 0; }));
    EXPECT_EQ(feed.pauses(), 0u);
    taken();
}

TEST_F(feed_fixture, waits_while_under_pressure_and_goes_on_when_the_queues_drain) {
    pressed = true;
    hub_feed feed(*runner, opts(4), [this] { return pressed.load(); });
    ASSERT_TRUE(feed.transactions(txs(1, 10)));
    // A bounded observation window: while pressed, the hub takes nothing.
    auto until = std::chrono::steady_clock::now() + 200ms;
    while (std::chrono::steady_clock::now() < until) {
        ASSERT_EQ(taken().first, 0u) << "handed out under pressure";
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(feed.outstanding(), 10u) << "still counted: the listener's bound includes what waits here";
    EXPECT_EQ(feed.pauses(), 1u);
    pressed = false;
    ASSERT_TRUE(eventually([&] { return taken().first == 10; }));
    EXPECT_EQ(taken().second, 10);
    EXPECT_TRUE(eventually([&] { return feed.outstanding() == 0; }));
    taken();
}

TEST_F(feed_fixture, a_pause_that_lasts_lets_one_chunk_through_at_a_time) {
    // Connections that stopped reading altogether must not hold everyone for good: after
    // max_pause a chunk goes (they pass their bounds, are resynced, and stop counting).
    pressed = true;
    hub_feed feed(*runner, opts(2, 1000, 20ms), [this] { return pressed.load(); });
    ASSERT_TRUE(feed.transactions(txs(1, 6)));
    ASSERT_TRUE(eventually([&] { return taken().first == 6; }));
    EXPECT_EQ(taken().second, 6);
    EXPECT_TRUE(eventually([&] { return feed.outstanding() == 0; }));
    EXPECT_EQ(feed.stalled_chunks(), 3u) << "every chunk went through for want of progress (pglive_hub_feed_stalled_chunks_total)";
    taken();
}

TEST_F(feed_fixture, the_listener_waits_past_max_outstanding_and_stop_releases_it) {
    pressed = true;
    hub_feed feed(*runner, opts(4, 5), [this] { return pressed.load(); });
    ASSERT_TRUE(feed.transactions(txs(1, 5)));
    auto second = std::async(std::launch::async, [&] { return feed.transactions(txs(6, 8)); });
    EXPECT_EQ(second.wait_for(100ms), std::future_status::timeout) << "five outstanding: the listener must wait";
    pressed = false;
    ASSERT_EQ(second.wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(second.get());
    ASSERT_TRUE(eventually([&] { return taken().first == 8; }));

    pressed = true;
    ASSERT_TRUE(feed.transactions(txs(9, 13)));
    auto blocked = std::async(std::launch::async, [&] { return feed.transactions(txs(14, 14)); });
    EXPECT_EQ(blocked.wait_for(50ms), std::future_status::timeout);
    feed.stop();
    ASSERT_EQ(blocked.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(blocked.get()) << "stopped: nothing taken";
    pressed = false;  // what was taken before the stop is still handed over
    ASSERT_TRUE(eventually([&] { return taken().first == 13; }));
    EXPECT_TRUE(eventually([&] { return feed.outstanding() == 0; }));
    taken();
}

}  // namespace
}  // namespace pglive
