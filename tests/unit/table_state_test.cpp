// table_state_test.cpp — guards hub/table_state: transactions → net per-row deltas and rows, image_tx, the load hand-off and the history ring.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "golden.h"
#include "core/exact_json.h"
#include "hub/table_state.h"

namespace pglive {
namespace {

const char* const topic_name = "public.t";

op_kind op_of(const std::string& s) {
    if (s == "insert") return op_kind::insert;
    if (s == "update") return op_kind::update;
    if (s == "remove") return op_kind::remove;
    if (s == "truncate") return op_kind::truncate;
    if (s == "message") return op_kind::message;
    if (s == "control") return op_kind::control;
    throw std::invalid_argument("golden: unknown op " + s);
}

change make_change(const json& c) {
    change ch;
    ch.topic = c.value("topic", std::string(topic_name));
    ch.op = op_of(c.at("op").get<std::string>());
    if (c.contains("old")) ch.old_row = c["old"];
    if (c.contains("new")) ch.new_row = c["new"];
    return ch;
}

transaction make_tx(int64_t position, std::vector<change> changes, uint64_t xid = 0) {
    transaction tx;
    tx.position = position;
    tx.xid = xid;
    tx.ts = "2026-11-22T10:00:00.123456Z";
    tx.ts_us = 1795341600123456;
    tx.changes = std::move(changes);
    return tx;
}

change ins(const json& row) { return change{topic_name, op_kind::insert, json(), row}; }
change upd(const json& o, const json& n) { return change{topic_name, op_kind::update, o, n}; }
change del(const json& row) { return change{topic_name, op_kind::remove, row, json()}; }

table_state loaded_state(std::vector<std::string> key, const json& rows) {
    table_state st;
    st.info = topic_info{topic_name, std::move(key), {}};
    st.st = table_state::status::loaded;
    for (auto& [k, row] : rows.items()) st.rows.emplace(k, row);
    return st;
}

json rows_json(const row_map& rows) {
    json out = json::object();
    for (auto& [k, row] : rows) out[k] = row;
    return out;
}

json deltas_json(const topic_tx& tx) {
    json out = json::array();
    for (auto& d : tx.rows) out.push_back(json{{"key", d.key}, {"before", d.before}, {"after", d.after}});
    return out;
}

std::vector<int64_t> history_positions(const table_state& st) {
    std::vector<int64_t> out;
    for (auto& h : st.history) out.push_back(h->position);
    return out;
}

// ------------------------------------------------------------------ apply (golden)

TEST(table_state_apply, golden_cases_give_the_expected_deltas_and_rows) {
    json cases = test::golden_cases("table_state_golden.json");
    ASSERT_GE(cases.size(), 15u);
    for (auto& c : cases) {
        SCOPED_TRACE(c["name"].get<std::string>());
        table_state st = loaded_state(c["key"].get<std::vector<std::string>>(), c["rows"]);
        std::vector<change> changes;
        for (auto& ch : c["changes"]) changes.push_back(make_change(ch));
        auto tx = st.apply(make_tx(42, changes));
        ASSERT_TRUE(tx);
        EXPECT_EQ(tx->position, 42);
        EXPECT_EQ(tx->ts, "2026-11-22T10:00:00.123456Z");
        EXPECT_EQ(tx->ts_us, 1795341600123456);
        EXPECT_EQ(st.position, 42);
        json got = deltas_json(*tx), want = c["deltas"];
        if (c.value("any_order", false)) {
            auto by_key = [](const json& a, const json& b) { return a["key"] < b["key"]; };
            std::sort(got.begin(), got.end(), by_key);
            std::sort(want.begin(), want.end(), by_key);
        }
        EXPECT_EQ(got, want);
        EXPECT_EQ(tx->truncated, c.value("truncated", false));
        EXPECT_EQ(json(tx->messages), c.value("messages", json::array()));
        EXPECT_EQ(rows_json(st.rows), c["after"]);
    }
}

// image_tx reads before/after from the images alone: the same deltas as apply where the state
// agrees with the images, and no rows for a TRUNCATE (the outbox does not list them).
TEST(table_state_image_tx, deltas_come_from_the_images_and_truncate_lists_no_rows) {
    topic_info info{topic_name, {"id"}, {}};
    auto tx = make_tx(9, {upd({{"id", 1}, {"n", 1}}, {{"id", 1}, {"n", 2}}), upd({{"id", 1}, {"n", 2}}, {{"id", 1}, {"n", 3}}),
                          ins({{"id", 2}}), del({{"id", 3}, {"n", 0}}),
                          upd({{"id", 4}}, {{"id", 5}}), change{topic_name, op_kind::truncate, json(), json()}});
    topic_tx img = image_tx(tx, info);
    EXPECT_EQ(img.position, 9);
    EXPECT_EQ(img.ts_us, 1795341600123456);
    EXPECT_TRUE(img.truncated);
    EXPECT_EQ(deltas_json(img), json::parse(R"([
        {"key":"1","before":{"id":1,"n":1},"after":{"id":1,"n":3}},
        {"key":"2","before":null,"after":{"id":2}},
        {"key":"3","before":{"id":3,"n":0},"after":null},
        {"key":"4","before":{"id":4},"after":null},
        {"key":"5","before":null,"after":{"id":5}}])"));
    // A row inserted and deleted in one transaction says nothing.
    topic_tx none = image_tx(make_tx(10, {ins({{"id", 8}}), del({{"id", 8}})}), info);
    EXPECT_TRUE(none.rows.empty());
    EXPECT_FALSE(none.truncated);
}

// json/jsonb columns left out of a row image (SQL NULL) come back as sql_null(), so a later
// image that holds JSON null there is a change.
TEST(table_state_apply, a_missing_jsonb_column_is_sql_null_and_differs_from_json_null) {
    table_state st;
    st.info = topic_info{topic_name, {"id"}, {"id", "doc"}, {"bigint", "jsonb"}};
    st.st = table_state::status::loaded;
    auto t1 = st.apply(make_tx(1, {ins({{"id", 1}})}));
    ASSERT_EQ(t1->rows.size(), 1u);
    ASSERT_TRUE(st.rows.at("1").contains("doc"));
    EXPECT_TRUE(is_sql_null(st.rows.at("1")["doc"]));
    auto t2 = st.apply(make_tx(2, {upd({{"id", 1}}, {{"id", 1}, {"doc", nullptr}})}));
    ASSERT_EQ(t2->rows.size(), 1u);
    EXPECT_TRUE(is_sql_null(t2->rows[0].before["doc"]));
    EXPECT_TRUE(t2->rows[0].after["doc"].is_null());
    EXPECT_FALSE(is_sql_null(st.rows.at("1")["doc"]));
}

// ------------------------------------------------------------------ take and the history ring

TEST(table_state_history, the_ring_keeps_the_last_limit_transactions_and_the_floor_follows) {
    table_state st = loaded_state({"id"}, json::object());
    for (int64_t p = 1; p <= 5; ++p) ASSERT_TRUE(st.take(make_tx(p, {ins({{"id", p}})}), 3));
    EXPECT_EQ(history_positions(st), (std::vector<int64_t>{3, 4, 5}));
    EXPECT_EQ(st.history_floor, 2);  // everything after 2 is still held
    EXPECT_EQ(st.position, 5);
    EXPECT_EQ(st.rows.size(), 5u);
    // A limit of one: only the newest.
    auto six = std::make_shared<topic_tx>();
    six->position = 6;
    st.remember(six, 1);
    EXPECT_EQ(history_positions(st), (std::vector<int64_t>{6}));
    EXPECT_EQ(st.history_floor, 5);
}

TEST(table_state_history, a_transaction_that_says_nothing_to_the_topic_is_not_remembered) {
    table_state st = loaded_state({"id"}, json::parse(R"({"1":{"id":1}})"));
    // Another topic only, and an update to the same image: no deltas, no messages.
    auto other = make_tx(3, {change{"public.other", op_kind::insert, json(), {{"id", 9}}}});
    EXPECT_EQ(st.take(other, 10), nullptr);
    EXPECT_EQ(st.take(make_tx(4, {upd({{"id", 1}}, {{"id", 1}})}), 10), nullptr);
    EXPECT_TRUE(st.history.empty());
    EXPECT_EQ(st.position, 4);  // the rows are still at that position
    // A message alone is remembered.
    auto msg = st.take(make_tx(5, {change{topic_name, op_kind::message, json(), {{"m", 1}}}}), 10);
    ASSERT_TRUE(msg);
    EXPECT_EQ(json(msg->messages), json::parse(R"([{"m":1}])"));
    EXPECT_EQ(history_positions(st), (std::vector<int64_t>{5}));
}

TEST(table_state_history, drop_forgets_rows_and_history) {
    table_state st = loaded_state({"id"}, json::parse(R"({"1":{"id":1}})"));
    st.take(make_tx(2, {ins({{"id", 2}})}), 10);
    st.drop();
    EXPECT_TRUE(st.rows.empty());
    EXPECT_TRUE(st.history.empty());
}

// ------------------------------------------------------------------ the load hand-off

// A load read at P_rr = 10, labelled P* = 20, whose snapshot sees xids below 100 except 95.
table_state loading_state() {
    table_state st;
    st.info = topic_info{topic_name, {"id"}, {"id", "s"}};
    st.st = table_state::status::loading;
    topic_load ld;
    ld.info = st.info;
    ld.read_position = 10;
    ld.position = 20;
    ld.snapshot = pg_snapshot::parse("90:100:95");
    ld.rows = {json{{"id", 1}, {"s", "loaded"}}, json{{"id", 2}, {"s", "loaded"}}};
    st.load = std::move(ld);
    return st;
}

TEST(table_state_load, buffered_transactions_at_or_below_the_label_that_the_load_saw_are_skipped) {
    table_state st = loading_state();
    // At or below P_rr: in the rows, below history's floor (the insert of 1 would clobber "loaded").
    st.pending.push_back(make_tx(9, {ins({{"id", 1}, {"s", "old"}})}, 80));
    st.pending.push_back(make_tx(10, {upd({{"id", 2}, {"s", "x"}}, {{"id", 2}, {"s", "old"}})}, 81));
    // Above P_rr, at most P*, xid visible in the snapshot: in the rows; kept in history only.
    st.pending.push_back(make_tx(15, {upd({{"id", 1}, {"s", "before"}}, {{"id", 1}, {"s", "seen"}})}, 85));
    // Above P_rr, at most P*, xid in progress for the snapshot (95) or at/after xmax: applied.
    st.pending.push_back(make_tx(18, {ins({{"id", 3}, {"s", "applied"}})}, 95));
    st.pending.push_back(make_tx(20, {upd({{"id", 2}, {"s", "loaded"}}, {{"id", 2}, {"s", "at label"}})}, 120));
    // After the label: applied.
    st.pending.push_back(make_tx(21, {del({{"id", 1}, {"s", "loaded"}})}, 130));

    ASSERT_TRUE(st.finish_load(25, 100));
    EXPECT_EQ(st.st, table_state::status::loaded);
    EXPECT_FALSE(st.load.has_value());
    EXPECT_TRUE(st.pending.empty());
    EXPECT_EQ(rows_json(st.rows), json::parse(R"({
        "2":{"id":2,"s":"at label"},
        "3":{"id":3,"s":"applied"}})"));
    EXPECT_EQ(st.history_floor, 10);
    EXPECT_EQ(history_positions(st), (std::vector<int64_t>{15, 18, 20, 21}));
    // The skipped one is remembered from its images (a resume from before it needs its patch).
    EXPECT_EQ(deltas_json(*st.history[0]),
              json::parse(R"([{"key":"1","before":{"id":1,"s":"before"},"after":{"id":1,"s":"seen"}}])"));
    // The applied ones take their before from the rows.
    EXPECT_EQ(deltas_json(*st.history[2]),
              json::parse(R"([{"key":"2","before":{"id":2,"s":"loaded"},"after":{"id":2,"s":"at label"}}])"));
    EXPECT_EQ(st.position, 25);  // at least the stream's position
}

TEST(table_state_load, the_position_is_the_last_buffered_transaction_when_the_stream_is_behind) {
    table_state st = loading_state();
    st.pending.push_back(make_tx(30, {ins({{"id", 4}, {"s", "late"}})}, 140));
    ASSERT_TRUE(st.finish_load(12, 100));
    EXPECT_EQ(st.position, 30);
    EXPECT_EQ(st.rows.size(), 3u);
    EXPECT_EQ(st.rows.at("4"), (json{{"id", 4}, {"s", "late"}}));
}

TEST(table_state_load, with_nothing_buffered_the_rows_are_the_loads) {
    table_state st = loading_state();
    ASSERT_TRUE(st.finish_load(0, 100));
    EXPECT_EQ(rows_json(st.rows), json::parse(R"({"1":{"id":1,"s":"loaded"},"2":{"id":2,"s":"loaded"}})"));
    EXPECT_EQ(st.position, 10);  // P_rr
    EXPECT_TRUE(st.history.empty());
    EXPECT_EQ(st.history_floor, 10);
}

TEST(table_state_load, a_seen_truncate_clears_history_and_moves_the_floor) {
    table_state st = loading_state();
    st.pending.push_back(make_tx(12, {ins({{"id", 7}})}, 84));  // seen: into history
    st.pending.push_back(make_tx(14, {change{topic_name, op_kind::truncate, json(), json()}}, 86));  // seen
    st.pending.push_back(make_tx(16, {upd({{"id", 1}, {"s", "loaded"}}, {{"id", 1}, {"s", "after"}})}, 87));  // seen
    ASSERT_TRUE(st.finish_load(16, 100));
    EXPECT_EQ(st.history_floor, 14);  // resume across the truncate needs a snapshot
    EXPECT_EQ(history_positions(st), (std::vector<int64_t>{16}));
    // None of them was applied: the load's rows already hold them.
    EXPECT_EQ(rows_json(st.rows), json::parse(R"({"1":{"id":1,"s":"loaded"},"2":{"id":2,"s":"loaded"}})"));
}

TEST(table_state_load, an_undecodable_change_the_rows_miss_makes_the_load_stale) {
    table_state seen = loading_state();
    auto tx = make_tx(15, {}, 85);  // seen by the load: the rows hold the change
    tx.undecodable = {topic_name};
    seen.pending.push_back(tx);
    EXPECT_TRUE(seen.finish_load(15, 100));

    table_state missed = loading_state();
    tx.xid = 95;  // in progress for the load's snapshot: the rows miss it
    missed.pending.push_back(tx);
    EXPECT_FALSE(missed.finish_load(15, 100));

    table_state other = loading_state();
    tx.undecodable = {"public.other"};
    other.pending.push_back(tx);
    EXPECT_TRUE(other.finish_load(15, 100));
}

TEST(table_state_load, the_history_limit_holds_during_the_replay) {
    table_state st = loading_state();
    for (int64_t p = 21; p <= 26; ++p) st.pending.push_back(make_tx(p, {ins({{"id", p}})}, uint64_t(100 + p)));
    ASSERT_TRUE(st.finish_load(26, 4));
    EXPECT_EQ(history_positions(st), (std::vector<int64_t>{23, 24, 25, 26}));
    EXPECT_EQ(st.history_floor, 22);
    EXPECT_EQ(st.rows.size(), 8u);
}

}  // namespace
}  // namespace pglive
