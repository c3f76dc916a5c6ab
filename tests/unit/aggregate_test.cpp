// aggregate_test.cpp — guards hub/aggregate and core/aggregate_spec: live group state against GROUP BY recomputed from the rows over random transactions, the ops, windows and validation.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>

#include "core/aggregate_spec.h"
#include "core/exact_json.h"
#include "hub/aggregate.h"
#include "hub/table_state.h"

namespace pglive {
namespace {

const std::vector<std::string> columns = {"id", "g", "h", "n", "x", "s"};
const std::vector<std::string> types = {"bigint", "text", "integer", "bigint", "numeric", "text"};

aggregate_shape make(const std::vector<std::string>& group, const std::vector<std::string>& aggs,
                     const std::string& order = "", std::optional<int64_t> limit = std::nullopt,
                     const std::vector<std::string>& filter = {}) {
    return aggregate_shape(row_filter::parse(filter, columns, types), aggregate_spec::parse(group, aggs, order, columns, types),
                           limit);
}

table_state empty_state() {
    table_state st;
    st.info = topic_info{"public.t", {"id"}, columns, types};
    st.st = table_state::status::loaded;
    return st;
}

change ins(json row) { return change{"public.t", op_kind::insert, json(), std::move(row)}; }
change upd(json old_row, json row) { return change{"public.t", op_kind::update, std::move(old_row), std::move(row)}; }
change del(json old_row) { return change{"public.t", op_kind::remove, std::move(old_row), json()}; }

transaction tx_of(int64_t pos, std::vector<change> cs) {
    transaction tx;
    tx.position = pos;
    tx.changes = std::move(cs);
    return tx;
}

// ------------------------------------------------------------------ an independent oracle

std::string i128_text(__int128 v, int scale) {
    bool neg = v < 0;
    unsigned __int128 m = neg ? -(unsigned __int128)v : (unsigned __int128)v;
    std::string d;
    do {
        d.insert(d.begin(), char('0' + int(m % 10)));
        m /= 10;
    } while (m);
    if (scale > 0) {
        while (int(d.size()) <= scale) d.insert(0, "0");
        d.insert(d.size() - size_t(scale), ".");
    }
    if (neg && d.find_first_not_of("0.") != std::string::npos) d.insert(0, "-");
    return d;
}

// A numeric literal with at most 4 decimals → units of 10^-4, and its scale.
std::pair<__int128, int> units(const json& v) {
    std::string t = number_text(v);
    bool neg = t[0] == '-';
    if (neg) t.erase(0, 1);
    size_t dot = t.find('.');
    int scale = dot == std::string::npos ? 0 : int(t.size() - dot - 1);
    if (dot != std::string::npos) t.erase(dot, 1);
    __int128 u = 0;
    for (char c : t) u = u * 10 + (c - '0');
    for (int k = scale; k < 4; ++k) u *= 10;
    return {neg ? -u : u, scale};
}

// GROUP BY g: count(*), count(n), sum(n), min(x), max(x), sum(x), min(s), max(s) — recomputed
// from the rows with int128 arithmetic and plain comparisons, nothing shared with the hub.
json oracle_by_g(const row_map& rows, int64_t h_above) {
    struct acc {
        json g;
        int64_t count = 0, count_n = 0;
        __int128 sum_n = 0;
        __int128 sum_x = 0;
        int x_scale = 0;
        int64_t xs = 0;
        std::optional<__int128> min_x, max_x;
        std::optional<std::string> min_s, max_s;
    };
    std::map<std::string, acc> groups;
    for (auto& [k, row] : rows) {
        if (row["h"].is_null() || row["h"].get<int64_t>() <= h_above) continue;
        std::string key = row["g"].is_null() ? "null" : row["g"].get<std::string>();
        acc& a = groups[key];
        a.g = row["g"];
        ++a.count;
        if (!row["n"].is_null()) {
            ++a.count_n;
            a.sum_n += row["n"].get<int64_t>();
        }
        if (!row["x"].is_null()) {
            auto [u, sc] = units(row["x"]);
            a.sum_x += u;
            a.x_scale = std::max(a.x_scale, sc);
            ++a.xs;
            if (!a.min_x || u < *a.min_x) a.min_x = u;
            if (!a.max_x || u > *a.max_x) a.max_x = u;
        }
        if (!row["s"].is_null()) {
            std::string s = row["s"];
            if (!a.min_s || s < *a.min_s) a.min_s = s;
            if (!a.max_s || s > *a.max_s) a.max_s = s;
        }
    }
    json out = json::object();
    for (auto& [k, a] : groups) {
        __int128 sx = a.sum_x;
        for (int i = a.x_scale; i < 4; ++i) sx /= 10;  // exact: every value has at most x_scale decimals
        out[k] = json{{"g", a.g},
                      {"count", a.count},
                      {"count:n", a.count_n},
                      {"sum:n", a.count_n ? json(i128_text(a.sum_n, 0)) : json()},
                      {"sum:x", a.xs ? json(i128_text(sx, a.x_scale)) : json()},
                      {"min:x", a.min_x ? json(i128_text(*a.min_x, 4)) : json()},
                      {"max:x", a.max_x ? json(i128_text(*a.max_x, 4)) : json()},
                      {"min:s", a.min_s ? json(*a.min_s) : json()},
                      {"max:s", a.max_s ? json(*a.max_s) : json()}};
    }
    return out;
}

// The hub's state in the oracle's terms: numbers as text, min/max of x at scale 4.
json comparable(const json& state) {
    json out = json::object();
    for (auto& [k, e] : state.items()) {
        json c = e;
        for (const char* f : {"sum:n", "sum:x"})
            if (!c[f].is_null()) c[f] = number_text(c[f]);
        for (const char* f : {"min:x", "max:x"})
            if (!c[f].is_null()) c[f] = i128_text(units(c[f]).first, 4);
        c.erase("avg:x");
        c.erase("avg:n");
        out[k] = c;
    }
    return out;
}

// ------------------------------------------------------------------ random transactions

struct writer {
    std::mt19937_64 rng;
    std::map<int64_t, json> rows;
    int64_t next_id = 1;

    explicit writer(uint64_t seed) : rng(seed) {}
    int64_t pick(int64_t n) { return int64_t(rng() % uint64_t(n)); }
    json maybe_null(json v) { return pick(10) == 0 ? json() : v; }
    json numeric() {
        int64_t u = pick(200001) - 100000;
        int scale = int(pick(5));
        return exact_number(i128_text(u, scale));
    }
    json big() {  // near 2^62, so sums pass int64
        return pick(4) == 0 ? json(int64_t(4611686018427387904LL) + pick(1000) - 500) : json(pick(2001) - 1000);
    }
    json row(int64_t id) {
        static const char* gs[] = {"a", "b", "c", "d"};
        static const char* ss[] = {"apple", "pear", "fig", "kiwi", "plum"};
        return json{{"id", id},        {"g", maybe_null(gs[pick(4)])}, {"h", pick(5)},
                    {"n", maybe_null(big())}, {"x", maybe_null(numeric())}, {"s", maybe_null(ss[pick(5)])}};
    }
    // The row holding the extreme of x in its group, so that deletes hit min/max often.
    int64_t extreme_id() {
        int64_t best = -1;
        __int128 best_v = 0;
        bool want_max = pick(2);
        for (auto& [id, r] : rows) {
            if (r["x"].is_null()) continue;
            __int128 v = units(r["x"]).first;
            if (best < 0 || (want_max ? v > best_v : v < best_v)) best = id, best_v = v;
        }
        return best;
    }
    int64_t any_id() {
        auto it = rows.begin();
        std::advance(it, pick(int64_t(rows.size())));
        return it->first;
    }
    transaction next(int64_t pos) {
        std::vector<change> cs;
        if (pick(100) == 0) {
            change t{"public.t", op_kind::truncate, json(), json()};
            cs.push_back(t);
            rows.clear();
        }
        int n = 1 + int(pick(4));
        for (int i = 0; i < n; ++i) {
            int what = int(pick(10));
            if (rows.empty() || what < 4) {
                int64_t id = next_id++;
                rows[id] = row(id);
                cs.push_back(ins(rows[id]));
            } else if (what < 7) {  // an update, often moving the row to another group
                int64_t id = any_id();
                json old_row = rows[id], now = row(id);
                if (pick(2)) now["g"] = old_row["g"];
                rows[id] = now;
                cs.push_back(upd(old_row, now));
            } else {
                int64_t id = what == 9 ? extreme_id() : any_id();
                if (id < 0) id = any_id();
                cs.push_back(del(rows[id]));
                rows.erase(id);
            }
        }
        return tx_of(pos, std::move(cs));
    }
};

const std::vector<std::string> all_aggs = {"count", "count:n", "sum:n", "sum:x", "min:x", "max:x", "min:s", "max:s",
                                           "avg:x", "avg:n"};

TEST(AggregateState, random_transactions_patch_the_state_to_group_by_recomputed_from_the_rows) {
    for (uint64_t seed : {1u, 2u, 3u}) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        writer w(seed);
        table_state st = empty_state();
        aggregate_shape by_g = make({"g"}, all_aggs, "", std::nullopt, {"h=gt.1"});
        aggregate_shape by_gh = make({"g", "h"}, {"count", "sum:x", "max:n"});
        aggregate_shape top = make({"g", "h"}, {"count", "sum:n"}, "count.desc,sum:n.asc", 3);
        aggregate_shape total = make({}, {"count", "sum:n", "avg:x", "min:s"});
        std::vector<aggregate_shape*> shapes = {&by_g, &by_gh, &top, &total};
        std::vector<json> state;
        for (auto* sh : shapes) {
            sh->recompute(st.rows);
            state.push_back(sh->snapshot_rows(st.rows));
        }
        shape_view::history_ring history;  // the last 20 transactions, and each shape's state after each
        std::deque<std::vector<json>> past;
        past.push_back(state);
        for (int64_t step = 1; step <= 3000; ++step) {
            auto tx = st.apply(w.next(step));
            history.push_back(tx);
            for (size_t i = 0; i < shapes.size(); ++i) {
                json ops = shapes[i]->live_ops(st.rows, *tx);
                state[i] = state[i].patch(ops);
                // Incremental equals from scratch (every aggregate, avg included, and the window).
                aggregate_shape fresh = i == 0   ? make({"g"}, all_aggs, "", std::nullopt, {"h=gt.1"})
                                        : i == 1 ? make({"g", "h"}, {"count", "sum:x", "max:n"})
                                        : i == 2 ? make({"g", "h"}, {"count", "sum:n"}, "count.desc,sum:n.asc", 3)
                                                 : make({}, {"count", "sum:n", "avg:x", "min:s"});
                fresh.recompute(st.rows);
                ASSERT_EQ(state[i], fresh.snapshot_rows(st.rows)) << "shape " << i << " at step " << step;
                ASSERT_EQ(state[i], shapes[i]->snapshot_rows(st.rows));
            }
            // And equal to an oracle that shares no code with the hub.
            ASSERT_EQ(comparable(state[0]), oracle_by_g(st.rows, 1)) << "step " << step;
            ASSERT_EQ(state[3]["*"]["count"], int64_t(st.rows.size()));
            // The window: at most 3 groups, and no group outside it counts more than one inside.
            ASSERT_LE(state[2].size(), 3u);
            int64_t least = INT64_MAX;
            for (auto& [k, e] : state[2].items()) least = std::min(least, e["count"].get<int64_t>());
            for (auto& [k, e] : state[1].items())
                if (!state[2].contains(k)) ASSERT_LE(e["count"].get<int64_t>(), least) << k;
            if (state[1].size() >= 3) ASSERT_EQ(state[2].size(), 3u);
            // Resume from memory: rolled back to `since`, each transaction's ops after it move the
            // state at `since` through every state subscribers saw.
            past.push_back(state);
            if (history.size() > 20) {
                history.pop_front();
                past.pop_front();
            }
            if (step % 50 == 0) {
                size_t back = size_t(w.pick(int64_t(history.size()) + 1));  // 0: since = now
                int64_t since = step - int64_t(back);
                for (size_t i = 0; i < shapes.size(); ++i) {
                    auto replayed = shapes[i]->replay(history, since);
                    ASSERT_TRUE(replayed.has_value());
                    ASSERT_EQ(replayed->size(), back);
                    json at = past[past.size() - 1 - back][i];
                    for (size_t j = 0; j < back; ++j) {
                        at = at.patch((*replayed)[j]);
                        ASSERT_EQ(at, past[past.size() - back + j][i]) << "shape " << i << " since " << since << " step " << j;
                    }
                }
                // Replaying leaves the live state alone.
                for (size_t i = 0; i < shapes.size(); ++i) ASSERT_EQ(shapes[i]->snapshot_rows(st.rows), state[i]);
            }
        }
    }
}

TEST(AggregateState, deleting_the_current_extreme_falls_back_to_the_next_value) {
    table_state st = empty_state();
    aggregate_shape sh = make({"g"}, {"min:x", "max:x", "count"});
    sh.recompute(st.rows);
    json a{{"id", 1}, {"g", "a"}, {"h", 1}, {"n", 1}, {"x", exact_number("1.5")}, {"s", "p"}};
    json b = a, c = a;
    b["id"] = 2, b["x"] = exact_number("-7.25");
    c["id"] = 3, c["x"] = exact_number("9.125");
    json state = json::object();
    state = state.patch(sh.live_ops(st.rows, *st.apply(tx_of(1, {ins(a), ins(b), ins(c)}))));
    EXPECT_EQ(dump_exact(state), R"({"a":{"count":3,"g":"a","max:x":9.125,"min:x":-7.25}})");
    json ops = sh.live_ops(st.rows, *st.apply(tx_of(2, {del(b)})));
    EXPECT_EQ(dump_exact(ops), R"([{"op":"replace","path":"/a/count","value":2},{"op":"replace","path":"/a/min:x","value":1.5}])");
    state = state.patch(ops);
    state = state.patch(sh.live_ops(st.rows, *st.apply(tx_of(3, {del(c)}))));
    EXPECT_EQ(dump_exact(state), R"({"a":{"count":1,"g":"a","max:x":1.5,"min:x":1.5}})");
    ops = sh.live_ops(st.rows, *st.apply(tx_of(4, {del(a)})));
    EXPECT_EQ(dump_exact(ops), R"([{"op":"remove","path":"/a"}])");
}

TEST(AggregateState, a_group_appears_with_its_first_row_and_null_aggregates_are_null) {
    table_state st = empty_state();
    aggregate_shape sh = make({"g", "h"}, {"count", "count:n", "sum:n", "avg:n", "max:s"});
    sh.recompute(st.rows);
    json r{{"id", 1}, {"g", "a"}, {"h", 2}, {"n", nullptr}, {"x", nullptr}, {"s", nullptr}};
    json ops = sh.live_ops(st.rows, *st.apply(tx_of(1, {ins(r)})));
    EXPECT_EQ(dump_exact(ops), R"([{"op":"add","path":"/[\"a\",2]","value":{"avg:n":null,"count":1,"count:n":0,"g":"a","h":2,"max:s":null,"sum:n":null}}])");
    json r2 = r;
    r2["n"] = 9223372036854775807LL;
    ops = sh.live_ops(st.rows, *st.apply(tx_of(2, {upd(r, r2)})));
    EXPECT_EQ(dump_exact(ops), R"([{"op":"replace","path":"/[\"a\",2]/avg:n","value":9223372036854775807},{"op":"replace","path":"/[\"a\",2]/count:n","value":1},{"op":"replace","path":"/[\"a\",2]/sum:n","value":9223372036854775807}])");
    // A change no aggregate sees says nothing.
    json r3 = r2;
    r3["x"] = 5;
    EXPECT_EQ(sh.live_ops(st.rows, *st.apply(tx_of(3, {upd(r2, r3)}))), json::array());
}

TEST(AggregateState, a_null_group_and_a_string_null_group_have_different_keys) {
    table_state st = empty_state();
    aggregate_shape sh = make({"g"}, {"count"});
    sh.recompute(st.rows);
    auto row = [](int id, json g) { return json{{"id", id}, {"g", g}, {"h", 0}, {"n", 0}, {"x", 0}, {"s", ""}}; };
    sh.live_ops(st.rows, *st.apply(tx_of(1, {ins(row(1, nullptr)), ins(row(2, "null")), ins(row(3, "\"q")), ins(row(4, "x"))})));
    EXPECT_EQ(dump_exact(sh.snapshot_rows(st.rows)),
              R"({"\"\\\"q\"":{"count":1,"g":"\"q"},"\"null\"":{"count":1,"g":"null"},"null":{"count":1,"g":null},"x":{"count":1,"g":"x"}})");
}

TEST(AggregateState, without_group_the_single_entry_is_always_there_and_truncate_empties_it) {
    table_state st = empty_state();
    aggregate_shape sh = make({}, {"count", "sum:n"});
    sh.recompute(st.rows);
    EXPECT_EQ(dump_exact(sh.snapshot_rows(st.rows)), R"({"*":{"count":0,"sum:n":null}})");
    json r{{"id", 1}, {"g", "a"}, {"h", 2}, {"n", 5}, {"x", nullptr}, {"s", nullptr}};
    sh.live_ops(st.rows, *st.apply(tx_of(1, {ins(r)})));
    EXPECT_EQ(dump_exact(sh.snapshot_rows(st.rows)), R"({"*":{"count":1,"sum:n":5}})");
    json ops = sh.live_ops(st.rows, *st.apply(tx_of(2, {change{"public.t", op_kind::truncate, json(), json()}})));
    EXPECT_EQ(dump_exact(ops), R"([{"op":"replace","path":"/*/count","value":0},{"op":"replace","path":"/*/sum:n","value":null}])");
}

TEST(AggregateState, a_top_n_window_removes_groups_leaving_and_adds_groups_entering) {
    table_state st = empty_state();
    aggregate_shape sh = make({"g"}, {"count"}, "count.desc", 1);
    sh.recompute(st.rows);
    auto row = [](int id, const char* g) { return json{{"id", id}, {"g", g}, {"h", 0}, {"n", 0}, {"x", 0}, {"s", ""}}; };
    json ops = sh.live_ops(st.rows, *st.apply(tx_of(1, {ins(row(1, "a")), ins(row(2, "b")), ins(row(3, "b"))})));
    EXPECT_EQ(dump_exact(ops), R"([{"op":"add","path":"/b","value":{"count":2,"g":"b"}}])");
    ops = sh.live_ops(st.rows, *st.apply(tx_of(2, {ins(row(4, "a")), ins(row(5, "a"))})));
    EXPECT_EQ(dump_exact(ops), R"([{"op":"remove","path":"/b"},{"op":"add","path":"/a","value":{"count":3,"g":"a"}}])");
    EXPECT_TRUE(sh.windowed());
    EXPECT_FALSE(sh.resumes_from_deltas());
    EXPECT_EQ(dump_exact(sh.snapshot_list(st.rows)), R"([{"count":3,"g":"a"}])");
}

TEST(AggregateSpec, errors_name_the_field) {
    auto error_of = [](std::vector<std::string> g, std::vector<std::string> a, std::string order = "") {
        try {
            aggregate_spec::parse(g, a, order, columns, types);
        } catch (const filter_error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(error_of({"secret"}, {"count"}),
              "group 'secret': no column 'secret' (columns: id, g, h, n, x, s; hidden columns cannot be grouped on)");
    EXPECT_EQ(error_of({"g"}, {"median:n"}),
              "aggregate 'median:n': unknown function 'median' (expected count, count:COL, sum:COL, avg:COL, min:COL or max:COL)");
    EXPECT_EQ(error_of({"g"}, {"sum:s"}), "aggregate 'sum:s': sum needs a numeric column; s is text");
    EXPECT_EQ(error_of({"g"}, {"avg:g"}), "aggregate 'avg:g': avg needs a numeric column; g is text");
    EXPECT_EQ(error_of({"g"}, {"sum:nope"}), "aggregate 'sum:nope': no column 'nope' (columns: id, g, h, n, x, s)");
    EXPECT_EQ(error_of({"g"}, {"sum"}), "aggregate 'sum': sum needs a column, as sum:COL");
    EXPECT_EQ(error_of({"g"}, {"count", "count"}), "aggregate 'count': given twice, or the name of a group column");
    EXPECT_EQ(error_of({"g"}, {"count"}, "n.desc"),
              "order 'n.desc': 'n' is neither a group column nor an aggregate of this subscription (g, count)");
    EXPECT_EQ(error_of({"g"}, {"count"}, "count.up"), "order 'count.up': expected asc or desc after the column, not 'up'");
    EXPECT_EQ(error_of({"g"}, {"min:s", "max:x", "count:s"}, "min:s.desc,g"), "no error");
}

TEST(AggregateSpec, equal_requests_share_an_id_and_others_do_not) {
    auto id = [](std::vector<std::string> g, std::vector<std::string> a, std::string o, std::optional<int64_t> l,
                 std::vector<std::string> f) { return make(g, a, o, l, f).id(); };
    EXPECT_EQ(id({"g"}, {"count"}, "", {}, {"h=gt.1"}), id({"g"}, {"count"}, "", {}, {"h=gt.1"}));
    EXPECT_NE(id({"g"}, {"count"}, "", {}, {}), id({"g"}, {"count"}, "", {}, {"h=gt.1"}));
    EXPECT_NE(id({"g"}, {"count"}, "", {}, {}), id({"g"}, {"count", "sum:n"}, "", {}, {}));
    EXPECT_NE(id({"g"}, {"count"}, "", {}, {}), id({"g", "h"}, {"count"}, "", {}, {}));
    EXPECT_NE(id({"g"}, {"count"}, "", {}, {}), id({"g"}, {"count"}, "count.desc", {}, {}));
    EXPECT_NE(id({"g"}, {"count"}, "", 5, {}), id({"g"}, {"count"}, "", {}, {}));
}

}  // namespace
}  // namespace pglive
