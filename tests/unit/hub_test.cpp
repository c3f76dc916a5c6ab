// hub_test.cpp — the hub as pure logic: recording clients, loads and transactions fed by hand.
#include <gtest/gtest.h>

#include "hub/hub.h"
#include "net/poll_answer.h"

namespace pglive {
namespace {

struct recording_client : client {
    std::vector<std::pair<frame, frame_kind>> got;
    std::vector<std::pair<uint64_t, frame_stamp>> stamps;  // each frame's tag and stamp, as `got`
    int resynced_count = 0;
    wire_format fmt = wire_format::json;
    void send(frame f, frame_kind k, uint64_t tag, frame_stamp st) override {
        got.emplace_back(std::move(f), k);
        stamps.emplace_back(tag, st);
    }
    // Forgets every frame after the first `n` (what a connection dropped on overflow).
    void drop_after(size_t n) {
        got.resize(n);
        stamps.resize(n);
    }
    void resynced() override { ++resynced_count; }
    wire_format format() const override { return fmt; }
    std::vector<json> messages() const {
        std::vector<json> out;
        for (auto& [f, k] : got) out.push_back(json::parse(*f));
        return out;
    }
    std::vector<json> of_type(const std::string& type) const {
        std::vector<json> out;
        for (auto& m : messages())
            if (m["type"] == type) out.push_back(m);
        return out;
    }
    // The state a client builds: snapshot, then every patch in order (RFC 6902 via nlohmann).
    json state(const std::string& sub) const {
        json s = json::object();
        for (auto& m : messages()) {
            if (m.value("sub", "") != sub) continue;
            if (m["type"] == "snapshot") s = m["rows"];
            if (m["type"] == "patch") s = s.patch(m["patch"]);
        }
        return s;
    }
};

topic_info orders_info() { return topic_info{"public.orders", {"id"}, {"id", "status", "amount"}}; }

json row(int id, const std::string& status, int amount) {
    return json{{"id", id}, {"status", status}, {"amount", amount}};
}

change ins(json r) { return change{"public.orders", op_kind::insert, json(), std::move(r)}; }
change upd(json o, json n) { return change{"public.orders", op_kind::update, std::move(o), std::move(n)}; }
change del(json o) { return change{"public.orders", op_kind::remove, std::move(o), json()}; }

transaction tx(int64_t pos, uint64_t xid, std::vector<change> changes) {
    return transaction{pos, "2026-11-22T10:00:00.000000Z", xid, std::move(changes)};
}

struct hub_fixture : ::testing::Test {
    std::vector<std::string> loads;
    std::vector<std::tuple<std::string, int64_t, int64_t>> history_reads;
    int64_t clock = 0;
    std::unique_ptr<hub> h;

    void SetUp() override {
        hub::hooks hk;
        hk.load_topic = [this](const std::string& t) { loads.push_back(t); };
        hk.load_history = [this](const std::string& t, int64_t a, int64_t u) { history_reads.emplace_back(t, a, u); };
        hk.now_ms = [this] { return clock; };
        hub_limits lim;
        lim.max_subscriptions_per_connection = 3;
        lim.history_transactions = 5;
        h = std::make_unique<hub>(hk, lim);
        h->set_topics({orders_info()});
    }

    std::shared_ptr<recording_client> connect(conn_id id, access who = everyone()) {
        auto c = std::make_shared<recording_client>();
        h->connect(id, c, who);
        return c;
    }
    static access everyone() {
        access a;
        a.topics = {"*"};
        return a;
    }
    subscribe_request sub(std::string name, std::vector<std::string> filter = {}) {
        subscribe_request r;
        r.ref = "r-" + name;
        r.topic = "public.orders";
        r.sub = std::move(name);
        r.filter = std::move(filter);
        return r;
    }
    // The listener has delivered everything up to `pos` (transactions of other tables).
    void advance(int64_t pos) { h->on_transactions({tx(pos, 1, {change{"public.other", op_kind::insert, json(), json{{"id", 1}}}})}); }
    // A load labelled `pos` (P*) whose own read saw positions up to `read_at` (P_rr; default: pos).
    void load(int64_t pos, std::vector<json> rows, std::string snap = "100:100:", int64_t read_at = -1) {
        topic_load l;
        l.info = orders_info();
        l.position = pos;
        l.read_position = read_at < 0 ? pos : read_at;
        l.snapshot = pg_snapshot::parse(snap);
        l.rows = std::move(rows);
        h->on_topic_loaded(std::move(l));
    }
};

TEST_F(hub_fixture, subscribe_waits_for_load_then_sends_snapshot_and_patches) {
    auto c = connect(1);
    h->subscribe(1, sub("all"));
    ASSERT_EQ(loads, std::vector<std::string>{"public.orders"});
    auto subscribed = c->of_type("subscribed");
    ASSERT_EQ(subscribed.size(), 1u);
    EXPECT_EQ(subscribed[0]["ref"], "r-all");
    EXPECT_EQ(subscribed[0]["key"], json::array({"id"}));
    EXPECT_TRUE(c->of_type("snapshot").empty());

    load(0, {row(1, "open", 10)});
    auto snaps = c->of_type("snapshot");
    ASSERT_EQ(snaps.size(), 1u);
    EXPECT_EQ(snaps[0]["pos"], "0");
    EXPECT_EQ(snaps[0]["rows"]["1"]["amount"], 10);

    h->on_transactions({tx(1, 200, {ins(row(2, "open", 5)), upd(row(1, "open", 10), row(1, "open", 11))})});
    auto patches = c->of_type("patch");
    ASSERT_EQ(patches.size(), 1u);  // one message per transaction
    EXPECT_EQ(patches[0]["pos"], "1");
    EXPECT_EQ(patches[0]["patch"],
              json::parse(R"([{"op":"add","path":"/2","value":{"id":2,"status":"open","amount":5}},
                              {"op":"replace","path":"/1/amount","value":11}])"));
    EXPECT_EQ(c->state("all"), json::parse(R"({"1":{"id":1,"status":"open","amount":11},
                                               "2":{"id":2,"status":"open","amount":5}})"));
}

TEST_F(hub_fixture, load_hand_off_skips_transactions_already_in_the_snapshot) {
    auto c = connect(1);
    h->subscribe(1, sub("all"));
    // Two transactions arrive while loading: xid 150 committed before the snapshot (visible,
    // already in the rows), xid 160 after it. The load's exact position is 2.
    h->on_transactions({tx(1, 150, {ins(row(1, "open", 10))})});
    h->on_transactions({tx(2, 160, {ins(row(2, "open", 20))})});
    load(2, {row(1, "open", 10)}, "155:170:160", 0);
    auto snaps = c->of_type("snapshot");
    ASSERT_EQ(snaps.size(), 1u);
    EXPECT_EQ(snaps[0]["pos"], "2");
    EXPECT_EQ(snaps[0]["rows"].size(), 2u);
    EXPECT_TRUE(c->of_type("patch").empty());
}

// Issue 9.1: transactions that committed before the load's snapshot but were sequenced after
// its read (P_rr < position <= P*) are in the rows: the label covers them, and they are kept in
// history, so a client resuming from before them still gets their patches.
TEST_F(hub_fixture, load_label_covers_transactions_its_snapshot_saw_and_history_keeps_them) {
    auto a = connect(1);
    h->subscribe(1, sub("all"));
    h->on_transactions({tx(1, 150, {ins(row(1, "open", 10))})});
    h->on_transactions({tx(2, 160, {ins(row(2, "open", 20))})});
    h->on_transactions({tx(3, 170, {ins(row(3, "open", 30))})});
    // Read at position 1; xids 150 and 160 visible (below xmin 165), 170 still running.
    load(2, {row(1, "open", 10), row(2, "open", 20)}, "165:175:170", 1);
    auto snaps = a->of_type("snapshot");
    ASSERT_EQ(snaps.size(), 1u);
    EXPECT_EQ(snaps[0]["pos"], "3");
    EXPECT_EQ(snaps[0]["rows"].size(), 3u);

    auto b = connect(2);
    auto r = sub("all");
    r.since = 1;  // e.g. a label another node gave: resumed from this node's memory
    h->subscribe(2, r);
    EXPECT_TRUE(history_reads.empty());
    EXPECT_TRUE(b->of_type("snapshot").empty());
    auto p = b->of_type("patch");
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0]["pos"], "2");
    EXPECT_EQ(p[1]["pos"], "3");
    EXPECT_EQ(p[0]["patch"], json::parse(R"([{"op":"add","path":"/2","value":{"id":2,"status":"open","amount":20}}])"));
}

// Issue 9.2: a window loading while a buffered transaction deletes its top row aborted the
// process (the window was computed before the replay); an insert left it one position stale.
TEST_F(hub_fixture, window_is_computed_after_the_load_replays_its_buffer) {
    auto a = connect(1);
    auto r = sub("top");
    r.limit = 2;
    r.order = "amount.desc";
    h->subscribe(1, r);
    h->on_transactions({tx(1, 200, {del(row(4, "open", 40))})});
    h->on_transactions({tx(2, 201, {ins(row(5, "open", 35))})});
    load(0, {row(1, "open", 10), row(2, "open", 20), row(3, "open", 30), row(4, "open", 40)}, "150:150:");
    auto snaps = a->of_type("snapshot");
    ASSERT_EQ(snaps.size(), 1u);
    EXPECT_EQ(snaps[0]["pos"], "2");
    EXPECT_EQ(snaps[0]["rows"], json::parse(R"({"5":{"id":5,"status":"open","amount":35},
                                                "3":{"id":3,"status":"open","amount":30}})"));
    h->on_transactions({tx(3, 202, {del(row(5, "open", 35))})});
    EXPECT_EQ(a->state("top"), json::parse(R"({"3":{"id":3,"status":"open","amount":30},
                                               "2":{"id":2,"status":"open","amount":20}})"));
}

TEST_F(hub_fixture, load_waits_until_the_stream_reaches_its_position) {
    auto c = connect(1);
    h->subscribe(1, sub("all"));
    load(3, {row(1, "open", 10), row(2, "open", 20)}, "150:170:", 1);  // both below xmin: visible
    EXPECT_TRUE(c->of_type("snapshot").empty());
    h->on_transactions({tx(2, 151, {ins(row(2, "open", 20))})});
    EXPECT_TRUE(c->of_type("snapshot").empty());
    h->on_transactions({tx(3, 152, {ins(row(1, "open", 10))}), tx(4, 180, {del(row(1, "open", 10))})});
    auto snaps = c->of_type("snapshot");
    ASSERT_EQ(snaps.size(), 1u);
    EXPECT_EQ(snaps[0]["pos"], "3");  // served as soon as the stream reached the load
    EXPECT_EQ(c->of_type("patch").size(), 1u);
    EXPECT_EQ(c->state("all"), json::parse(R"({"2":{"id":2,"status":"open","amount":20}})"));
}

TEST_F(hub_fixture, filter_moves_become_add_and_remove_and_untouched_sets_send_nothing) {
    auto c = connect(1);
    h->subscribe(1, sub("open", {"status=eq.open"}));
    load(0, {row(1, "open", 10), row(2, "done", 20)});
    h->on_transactions({tx(1, 200, {upd(row(2, "done", 20), row(2, "done", 21))})});
    EXPECT_TRUE(c->of_type("patch").empty());
    h->on_transactions({tx(2, 201, {upd(row(2, "done", 21), row(2, "open", 21))})});
    h->on_transactions({tx(3, 202, {upd(row(1, "open", 10), row(1, "done", 10))})});
    auto patches = c->of_type("patch");
    ASSERT_EQ(patches.size(), 2u);
    EXPECT_EQ(patches[0]["patch"][0]["op"], "add");
    EXPECT_EQ(patches[1]["patch"], json::parse(R"([{"op":"remove","path":"/1"}])"));
    EXPECT_EQ(c->state("open"), json::parse(R"({"2":{"id":2,"status":"open","amount":21}})"));
}

TEST_F(hub_fixture, window_evicts_and_backfills) {
    auto c = connect(1);
    auto r = sub("top2");
    r.limit = 2;
    r.order = "amount.desc";
    h->subscribe(1, r);
    load(0, {row(1, "open", 10), row(2, "open", 20), row(3, "open", 30)});
    EXPECT_EQ(c->state("top2").size(), 2u);
    EXPECT_TRUE(c->state("top2").contains("3"));
    EXPECT_TRUE(c->state("top2").contains("2"));
    h->on_transactions({tx(1, 200, {ins(row(4, "open", 40))})});  // pushes 2 out
    EXPECT_EQ(c->state("top2"), json::parse(R"({"3":{"id":3,"status":"open","amount":30},
                                                "4":{"id":4,"status":"open","amount":40}})"));
    h->on_transactions({tx(2, 201, {del(row(4, "open", 40))})});  // 2 comes back
    EXPECT_EQ(c->state("top2"), json::parse(R"({"3":{"id":3,"status":"open","amount":30},
                                                "2":{"id":2,"status":"open","amount":20}})"));
    h->on_transactions({tx(3, 202, {upd(row(1, "open", 10), row(1, "open", 11))})});  // outside: silent
    EXPECT_EQ(c->of_type("patch").size(), 2u);
}

TEST_F(hub_fixture, truncate_removes_every_row_and_key_change_is_remove_plus_add) {
    auto c = connect(1);
    h->subscribe(1, sub("all"));
    load(0, {row(1, "open", 10), row(2, "open", 20)});
    h->on_transactions({tx(1, 200, {upd(row(1, "open", 10), row(9, "open", 10))})});
    auto p = c->of_type("patch");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0]["patch"][0], json::parse(R"({"op":"remove","path":"/1"})"));
    EXPECT_EQ(p[0]["patch"][1]["op"], "add");
    h->on_transactions({tx(2, 201, {change{"public.orders", op_kind::truncate, json(), json()}})});
    EXPECT_EQ(c->state("all"), json::object());
}

// One UPDATE statement over rows 1 and 2 that moved row 2 to key 3, as capture/outbox.cpp
// pairs it by key: an update, a remove and an insert.
TEST_F(hub_fixture, a_statements_paired_changes_apply_by_key) {
    auto c = connect(1);
    h->subscribe(1, sub("all"));
    load(0, {row(1, "open", 10), row(2, "open", 20)});
    h->on_transactions({tx(1, 200, {upd(row(1, "open", 10), row(1, "open", 15)), ins(row(3, "open", 20)),
                                    del(row(2, "open", 20))})});
    EXPECT_EQ(c->state("all"), json::parse(R"({"1":{"id":1,"status":"open","amount":15},
                                               "3":{"id":3,"status":"open","amount":20}})"));
}

TEST_F(hub_fixture, one_frame_per_shape_and_sub_name_is_shared) {
    auto a = connect(1);
    auto b = connect(2);
    h->subscribe(1, sub("public.orders"));
    h->subscribe(2, sub("public.orders"));
    load(0, {});
    h->on_transactions({tx(1, 200, {ins(row(1, "open", 1))})});
    ASSERT_EQ(a->got.back().second, frame_kind::patch);
    EXPECT_EQ(a->got.back().first.get(), b->got.back().first.get());
}

TEST_F(hub_fixture, resume_from_memory_sends_only_later_patches) {
    auto a = connect(1);
    h->subscribe(1, sub("all"));
    load(0, {});
    for (int i = 1; i <= 4; ++i) h->on_transactions({tx(i, 200 + i, {ins(row(i, "open", i))})});
    auto b = connect(2);
    auto r = sub("all");
    r.since = 2;
    h->subscribe(2, r);
    EXPECT_TRUE(b->of_type("snapshot").empty());
    auto p = b->of_type("patch");
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0]["pos"], "3");
    EXPECT_EQ(p[1]["pos"], "4");
}

TEST_F(hub_fixture, resume_older_than_memory_reads_the_outbox) {
    auto a = connect(1);
    h->subscribe(1, sub("all"));
    advance(10);
    load(10, {row(1, "open", 1)});
    auto b = connect(2);
    auto r = sub("all");
    r.since = 8;
    h->subscribe(2, r);
    ASSERT_EQ(history_reads.size(), 1u);
    EXPECT_EQ(std::get<1>(history_reads[0]), 8);
    EXPECT_EQ(std::get<2>(history_reads[0]), 10);
    history_result hr;
    hr.transactions = {tx(9, 150, {upd(row(1, "open", 0), row(1, "open", 1))}), tx(10, 151, {})};
    h->on_history("public.orders", 8, hr);
    auto p = b->of_type("patch");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0]["pos"], "9");
    EXPECT_TRUE(b->of_type("snapshot").empty());
    h->on_transactions({tx(11, 300, {ins(row(2, "open", 2))})});
    EXPECT_EQ(b->of_type("patch").size(), 2u);
}

TEST_F(hub_fixture, incomplete_history_falls_back_to_a_snapshot) {
    connect(1);
    h->subscribe(1, sub("all"));
    advance(10);
    load(10, {row(1, "open", 1)});
    auto b = connect(2);
    auto r = sub("all");
    r.since = 3;
    h->subscribe(2, r);
    history_result hr;
    hr.complete = false;
    h->on_history("public.orders", 3, hr);
    ASSERT_EQ(b->of_type("snapshot").size(), 1u);
    EXPECT_EQ(b->of_type("snapshot")[0]["pos"], "10");
}

// A resume read from the outbox that meets a change pglive could not decode cannot build that
// patch: a snapshot instead, never a silent hole.
TEST_F(hub_fixture, history_with_an_undecodable_change_falls_back_to_a_snapshot) {
    connect(1);
    h->subscribe(1, sub("all"));
    advance(10);
    load(10, {row(1, "open", 1)});
    auto b = connect(2);
    auto r = sub("all");
    r.since = 8;
    h->subscribe(2, r);
    history_result hr;
    auto bad = tx(9, 150, {});
    bad.undecodable = {"public.orders"};
    hr.transactions = {bad, tx(10, 151, {upd(row(1, "open", 0), row(1, "open", 1))})};
    h->on_history("public.orders", 8, hr);
    EXPECT_TRUE(b->of_type("patch").empty());
    ASSERT_EQ(b->of_type("snapshot").size(), 1u);
    EXPECT_EQ(b->of_type("snapshot")[0]["pos"], "10");
}

TEST_F(hub_fixture, resync_sends_fresh_snapshots_then_resynced) {
    auto c = connect(1);
    h->subscribe(1, sub("all"));
    load(0, {row(1, "open", 1)});
    h->on_transactions({tx(1, 200, {ins(row(2, "open", 2))})});
    h->resync(1);
    EXPECT_EQ(c->resynced_count, 1);
    auto snaps = c->of_type("snapshot");
    ASSERT_EQ(snaps.size(), 2u);
    EXPECT_EQ(snaps[1]["pos"], "1");
    EXPECT_EQ(snaps[1]["rows"].size(), 2u);
}

// Issue 12: a connection that overflowed says where its client stands; the hub merges every
// transaction since into one patch (`from`), whose ops applied to that state give the view now.
TEST_F(hub_fixture, resync_catches_up_with_one_merged_patch_from_where_the_client_stands) {
    auto c = connect(1);
    h->subscribe(1, sub("open", {"status=eq.open"}));
    load(0, {row(1, "open", 1), row(2, "open", 2), row(5, "open", 5)});
    ASSERT_EQ(c->of_type("snapshot").size(), 1u);
    uint64_t tag = c->stamps.back().first;
    size_t kept = c->got.size();  // the client has the snapshot at 0; everything after is dropped
    // Five transactions: what the fixture's history holds.
    h->on_transactions({tx(1, 201, {ins(row(3, "open", 3)), upd(row(5, "open", 5), row(5, "open", 6))}),
                        tx(2, 202, {upd(row(1, "open", 1), row(1, "closed", 1))}),   // leaves the view
                        tx(3, 203, {upd(row(3, "open", 3), row(3, "open", 30))}),
                        tx(4, 204, {del(row(2, "open", 2)), ins(row(4, "closed", 4))}),
                        tx(6, 206, {upd(row(5, "open", 6), row(5, "open", 5))})});  // back as it was
    c->drop_after(kept);
    h->resync(1, {{tag, 0}});
    EXPECT_EQ(c->resynced_count, 1);
    EXPECT_EQ(c->of_type("snapshot").size(), 1u) << "a catch-up, not a snapshot";
    auto patches = c->of_type("patch");
    ASSERT_EQ(patches.size(), 1u);
    EXPECT_EQ(patches[0]["from"], "0");
    EXPECT_EQ(patches[0]["pos"], "6");
    EXPECT_EQ(c->got.back().second, frame_kind::snapshot) << "admitted while the connection drops patches";
    EXPECT_EQ(c->stamps.back().second.pos, 6);
    // Row 5 went and came back: nothing to say about it.
    for (auto& op : patches[0]["patch"]) EXPECT_NE(op["path"].get<std::string>().rfind("/5", 0), 0u) << op;
    EXPECT_EQ(c->state("open"), (json{{"3", row(3, "open", 30)}, {"5", row(5, "open", 5)}}));
    // Live again after it: the next transaction is an ordinary patch.
    h->on_transactions({tx(7, 207, {ins(row(7, "open", 7))})});
    ASSERT_EQ(c->of_type("patch").size(), 2u);
    EXPECT_EQ(c->of_type("patch")[1]["pos"], "7");
    EXPECT_FALSE(c->of_type("patch")[1].contains("from"));
}

TEST_F(hub_fixture, resync_answers_a_snapshot_where_a_catch_up_cannot_be_exact_or_small) {
    auto once = [&](auto&& setup, const char* why) {
        SetUp();
        auto c = connect(1);
        auto req = sub("s");
        if (std::string(why) == "window") {
            req.limit = 2;
            req.order = "amount.desc";
        }
        h->subscribe(1, req);
        load(0, {row(1, "open", 1), row(2, "open", 2), row(3, "open", 3)});
        uint64_t tag = c->stamps.back().first;
        size_t kept = c->got.size();
        int64_t have = setup();
        c->drop_after(kept);
        h->resync(1, {{tag, have}});
        EXPECT_EQ(c->of_type("patch").size(), 0u) << why;
        ASSERT_EQ(c->of_type("snapshot").size(), 2u) << why;
        EXPECT_EQ(c->resynced_count, 1) << why;
    };
    // A window: its rows at the client's position are not kept.
    once([&] { h->on_transactions({tx(1, 201, {ins(row(4, "open", 4))})}); return int64_t(0); }, "window");
    // History (5 transactions here) no longer reaches back to the client's position.
    once([&] {
        for (int i = 1; i <= 7; ++i) h->on_transactions({tx(i, 200 + i, {upd(row(1, "open", i - 1 == 0 ? 1 : i - 1), row(1, "open", i == 1 ? 10 : i))})});
        return int64_t(0);
    }, "history");
    // A TRUNCATE in between: the rows it removed are not in the deltas.
    once([&] {
        h->on_transactions({tx(1, 201, {change{"public.orders", op_kind::truncate, json(), json()}})});
        return int64_t(0);
    }, "truncate");
    // More rows touched than the table holds: the snapshot is the smaller message.
    once([&] {
        h->on_transactions({tx(1, 201, {ins(row(4, "open", 4)), ins(row(6, "open", 6)), del(row(1, "open", 1)),
                                        del(row(2, "open", 2))})});
        return int64_t(0);
    }, "larger");
    // A position the hub never sent it.
    once([&] { h->on_transactions({tx(1, 201, {ins(row(4, "open", 4))})}); return int64_t(9); }, "unknown");
}

TEST_F(hub_fixture, refusals_carry_their_codes) {
    access reader;
    reader.topics = {"private.*"};
    auto c = connect(1, reader);
    h->subscribe(1, sub("x"));
    auto e = c->of_type("error");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0]["code"], "forbidden");
    EXPECT_EQ(e[0]["ref"], "r-x");

    auto d = connect(2);
    auto r = sub("y");
    r.topic = "public.ordrs";
    h->subscribe(2, r);
    EXPECT_EQ(d->of_type("error").at(0)["code"], "unknown_topic");
    h->subscribe(2, sub("z", {"nope=eq.1"}));
    EXPECT_EQ(d->of_type("error").at(1)["code"], "bad_filter");
    h->subscribe(2, sub("a"));
    h->subscribe(2, sub("b"));
    h->subscribe(2, sub("c"));
    h->subscribe(2, sub("d"));
    EXPECT_EQ(d->of_type("error").at(2)["code"], "too_many_subscriptions");
    h->subscribe(2, sub("a"));  // replacing an existing one is fine
    EXPECT_EQ(d->of_type("error").size(), 3u);
}

TEST_F(hub_fixture, channel_messages_and_user_messages) {
    access alice = everyone();
    alice.user = "alice";
    auto c = connect(1, alice);
    auto r = sub("alerts");
    r.topic = "alerts";
    h->subscribe(1, r);
    EXPECT_EQ(c->of_type("subscribed").size(), 1u);
    h->on_transactions({tx(1, 200, {change{"alerts", op_kind::message, json(), json{{"level", "high"}}}})});
    auto m = c->of_type("message");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0]["topic"], "alerts");
    EXPECT_EQ(m[0]["data"]["level"], "high");
    h->publish_user("alice", json{{"hello", 1}});
    h->publish_user("bob", json{{"hello", 2}});
    EXPECT_EQ(c->of_type("message").size(), 2u);
}

// A long-poll is a hub client of its own (net/poll_session); this one plays it on the hub's
// thread: pump() after a hub call does what the exchange asks (end the subscription, answer).
struct long_poll : client {
    hub& h;
    conn_id id;
    std::vector<poll_answer>& out;
    poll_exchange ex;
    std::vector<frame> got;
    long_poll(hub& hb, conn_id i, const subscribe_request& r, std::vector<poll_answer>& answers)
        : h(hb), id(i), out(answers), ex(poll_exchange::kind::poll, r.topic, r.since) {}
    void send(frame f, frame_kind, uint64_t, frame_stamp) override { got.push_back(std::move(f)); }
    void resynced() override {}
    wire_format format() const override { return wire_format::poll; }
    void act(poll_exchange::step s) {
        if (s == poll_exchange::step::end_subscription) h.unsubscribe(id, unsubscribe_request{"", "public.orders"});
        if (s != poll_exchange::step::answer) return;
        out.push_back(ex.answer());
        h.disconnect(id);
    }
    void pump() {
        while (!got.empty()) {
            auto batch = std::move(got);
            got.clear();
            for (auto& f : batch) act(ex.take(*f));
        }
    }
    void time_out() {
        act(ex.timed_out());
        pump();
    }
};
static std::shared_ptr<long_poll> start_poll(hub& h, conn_id id, const subscribe_request& r, const access& who,
                                             std::vector<poll_answer>& answers) {
    auto p = std::make_shared<long_poll>(h, id, r, answers);
    h.connect(id, p, who);
    h.subscribe(id, r);
    p->pump();
    return p;
}

TEST_F(hub_fixture, poll_answers_at_once_parks_and_times_out) {
    connect(1);
    h->subscribe(1, sub("all"));
    load(0, {});
    h->on_transactions({tx(1, 200, {ins(row(1, "open", 1))})});
    std::vector<poll_answer> answers;
    subscribe_request pr;
    pr.topic = "public.orders";
    pr.since = 0;
    start_poll(*h, 10, pr, everyone(), answers);
    ASSERT_EQ(answers.size(), 1u);
    auto body = json::parse(answers[0].body);
    EXPECT_EQ(body["pos"], "1");
    EXPECT_EQ(body["patches"].size(), 1u);

    pr.since = 1;
    auto parked = start_poll(*h, 11, pr, everyone(), answers);
    EXPECT_EQ(answers.size(), 1u);  // parked
    h->on_transactions({tx(2, 201, {ins(row(2, "open", 2))})});
    parked->pump();
    ASSERT_EQ(answers.size(), 2u);
    EXPECT_EQ(json::parse(answers[1].body)["patches"][0]["pos"], "2");

    pr.since = 2;
    start_poll(*h, 12, pr, everyone(), answers)->time_out();
    ASSERT_EQ(answers.size(), 3u);
    EXPECT_EQ(json::parse(answers[2].body)["patches"].size(), 0u);
}

TEST_F(hub_fixture, sse_clients_get_whole_event_records) {
    auto c = std::make_shared<recording_client>();
    c->fmt = wire_format::sse;
    h->connect(1, c, everyone());
    h->subscribe(1, sub("all"));
    load(0, {});
    h->on_transactions({tx(7, 200, {ins(row(1, "open", 1))})});
    ASSERT_EQ(c->got.size(), 2u);  // no `subscribed` reply on SSE: snapshot and patch
    EXPECT_EQ(c->got[0].first->rfind("event: snapshot\nid: 0\ndata: {", 0), 0u);
    EXPECT_EQ(c->got[1].first->rfind("event: patch\nid: 7\ndata: {", 0), 0u);
    EXPECT_EQ(c->got[1].first->substr(c->got[1].first->size() - 2), "\n\n");
}

TEST_F(hub_fixture, idle_topics_are_unloaded) {
    connect(1);
    h->subscribe(1, sub("all"));
    load(0, {});
    h->unsubscribe(1, unsubscribe_request{"u", "all"});
    clock = 120000;
    h->tick();
    h->subscribe(1, sub("all"));
    EXPECT_EQ(loads.size(), 2u);
}

// Issue 10.4: channel state was never freed (3,000 names, 3,000 series, forever), and metrics
// carried a series for every name ever published or subscribed.
TEST_F(hub_fixture, channel_state_is_freed_and_series_exist_only_for_attached_topics) {
    auto c = connect(1);
    for (int i = 0; i < 300; ++i) {
        subscribe_request r;
        r.topic = "chan" + std::to_string(i);
        r.sub = "s";
        h->subscribe(1, r);  // each replaces the last: one channel held at a time
        h->on_transactions({tx(i + 1, 100 + uint64_t(i), {change{r.topic, op_kind::message, json(), json{{"n", i}}}})});
    }
    EXPECT_EQ(c->of_type("message").size(), 300u);
    h->tick();
    EXPECT_LE(h->stats().topics_held, 2u);
    EXPECT_TRUE(h->stats().changes_by_topic.empty());
    EXPECT_TRUE(h->stats().subscriptions_by_topic.empty());
    h->subscribe(1, sub("all"));
    EXPECT_EQ(h->stats().subscriptions_by_topic.at("public.orders"), 1u);
    h->set_topics({});  // detached: its series go
    EXPECT_TRUE(h->stats().subscriptions_by_topic.empty());
}

// Issue 9 finding 4: a gap the listener reports (retention removed transactions it had not
// delivered) reloads every loaded topic and gives each subscription a fresh snapshot; before,
// subscribers kept a wrong state forever.
TEST_F(hub_fixture, a_gap_reloads_loaded_topics_and_sends_fresh_snapshots) {
    auto c = connect(1);
    h->subscribe(1, sub("all"));
    auto open_only = sub("open", {"status=eq.open"});
    open_only.since = 0;  // a resume point means nothing across a gap
    h->subscribe(1, open_only);
    load(0, {row(1, "open", 10)});
    h->on_transactions({tx(1, 200, {ins(row(2, "open", 20))})});
    ASSERT_EQ(c->of_type("snapshot").size(), 1u);
    ASSERT_EQ(loads.size(), 1u);

    // Positions 2..4 were pruned before delivery: row 1 was deleted and row 3 added there.
    h->on_gap(1, 4);
    ASSERT_EQ(loads.size(), 2u) << "the topic is reloaded";
    EXPECT_EQ(loads.back(), "public.orders");
    h->on_transactions({tx(5, 300, {upd(row(2, "open", 20), row(2, "open", 21))})});  // buffered meanwhile
    load(4, {row(2, "open", 20), row(3, "open", 30)}, "250:250:");
    auto snaps = c->of_type("snapshot");
    ASSERT_EQ(snaps.size(), 3u) << "one fresh snapshot per subscription";
    json want = json::parse(R"({"2":{"id":2,"status":"open","amount":21},"3":{"id":3,"status":"open","amount":30}})");
    EXPECT_EQ(c->state("all"), want);
    EXPECT_EQ(c->state("open"), want);
    EXPECT_EQ(snaps.back()["pos"], "5");

    // Still live afterwards.
    h->on_transactions({tx(6, 301, {del(row(3, "open", 30))})});
    EXPECT_EQ(c->state("all"), json::parse(R"({"2":{"id":2,"status":"open","amount":21}})"));

    // A gap with no subscriber just drops the topic from memory; the next subscriber loads it.
    h->unsubscribe(1, unsubscribe_request{"u1", "all"});
    h->unsubscribe(1, unsubscribe_request{"u2", "open"});
    h->on_gap(6, 8);
    EXPECT_EQ(loads.size(), 2u);
    h->subscribe(1, sub("again"));
    EXPECT_EQ(loads.size(), 3u);
}

// A gap reported while a load is in flight: a load whose read predates the gap's end lacks the
// pruned changes, and no buffered transaction carries them, so it is read again.
TEST_F(hub_fixture, a_load_that_read_before_a_gap_ended_is_read_again) {
    auto c = connect(1);
    h->subscribe(1, sub("all"));
    ASSERT_EQ(loads.size(), 1u);
    h->on_gap(0, 9);
    load(8, {row(1, "open", 10)}, "250:250:", 8);  // read at 8 < 9
    EXPECT_TRUE(c->of_type("snapshot").empty());
    ASSERT_EQ(loads.size(), 2u) << "a load from before the gap's end is asked again";
    load(9, {row(1, "open", 10), row(2, "open", 20)}, "250:250:", 9);
    auto snaps = c->of_type("snapshot");
    ASSERT_EQ(snaps.size(), 1u);
    EXPECT_EQ(snaps[0]["rows"].size(), 2u);
}

// Issue 10.7: a `since` beyond every position got `subscribed` and then silence. But a since
// from a node ahead of this one is a real position this node has not reached yet (the model
// test caught a first fix that answered it with a snapshot labelled below it): wait for the
// stream, resume from memory; a position no node reaches in time gets a fresh snapshot.
TEST_F(hub_fixture, since_ahead_of_the_node_waits_for_the_stream_then_a_snapshot) {
    auto a = connect(1);
    h->subscribe(1, sub("all"));
    load(0, {row(1, "open", 10)});
    h->on_transactions({tx(1, 201, {ins(row(2, "open", 20))})});

    auto b = connect(2);  // resumes with a position another node gave it
    auto r = sub("all");
    r.since = 3;
    h->subscribe(2, r);
    EXPECT_TRUE(b->of_type("snapshot").empty());
    h->on_transactions({tx(2, 202, {ins(row(3, "open", 30))}), tx(3, 203, {ins(row(4, "open", 40))})});
    EXPECT_TRUE(b->of_type("snapshot").empty());
    EXPECT_TRUE(b->of_type("patch").empty()) << "it already has 2 and 3";
    h->on_transactions({tx(4, 204, {ins(row(5, "open", 50))})});
    auto p = b->of_type("patch");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0]["pos"], "4");

    auto w = connect(4);  // a window resuming ahead: its snapshot is never labelled below since
    auto wr = sub("top");
    wr.limit = 2;
    wr.since = 5;
    h->subscribe(4, wr);
    EXPECT_TRUE(w->of_type("snapshot").empty());
    h->on_transactions({tx(5, 205, {ins(row(6, "open", 60))})});
    ASSERT_EQ(w->of_type("snapshot").size(), 1u);
    EXPECT_EQ(w->of_type("snapshot")[0]["pos"], "5");

    auto c = connect(3);  // a position that exists nowhere
    auto f = sub("all");
    f.since = 999;
    h->subscribe(3, f);
    h->tick();
    EXPECT_TRUE(c->of_type("snapshot").empty());
    clock += hub_limits{}.future_since_wait_ms;
    h->tick();
    auto snaps = c->of_type("snapshot");
    ASSERT_EQ(snaps.size(), 1u);
    EXPECT_EQ(snaps[0]["pos"], "5");
    EXPECT_EQ(snaps[0]["rows"].size(), 6u);
}

// Found by the model test: a load during a PostgreSQL restart answered unknown_topic and the
// subscription was dead. A database failure keeps the subscribers waiting; the load is retried.
TEST_F(hub_fixture, a_load_the_database_failed_is_retried_and_the_subscription_waits) {
    auto c = connect(1);
    h->subscribe(1, sub("all"));
    ASSERT_EQ(loads.size(), 1u);
    topic_load failed;
    failed.info.topic = "public.orders";
    failed.error = "load public.orders: database connection lost";
    failed.transient = true;
    h->on_topic_loaded(failed);
    EXPECT_TRUE(c->of_type("error").empty()) << "a restart is not an unknown topic";
    h->tick();
    EXPECT_EQ(loads.size(), 1u);  // backing off
    clock += 100;
    h->tick();
    ASSERT_EQ(loads.size(), 2u);
    load(0, {row(1, "open", 10)});
    ASSERT_EQ(c->of_type("snapshot").size(), 1u);
    EXPECT_EQ(c->state("all"), json::parse(R"({"1":{"id":1,"status":"open","amount":10}})"));
}

}  // namespace
}  // namespace pglive
