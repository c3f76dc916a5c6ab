// shape_test.cpp — guards hub/shape: filter moves, windows (eviction, backfill, ties), and the exact RFC 6902 ops of a delta set.
#include <gtest/gtest.h>

#include <fstream>

#include "golden.h"
#include "hub/shape.h"
#include "hub/table_state.h"

namespace pglive {
namespace {

const std::vector<std::string> columns = {"id", "status", "n"};
const std::vector<std::string> types = {"bigint", "text", "integer"};

op_kind op_of(const std::string& s) {
    if (s == "insert") return op_kind::insert;
    if (s == "update") return op_kind::update;
    if (s == "remove") return op_kind::remove;
    if (s == "truncate") return op_kind::truncate;
    throw std::invalid_argument("golden: unknown op " + s);
}

transaction make_tx(int64_t position, const json& changes) {
    transaction tx;
    tx.position = position;
    for (auto& c : changes) {
        change ch;
        ch.topic = "public.t";
        ch.op = op_of(c.at("op").get<std::string>());
        if (c.contains("old")) ch.old_row = c["old"];
        if (c.contains("new")) ch.new_row = c["new"];
        tx.changes.push_back(std::move(ch));
    }
    return tx;
}

table_state state_of(const json& rows, std::vector<std::string> key = {"id"}) {
    table_state st;
    st.info = topic_info{"public.t", std::move(key), columns, types};
    st.st = table_state::status::loaded;
    for (auto& [k, row] : rows.items()) st.rows.emplace(k, row);
    return st;
}

shape make_shape(const std::vector<std::string>& filter, const std::string& order, std::optional<int64_t> limit) {
    return shape(row_filter::parse(filter, columns, types), row_order::parse(order, columns, types), limit);
}

// ------------------------------------------------------------------ live ops (golden)

TEST(shape_live_ops, golden_cases_give_exactly_the_expected_ops_and_view) {
    json cases = test::golden_cases("shape_golden.json");
    ASSERT_GE(cases.size(), 20u);
    for (auto& c : cases) {
        SCOPED_TRACE(c["name"].get<std::string>());
        std::optional<int64_t> limit;
        if (c.contains("limit") && !c["limit"].is_null()) limit = c["limit"].get<int64_t>();
        shape sh = make_shape(c["filter"].get<std::vector<std::string>>(), c.value("order", std::string()), limit);
        EXPECT_EQ(sh.windowed(), limit.has_value());
        table_state st = state_of(c["rows"], c.value("key", std::vector<std::string>{"id"}));
        sh.recompute_window(st.rows);
        auto tx = st.apply(make_tx(7, c["changes"]));
        json ops = sh.live_ops(st.rows, *tx);
        EXPECT_EQ(ops, c["ops"]);
        EXPECT_EQ(sh.snapshot_rows(st.rows), c["snapshot"]);
    }
}

// The view before, patched with the ops, is the view after: for every golden case.
TEST(shape_live_ops, the_ops_move_the_view_before_to_the_view_after) {
    for (auto& c : test::golden_cases("shape_golden.json")) {
        SCOPED_TRACE(c["name"].get<std::string>());
        std::optional<int64_t> limit;
        if (c.contains("limit") && !c["limit"].is_null()) limit = c["limit"].get<int64_t>();
        shape sh = make_shape(c["filter"].get<std::vector<std::string>>(), c.value("order", std::string()), limit);
        table_state st = state_of(c["rows"], c.value("key", std::vector<std::string>{"id"}));
        sh.recompute_window(st.rows);
        json view = sh.snapshot_rows(st.rows);
        auto tx = st.apply(make_tx(7, c["changes"]));
        json ops = sh.live_ops(st.rows, *tx);
        EXPECT_EQ(view.patch(ops), sh.snapshot_rows(st.rows));
    }
}

// ------------------------------------------------------------------ windows across transactions

TEST(shape_window, a_window_follows_a_sequence_of_transactions) {
    shape sh = make_shape({}, "n.asc", 2);
    table_state st = state_of(json::object());
    sh.recompute_window(st.rows);
    EXPECT_EQ(sh.snapshot_rows(st.rows), json::object());

    auto step = [&](int64_t pos, const char* changes) {
        auto tx = st.apply(make_tx(pos, json::parse(changes)));
        return sh.live_ops(st.rows, *tx);
    };
    EXPECT_EQ(step(1, R"([{"op":"insert","new":{"id":1,"status":"a","n":5}}])"),
              json::parse(R"([{"op":"add","path":"/1","value":{"id":1,"status":"a","n":5}}])"));
    EXPECT_EQ(step(2, R"([{"op":"insert","new":{"id":2,"status":"a","n":7}}])"),
              json::parse(R"([{"op":"add","path":"/2","value":{"id":2,"status":"a","n":7}}])"));
    // Third row beyond the window: nothing.
    EXPECT_EQ(step(3, R"([{"op":"insert","new":{"id":3,"status":"a","n":9}}])"), json::array());
    // The smallest comes in: 2 goes.
    EXPECT_EQ(step(4, R"([{"op":"insert","new":{"id":4,"status":"a","n":1}}])"),
              json::parse(R"([{"op":"remove","path":"/2"},{"op":"add","path":"/4","value":{"id":4,"status":"a","n":1}}])"));
    // 1 and 4 deleted in one transaction: removed in window order (4 first), 2 and 3 come back.
    EXPECT_EQ(step(5, R"([{"op":"remove","old":{"id":1,"status":"a","n":5}},{"op":"remove","old":{"id":4,"status":"a","n":1}}])"),
              json::parse(R"([{"op":"remove","path":"/4"},{"op":"remove","path":"/1"},
                              {"op":"add","path":"/2","value":{"id":2,"status":"a","n":7}},
                              {"op":"add","path":"/3","value":{"id":3,"status":"a","n":9}}])"));
    // A truncate empties it.
    EXPECT_EQ(step(6, R"([{"op":"truncate"}])"), json::parse(R"([{"op":"remove","path":"/2"},{"op":"remove","path":"/3"}])"));
    EXPECT_EQ(sh.snapshot_rows(st.rows), json::object());
}

TEST(shape_window, recompute_window_keeps_the_limit_first_matching_rows) {
    shape sh = make_shape({"status=neq.gone"}, "n.desc,id.asc", 3);
    table_state st = state_of(json::parse(R"({
        "1":{"id":1,"status":"a","n":1}, "2":{"id":2,"status":"gone","n":100},
        "3":{"id":3,"status":"a","n":50}, "4":{"id":4,"status":"b","n":50},
        "5":{"id":5,"status":"a","n":2}, "6":{"id":6,"status":"a","n":null}})"));
    sh.recompute_window(st.rows);
    // desc: the null first, then 50 (3 before 4 by id), 2 is fourth, 100 is filtered out.
    EXPECT_EQ(sh.snapshot_rows(st.rows), json::parse(R"({
        "6":{"id":6,"status":"a","n":null}, "3":{"id":3,"status":"a","n":50}, "4":{"id":4,"status":"b","n":50}})"));
}

TEST(shape_snapshot, an_unwindowed_snapshot_is_every_row_the_filter_matches) {
    shape sh = make_shape({"n=lt.3", "status=eq.a"}, "", std::nullopt);
    table_state st = state_of(json::parse(R"({
        "1":{"id":1,"status":"a","n":1}, "2":{"id":2,"status":"b","n":1},
        "3":{"id":3,"status":"a","n":3}, "4":{"id":4,"status":"a","n":null}})"));
    sh.recompute_window(st.rows);  // no window: changes nothing
    EXPECT_EQ(sh.snapshot_rows(st.rows), json::parse(R"({"1":{"id":1,"status":"a","n":1}})"));
}

// ------------------------------------------------------------------ delta ops (resume)

TEST(shape_delta_ops, the_ops_come_from_the_deltas_through_the_filter) {
    row_filter f = row_filter::parse({"status=eq.open"}, columns, types);
    topic_tx tx;
    tx.rows = {
        row_delta{"1", json{{"id", 1}, {"status", "open"}}, json{{"id", 1}, {"status", "closed"}}},  // leaves
        row_delta{"2", json(), json{{"id", 2}, {"status", "open"}}},                                   // inserted, in
        row_delta{"3", json{{"id", 3}, {"status", "closed"}}, json()},                                // deleted, out
        row_delta{"4", json{{"id", 4}, {"status", "open"}, {"n", 1}}, json{{"id", 4}, {"status", "open"}, {"n", 2}}},
    };
    EXPECT_EQ(shape::delta_ops(tx, f), json::parse(R"([
        {"op":"remove","path":"/1"},
        {"op":"add","path":"/2","value":{"id":2,"status":"open"}},
        {"op":"replace","path":"/4/n","value":2}])"));
    EXPECT_EQ(shape::delta_ops(topic_tx{}, f), json::array());
    // An unfiltered resume sees every delta.
    EXPECT_EQ(shape::delta_ops(tx, row_filter()).size(), 4u);
}

TEST(shape_delta_ops, an_unwindowed_live_shape_says_what_delta_ops_says) {
    shape sh = make_shape({"status=eq.open"}, "", std::nullopt);
    table_state st = state_of(json::parse(R"({"1":{"id":1,"status":"open","n":1}})"));
    auto tx = st.apply(make_tx(3, json::parse(R"([
        {"op":"update","old":{"id":1,"status":"open","n":1},"new":{"id":1,"status":"open","n":4}},
        {"op":"insert","new":{"id":2,"status":"open","n":0}}])")));
    EXPECT_EQ(sh.live_ops(st.rows, *tx), shape::delta_ops(*tx, sh.filter()));
    EXPECT_EQ(sh.live_ops(st.rows, *tx).size(), 2u);
}

// ------------------------------------------------------------------ ids

TEST(shape_id, equal_filters_orders_and_limits_share_an_id) {
    auto id = [](std::vector<std::string> f, std::string o, std::optional<int64_t> l) {
        return shape::id_of(row_filter::parse(f, columns, types), row_order::parse(o, columns, types), l);
    };
    // The filter's canonical text is sorted: the order of expressions does not matter.
    EXPECT_EQ(id({"status=eq.a", "n=gt.1"}, "n.desc", 5), id({"n=gt.1", "status=eq.a"}, "n.desc", 5));
    EXPECT_NE(id({"status=eq.a"}, "n.desc", 5), id({"status=eq.a"}, "n.desc", 6));
    EXPECT_NE(id({"status=eq.a"}, "n.desc", 5), id({"status=eq.a"}, "n.asc", 5));
    EXPECT_NE(id({"status=eq.a"}, "", std::nullopt), id({"status=eq.b"}, "", std::nullopt));
    EXPECT_NE(id({}, "", std::nullopt), id({}, "", 1));
    shape sh = make_shape({"status=eq.a"}, "n.desc", 5);
    EXPECT_EQ(sh.id(), id({"status=eq.a"}, "n.desc", 5));
}

}  // namespace
}  // namespace pglive
