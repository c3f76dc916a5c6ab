// aggregate_hub_test.cpp — guards aggregate subscriptions in the hub: one computation per equal spec (shared frames), loads, resume from memory or a snapshot beyond it.
#include <gtest/gtest.h>

#include "hub/hub.h"

namespace pglive {
namespace {

struct recorder : client {
    std::vector<std::pair<frame, frame_kind>> got;
    void send(frame f, frame_kind k, uint64_t) override { got.emplace_back(std::move(f), k); }
    void resynced() override {}
    wire_format format() const override { return wire_format::json; }
    std::vector<json> of_type(const std::string& type) const {
        std::vector<json> out;
        for (auto& [f, k] : got)
            if (json m = json::parse(*f); m["type"] == type) out.push_back(m);
        return out;
    }
    // The frames of `sub` (snapshot and patches), as sent.
    std::vector<const std::string*> frames_of(const std::string& sub) const {
        std::vector<const std::string*> out;
        for (auto& [f, k] : got)
            if (json m = json::parse(*f); m.value("sub", "") == sub && (m["type"] == "patch")) out.push_back(f.get());
        return out;
    }
    json state(const std::string& sub, json s = json::object()) const {
        for (auto& [f, k] : got) {
            json m = json::parse(*f);
            if (m.value("sub", "") != sub) continue;
            if (m["type"] == "snapshot") s = m["rows"];
            if (m["type"] == "patch") s = s.patch(m["patch"]);
        }
        return s;
    }
};

const topic_info info{"public.orders", {"id"}, {"id", "status", "amount"}, {"integer", "text", "numeric"}};

json row(int id, const std::string& status, int amount) { return json{{"id", id}, {"status", status}, {"amount", amount}}; }
change ins(json r) { return change{"public.orders", op_kind::insert, json(), std::move(r)}; }
change del(json o) { return change{"public.orders", op_kind::remove, std::move(o), json()}; }
transaction tx(int64_t pos, std::vector<change> cs) { return transaction{pos, "2026-12-03T10:00:00.000000Z", 1000 + uint64_t(pos), std::move(cs)}; }

struct AggregateHub : ::testing::Test {
    std::unique_ptr<hub> h;
    int loads = 0;
    void SetUp() override {
        hub::hooks hk;
        hk.load_topic = [this](const std::string&) { ++loads; };
        hk.now_ms = [] { return int64_t(0); };
        hub_limits lim;
        lim.history_transactions = 5;
        h = std::make_unique<hub>(hk, lim);
        h->set_topics({info});
    }
    std::shared_ptr<recorder> connect(conn_id id) {
        auto c = std::make_shared<recorder>();
        access a;
        a.topics = {"*"};
        h->connect(id, c, a);
        return c;
    }
    static subscribe_request by_status(std::string order = "", std::optional<int64_t> since = std::nullopt) {
        subscribe_request r;
        r.topic = "public.orders";
        r.sub = "by-status";
        r.group = {"status"};
        r.aggregate = {"count", "sum:amount", "max:amount"};
        r.order = std::move(order);
        r.since = since;
        return r;
    }
    void load(std::vector<json> rows) {
        topic_load l;
        l.info = info;
        l.position = 0;
        l.read_position = 0;
        l.snapshot = pg_snapshot::parse("100:100:");
        l.rows = std::move(rows);
        h->on_topic_loaded(std::move(l));
    }
};

TEST_F(AggregateHub, equal_specs_share_one_computation_and_its_frames) {
    auto a = connect(1), b = connect(2), c = connect(3);
    h->subscribe(1, by_status());
    h->subscribe(2, by_status());
    h->subscribe(3, by_status("count.desc"));  // another order: another computation
    EXPECT_EQ(loads, 1);
    load({row(1, "open", 10), row(2, "late", 5)});
    auto subscribed = a->of_type("subscribed");
    ASSERT_EQ(subscribed.size(), 1u);
    EXPECT_EQ(subscribed[0]["key"], json({"status"}));
    EXPECT_EQ(subscribed[0]["columns"], json({"status", "count", "sum:amount", "max:amount"}));
    EXPECT_EQ(a->state("by-status"), json::parse(R"({"late":{"count":1,"max:amount":5,"status":"late","sum:amount":5},
                                                     "open":{"count":1,"max:amount":10,"status":"open","sum:amount":10}})"));
    h->on_transactions({tx(1, {ins(row(3, "open", 7))})});
    auto fa = a->frames_of("by-status"), fb = b->frames_of("by-status"), fc = c->frames_of("by-status");
    ASSERT_EQ(fa.size(), 1u);
    ASSERT_EQ(fb.size(), 1u);
    ASSERT_EQ(fc.size(), 1u);
    EXPECT_EQ(fa[0], fb[0]);  // the same frame object: one computation, serialized once
    EXPECT_NE(fa[0], fc[0]);
    EXPECT_EQ(json::parse(*fa[0])["patch"],
              json::parse(R"([{"op":"replace","path":"/open/count","value":2},{"op":"replace","path":"/open/sum:amount","value":17}])"));
    EXPECT_EQ(a->state("by-status"), c->state("by-status"));
}

TEST_F(AggregateHub, since_in_memory_resumes_with_patches_and_beyond_it_with_a_snapshot) {
    auto a = connect(1);
    h->subscribe(1, by_status());
    load({row(1, "open", 10)});
    std::vector<json> at = {a->state("by-status")};  // at[p]: the state at position p
    for (int p = 1; p <= 8; ++p) {
        std::vector<change> cs = {ins(row(100 + p, p % 2 ? "open" : "late", p))};
        if (p == 6) cs.push_back(del(row(1, "open", 10)));  // the open group's max leaves
        h->on_transactions({tx(p, cs)});
        at.push_back(a->state("by-status"));
    }
    // Memory holds positions 4..8 (history_transactions = 5): since 3 is answered from it.
    auto b = connect(2);
    h->subscribe(2, by_status("", 3));
    EXPECT_TRUE(b->of_type("snapshot").empty());
    auto patches = b->of_type("patch");
    ASSERT_EQ(patches.size(), 5u);
    json s = at[3];
    for (size_t i = 0; i < patches.size(); ++i) {
        EXPECT_EQ(patches[i]["pos"], std::to_string(4 + i));
        s = s.patch(patches[i]["patch"]);
        EXPECT_EQ(s, at[4 + i]) << "after position " << 4 + i;
    }
    // Below memory: a fresh snapshot.
    auto c = connect(3);
    h->subscribe(3, by_status("", 2));
    ASSERT_EQ(c->of_type("snapshot").size(), 1u);
    EXPECT_EQ(c->of_type("snapshot")[0]["rows"], at[8]);
    // At the head: nothing to send, and live from there.
    auto d = connect(4);
    h->subscribe(4, by_status("", 8));
    EXPECT_TRUE(d->of_type("snapshot").empty());
    EXPECT_TRUE(d->of_type("patch").empty());
    h->on_transactions({tx(9, {ins(row(500, "done", 1))})});
    ASSERT_EQ(d->of_type("patch").size(), 1u);
    EXPECT_EQ(d->state("by-status", at[8]), a->state("by-status"));
}

}  // namespace
}  // namespace pglive
