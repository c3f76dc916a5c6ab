// outbound_test.cpp — guards net/outbound.h (queue bounds, overflow → resync, supersede) and net/write_combiner.h (write combining), on a local io_context without sockets.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "net/outbound.h"
#include "net/write_combiner.h"

namespace pglive {
namespace {

// ------------------------------------------------------------------ outbound

// A connection whose transport is the test: each write's frames are recorded and the write
// completes when the test says so.
class test_conn : public outbound<test_conn>, public std::enable_shared_from_this<test_conn> {
public:
    using outbound::outbound;
    auto executor() { return shard_.executor(); }

    template <class Queue, class Handler>
    size_t write_frames(const Queue& q, Handler&& h) {
        std::vector<std::string> batch;
        for (auto& item : q) {
            if (batch.size() == max_batch) break;
            batch.push_back(*item.f);
            in_flight_bytes += item.f->size();
        }
        writes.push_back(batch);
        pending = std::forward<Handler>(h);
        return batch.size();
    }
    void fail(boost::beast::error_code ec, const char* what) {
        if (closed_) return;
        closed_ = true;
        failures.push_back({ec, what});
        drop_queued();
    }
    void expired() {}

    // The write in flight completes (successfully).
    void complete_write() {
        ASSERT_TRUE(pending) << "no write in flight";
        auto h = std::move(pending);
        pending = nullptr;
        size_t n = std::exchange(in_flight_bytes, 0);
        h({}, n);
    }
    bool writing() const { return bool(pending); }
    conn_id id() const { return id_; }
    size_t queued() const { return queue_.size(); }
    size_t queued_bytes() const { return queued_bytes_; }
    void own(frame f, frame_kind k) { enqueue(std::move(f), k); }

    size_t max_batch = 64;
    std::vector<std::vector<std::string>> writes;
    std::function<void(boost::beast::error_code, size_t)> pending;
    size_t in_flight_bytes = 0;
    std::vector<std::pair<boost::beast::error_code, std::string>> failures;
};

frame text(const std::string& s) { return make_frame(s); }
frame sized(char c, size_t n) { return make_frame(std::string(n, c)); }

// The pieces a session lives among: an io_context (never run on a thread: the test polls it),
// a shard, the hub on its strand, and the shared context with small bounds.
struct outbound_fixture : ::testing::Test {
    boost::asio::io_context io;
    std::shared_ptr<net_context> ctx = std::make_shared<net_context>();
    hub_runner runner{io, hub::hooks{nullptr, nullptr, [] { return int64_t(0); }, nullptr, [] { return int64_t(0); }}, hub_limits{}};
    std::shared_ptr<shard> sh = std::make_shared<shard>(io);
    std::shared_ptr<test_conn> conn;

    // Runs what is ready (the io_context stops when it runs out of work: restart it first).
    size_t poll() {
        io.restart();
        return io.poll();
    }

    void SetUp() override {
        ctx->opt.max_queue_frames = 4;
        ctx->opt.max_queue_bytes = 1000;
        ctx->runner = &runner;
        conn = std::make_shared<test_conn>(ctx, *sh);
        runner.post([c = conn](hub& h) { h.connect(c->id(), c, access{}); });
        poll();
    }
    void TearDown() override {
        runner.post([id = conn->id()](hub& h) { h.disconnect(id); });
        poll();
    }
    // Frames from the hub, as the hub sends them, then the shard drains.
    void from_hub(frame f, frame_kind k, uint64_t tag = 0) {
        conn->send(std::move(f), k, tag);
        poll();
    }
    uint64_t hub_resyncs() {
        uint64_t n = 0;
        runner.post([&](hub& h) { n = h.stats().resyncs; });
        poll();
        return n;
    }
    // Completes writes until the queue is empty; returns every frame written since `from`.
    std::vector<std::string> written(size_t from = 0) {
        std::vector<std::string> out;
        for (size_t i = from; i < conn->writes.size(); ++i)
            for (auto& f : conn->writes[i]) out.push_back(f);
        return out;
    }
    void drain_all() {
        while (conn->writing()) {
            conn->complete_write();
            poll();
        }
    }
};

using strings = std::vector<std::string>;

TEST_F(outbound_fixture, frames_are_written_in_order_one_write_at_a_time) {
    from_hub(text("a"), frame_kind::patch);
    ASSERT_TRUE(conn->writing());
    EXPECT_EQ(conn->writes, std::vector<strings>{{"a"}});
    from_hub(text("bb"), frame_kind::patch);
    from_hub(text("ccc"), frame_kind::message);
    EXPECT_EQ(conn->writes.size(), 1u);  // the first write is still in flight
    conn->complete_write();
    EXPECT_EQ(conn->writes, (std::vector<strings>{{"a"}, {"bb", "ccc"}}));  // the rest gathered in one
    conn->complete_write();
    EXPECT_FALSE(conn->writing());
    EXPECT_EQ(conn->queued(), 0u);
    EXPECT_EQ(conn->queued_bytes(), 0u);
    EXPECT_EQ(ctx->stats.frames_sent.load(), 3u);
    EXPECT_EQ(ctx->stats.bytes_sent.load(), 6u);
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 0u);
}

TEST_F(outbound_fixture, past_max_queue_frames_patches_drop_and_a_resync_follows_the_drain) {
    from_hub(text("p1"), frame_kind::patch);  // in flight, still counted
    from_hub(text("r1"), frame_kind::reply);
    from_hub(text("p2"), frame_kind::patch);
    from_hub(text("s1"), frame_kind::snapshot);  // does not count against the patches
    from_hub(text("p3"), frame_kind::patch);     // 3 non-snapshot frames queued
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 0u);
    from_hub(text("p4"), frame_kind::patch);  // 4 = max_queue_frames: over; every queued patch not in flight goes
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 1u);
    EXPECT_EQ(ctx->stats.frames_dropped.load(), 3u);  // p2, p3 and p4
    from_hub(text("p5"), frame_kind::patch);          // resyncing: dropped at once
    from_hub(text("m1"), frame_kind::message);        // messages too
    from_hub(text("r2"), frame_kind::reply);          // replies and snapshots still pass
    EXPECT_EQ(ctx->stats.frames_dropped.load(), 5u);
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 1u);
    EXPECT_EQ(hub_resyncs(), 0u);  // not before the queue has drained
    drain_all();
    EXPECT_EQ(written(), (strings{"p1", "r1", "s1", "r2"}));
    EXPECT_EQ(hub_resyncs(), 1u);  // drained: the hub was asked once
    // The hub answered resynced() (no subscriptions here, so no snapshots): patches pass again.
    from_hub(text("p6"), frame_kind::patch);
    drain_all();
    EXPECT_EQ(written(), (strings{"p1", "r1", "s1", "r2", "p6"}));
    EXPECT_EQ(hub_resyncs(), 1u);
}

TEST_F(outbound_fixture, past_max_queue_bytes_patches_overflow) {
    from_hub(sized('a', 400), frame_kind::patch);  // in flight, still counted
    from_hub(sized('b', 400), frame_kind::patch);  // 800
    from_hub(sized('c', 200), frame_kind::patch);  // 1000: at the bound, not over
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 0u);
    from_hub(sized('d', 1), frame_kind::patch);  // 1001: over
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 1u);
    EXPECT_EQ(conn->queued(), 1u);  // only the frame in flight
    EXPECT_EQ(conn->queued_bytes(), 400u);
    drain_all();
    EXPECT_EQ(written(), (strings{std::string(400, 'a')}));
}

// A snapshot does not count against the patches behind it and widens their bound by its size
// until the connection has caught up (PROTOCOL §5, "Slow clients").
TEST_F(outbound_fixture, a_snapshot_widens_the_bound_of_the_patches_behind_it_until_caught_up) {
    from_hub(sized('S', 5000), frame_kind::snapshot);  // in flight; allowance 5000 bytes, 78 frames
    for (int i = 0; i < 40; ++i) from_hub(sized('p', 100), frame_kind::patch);  // 4000 bytes, 40 frames
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 0u);
    EXPECT_EQ(conn->queued(), 41u);
    from_hub(sized('q', 2001), frame_kind::patch);  // 6001 > 1000 + 5000
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 1u);
    EXPECT_EQ(conn->queued(), 1u);  // the snapshot in flight stays
    drain_all();
    EXPECT_EQ(hub_resyncs(), 1u);

    // Caught up: the plain bound again (4 frames, the write in flight among them).
    size_t before = conn->writes.size();
    for (int i = 0; i < 4; ++i) from_hub(text("x"), frame_kind::patch);
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 1u);
    from_hub(text("y"), frame_kind::patch);
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 2u);
    drain_all();
    EXPECT_EQ(written(before), (strings{"x"}));
}

TEST_F(outbound_fixture, replies_past_twice_max_queue_bytes_close_the_connection) {
    from_hub(sized('a', 600), frame_kind::reply);  // in flight
    from_hub(sized('b', 600), frame_kind::reply);  // 1200
    from_hub(sized('c', 800), frame_kind::reply);  // 2000: at twice the bound
    EXPECT_TRUE(conn->failures.empty());
    from_hub(sized('d', 1), frame_kind::reply);  // 2001
    ASSERT_EQ(conn->failures.size(), 1u);
    EXPECT_EQ(conn->failures[0].first, boost::asio::error::no_buffer_space);
    EXPECT_EQ(conn->failures[0].second, "send queue");
    EXPECT_EQ(ctx->stats.queue_overflows.load(), 0u);  // replies never start a resync
    EXPECT_EQ(conn->queued(), 1u);                     // the write in flight keeps its buffer
    from_hub(text("late"), frame_kind::reply);         // closed: nothing more is queued
    EXPECT_EQ(conn->queued(), 1u);
    conn->complete_write();
    EXPECT_EQ(written(), (strings{std::string(600, 'a')}));
}

TEST_F(outbound_fixture, supersede_drops_the_subscriptions_queued_frames_but_not_the_one_in_flight) {
    from_hub(text("s7"), frame_kind::snapshot, 7);  // in flight
    from_hub(text("p7a"), frame_kind::patch, 7);
    from_hub(text("p8"), frame_kind::patch, 8);
    from_hub(text("p7b"), frame_kind::patch, 7);
    conn->supersede(7);
    from_hub(text("s7'"), frame_kind::snapshot, 7);  // after the marker: kept
    conn->supersede(0);                              // tag 0 supersedes nothing
    poll();
    drain_all();
    EXPECT_EQ(written(), (strings{"s7", "p8", "s7'"}));
}

TEST_F(outbound_fixture, the_connections_own_frames_queue_behind_the_hubs) {
    from_hub(text("p1"), frame_kind::patch);
    from_hub(text("p2"), frame_kind::patch);
    conn->own(text(": ping"), frame_kind::reply);
    drain_all();
    EXPECT_EQ(written(), (strings{"p1", "p2", ": ping"}));
}

TEST_F(outbound_fixture, frames_sent_in_one_batch_are_admitted_in_one_drain) {
    conn->max_batch = 2;
    conn->send(text("a"), frame_kind::patch, 0);
    conn->send(text("b"), frame_kind::patch, 0);
    conn->send(text("c"), frame_kind::patch, 0);
    EXPECT_TRUE(conn->writes.empty());  // nothing before the shard runs
    EXPECT_EQ(poll(), 1u);           // one shard run for the three frames
    EXPECT_EQ(conn->writes, (std::vector<strings>{{"a", "b"}}));
    drain_all();
    EXPECT_EQ(conn->writes, (std::vector<strings>{{"a", "b"}, {"c"}}));
}

// ------------------------------------------------------------------ write_combiner

// A stream below the combiner: each write_some takes every byte and completes when told to.
struct held_stream {
    using executor_type = boost::asio::io_context::executor_type;
    explicit held_stream(executor_type ex) : ex(ex) {}
    executor_type get_executor() { return ex; }

    template <class ConstBufferSequence, class Handler>
    void async_write_some(const ConstBufferSequence& buffers, Handler&& h) {
        std::string bytes;
        for (auto b : boost::beast::buffers_range_ref(buffers)) bytes.append(static_cast<const char*>(b.data()), b.size());
        writes.push_back(bytes);
        auto hp = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
        pending = [hp, n = bytes.size()](boost::beast::error_code ec) { (*hp)(ec, ec ? 0 : n); };
    }
    void complete(boost::beast::error_code ec = {}) {
        auto p = std::move(pending);
        pending = nullptr;
        p(ec);
    }

    executor_type ex;
    std::vector<std::string> writes;
    std::function<void(boost::beast::error_code)> pending;
};

struct combiner_fixture : ::testing::Test {
    boost::asio::io_context io;
    write_combiner<held_stream> wc{io.get_executor()};
    std::vector<std::pair<boost::beast::error_code, size_t>> done;

    size_t poll() {
        io.restart();
        return io.poll();
    }

    void write(const std::string& s) {
        wc.async_write_some(boost::asio::buffer(s), [this](boost::beast::error_code ec, size_t n) { done.push_back({ec, n}); });
        poll();
    }
    held_stream& below() { return wc.next_layer(); }
};

TEST_F(combiner_fixture, an_idle_socket_gets_the_bytes_at_once) {
    write("hello");
    EXPECT_EQ(below().writes, (strings{"hello"}));
    ASSERT_EQ(done.size(), 1u);
    EXPECT_FALSE(done[0].first);
    EXPECT_EQ(done[0].second, 5u);
}

TEST_F(combiner_fixture, writes_during_a_send_complete_at_once_and_go_out_together) {
    write("a");
    write("bb");
    write("ccc");
    EXPECT_EQ(below().writes, (strings{"a"}));  // the socket is busy with "a"
    ASSERT_EQ(done.size(), 3u);                 // but every write has completed
    EXPECT_EQ(done[1].second, 2u);
    EXPECT_EQ(done[2].second, 3u);
    below().complete();
    EXPECT_EQ(below().writes, (strings{"a", "bbccc"}));  // combined into one socket write
    below().complete();
    poll();
    EXPECT_FALSE(below().pending);
}

TEST_F(combiner_fixture, past_high_water_a_write_waits_for_the_socket) {
    write("first");
    std::string big(write_combiner<held_stream>::high_water, 'x');
    write(big);  // exactly high_water pending: completes
    ASSERT_EQ(done.size(), 2u);
    write("y");  // one byte over: held
    EXPECT_EQ(done.size(), 2u);
    below().complete();  // "first" out; big + "y" go out, pending is empty again
    poll();
    ASSERT_EQ(done.size(), 3u);
    EXPECT_EQ(done[2].second, 1u);
    // big + "y" went out as one buffer (asio's async_write hands it to the stream in pieces).
    while (below().pending) below().complete();
    std::string rest;
    for (size_t i = 1; i < below().writes.size(); ++i) rest += below().writes[i];
    EXPECT_EQ(rest.size(), big.size() + 1);
    EXPECT_TRUE(rest == big + "y");
}

TEST_F(combiner_fixture, after_a_socket_error_every_write_fails_the_same_way) {
    write("a");
    write("b");  // pending behind "a"
    below().complete(boost::asio::error::connection_reset);
    poll();
    write("c");
    ASSERT_EQ(done.size(), 3u);
    EXPECT_EQ(done[2].first, boost::asio::error::connection_reset);
    EXPECT_EQ(done[2].second, 0u);
    EXPECT_EQ(below().writes, (strings{"a"}));  // "b" was never sent, nor "c"
}

TEST_F(combiner_fixture, drain_waits_for_every_pending_byte) {
    int drained = 0;
    wc.async_drain([&](boost::beast::error_code ec, size_t) { drained += ec ? 100 : 1; });
    poll();
    EXPECT_EQ(drained, 1);  // idle: at once
    write("a");
    write("b");
    wc.async_drain([&](boost::beast::error_code ec, size_t) { drained += ec ? 100 : 1; });
    poll();
    EXPECT_EQ(drained, 1);
    below().complete();  // "a" out, "b" now in flight
    poll();
    EXPECT_EQ(drained, 1);
    below().complete();
    poll();
    EXPECT_EQ(drained, 2);
    EXPECT_EQ(below().writes, (strings{"a", "b"}));
}

}  // namespace
}  // namespace pglive
