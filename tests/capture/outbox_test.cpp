// outbox_test.cpp — guards capture/outbox's decode_transactions: grouping, pairing a statement's rows by key, undecodable values, ts/ts_us.
#include <algorithm>
#include <optional>
#include <regex>

#include <cstdlib>

#include "capture/outbox.h"
#include "core/exact_json.h"
#include "capture_fixture.h"

namespace pglive::test {
namespace {

// One row as outbox_select_list gives it: position, xid, ts, topic, op, old_rows, new_rows, key.
struct outbox_row {
    int64_t position;
    std::string op;
    std::optional<std::string> old_rows = {}, new_rows = {}, key = {};
    std::string topic = "public.t";
    std::string xid = "1001";
    std::string ts = "2026-11-22T10:00:00.123456Z";
};

// The rows, in order, as PostgreSQL returns them in the select list's shape (all text but the
// position, as the real select list is).
pqxx::result outbox_result(const std::vector<outbox_row>& rows) {
    auto c = connect();
    pqxx::nontransaction n(*c);
    auto text = [&](const std::optional<std::string>& v) { return v ? n.quote(*v) + "::text" : std::string("null::text"); };
    if (rows.empty())  // the select list's shape, no rows
        return n.exec("select 1::bigint, ''::text, ''::text, ''::text, ''::text, null::text, null::text, null::text where false");
    std::string sql = "select position, xid, ts, topic, op, old_rows, new_rows, key from (values ";
    for (size_t i = 0; i < rows.size(); ++i) {
        auto& r = rows[i];
        if (i) sql += ", ";
        sql += "(" + std::to_string(r.position) + "::bigint, " + n.quote(r.xid) + "::text, " + n.quote(r.ts) + "::text, " +
               n.quote(r.topic) + "::text, " + n.quote(r.op) + "::text, " + text(r.old_rows) + ", " + text(r.new_rows) +
               ", " + text(r.key) + ", " + std::to_string(i) + ")";
    }
    sql += ") v(position, xid, ts, topic, op, old_rows, new_rows, key, ord) order by ord";
    return n.exec(sql);
}

json changes_json(const transaction& t) {
    json out = json::array();
    for (auto& c : t.changes)
        out.push_back(json{{"topic", c.topic}, {"op", to_string(c.op)}, {"old", c.old_row}, {"new", c.new_row}});
    return out;
}

json change_json(const std::string& topic, op_kind op, const char* old_row, const char* new_row) {
    return json{{"topic", topic}, {"op", to_string(op)},
                {"old", old_row ? json::parse(old_row) : json()}, {"new", new_row ? json::parse(new_row) : json()}};
}

TEST(outbox_decode, rows_group_into_transactions_by_position_with_xid_ts_and_ts_us) {
    auto txs = decode_transactions(outbox_result({
        {5, "I", std::nullopt, R"([{"id":1}])"},
        {5, "I", std::nullopt, R"([{"id":2}])", std::nullopt, "public.u"},
        {6, "D", R"([{"id":1}])", std::nullopt, std::nullopt, "public.t", "18446744073709551615", "1999-12-31T23:59:59.999999Z"},
    }));
    ASSERT_EQ(txs.size(), 2u);
    EXPECT_EQ(txs[0].position, 5);
    EXPECT_EQ(txs[0].xid, 1001u);
    EXPECT_EQ(txs[0].ts, "2026-11-22T10:00:00.123456Z");
    EXPECT_EQ(txs[0].ts_us, 1795341600123456);
    EXPECT_EQ(changes_json(txs[0]), json::array({change_json("public.t", op_kind::insert, nullptr, R"({"id":1})"),
                                                 change_json("public.u", op_kind::insert, nullptr, R"({"id":2})")}));
    EXPECT_EQ(txs[1].position, 6);
    EXPECT_EQ(txs[1].xid, 18446744073709551615u);  // the full xid8 range
    EXPECT_EQ(txs[1].ts_us, 946684799999999);
    EXPECT_EQ(changes_json(txs[1]), json::array({change_json("public.t", op_kind::remove, R"({"id":1})", nullptr)}));
    EXPECT_TRUE(txs[0].undecodable.empty());
    EXPECT_TRUE(decode_transactions(outbox_result({})).empty());
}

TEST(outbox_decode, a_statements_arrays_give_one_change_per_row_in_order) {
    auto txs = decode_transactions(outbox_result({
        {7, "I", std::nullopt, R"([{"id":1,"v":"a"},{"id":2,"v":"b"},{"id":3,"v":"c"}])"},
        {7, "D", R"([{"id":2,"v":"b"},{"id":3,"v":"c"}])", std::nullopt},
    }));
    ASSERT_EQ(txs.size(), 1u);
    EXPECT_EQ(changes_json(txs[0]), json::array({
        change_json("public.t", op_kind::insert, nullptr, R"({"id":1,"v":"a"})"),
        change_json("public.t", op_kind::insert, nullptr, R"({"id":2,"v":"b"})"),
        change_json("public.t", op_kind::insert, nullptr, R"({"id":3,"v":"c"})"),
        change_json("public.t", op_kind::remove, R"({"id":2,"v":"b"})", nullptr),
        change_json("public.t", op_kind::remove, R"({"id":3,"v":"c"})", nullptr),
    }));
}

// An update statement's old and new rows are paired by key, whatever their order: a key in both
// is an update, old-only a remove, new-only an insert; a pair that is equal (only hidden columns
// changed) is dropped.
TEST(outbox_decode, an_updates_rows_are_paired_by_key) {
    auto txs = decode_transactions(outbox_result({
        {8, "U", R"([{"id":1,"v":"a"},{"id":2,"v":"b"},{"id":3,"v":"c"},{"id":5,"v":"same"}])",
         R"([{"id":5,"v":"same"},{"id":2,"v":"B"},{"id":4,"v":"c"},{"id":1,"v":"A"}])", R"(["id"])"},
    }));
    ASSERT_EQ(txs.size(), 1u);
    EXPECT_EQ(changes_json(txs[0]), json::array({
        change_json("public.t", op_kind::update, R"({"id":1,"v":"a"})", R"({"id":1,"v":"A"})"),
        change_json("public.t", op_kind::update, R"({"id":2,"v":"b"})", R"({"id":2,"v":"B"})"),
        change_json("public.t", op_kind::remove, R"({"id":3,"v":"c"})", nullptr),  // 3 → 4: a key change
        change_json("public.t", op_kind::insert, nullptr, R"({"id":4,"v":"c"})"),
    }));
}

TEST(outbox_decode, a_composite_key_pairs_on_every_key_column) {
    auto txs = decode_transactions(outbox_result({
        {9, "U", R"([{"a":1,"b":"x","n":1},{"a":1,"b":"y","n":2}])", R"([{"a":1,"b":"y","n":20},{"a":2,"b":"x","n":1}])",
         R"(["a","b"])"},
    }));
    ASSERT_EQ(txs.size(), 1u);
    EXPECT_EQ(changes_json(txs[0]), json::array({
        change_json("public.t", op_kind::remove, R"({"a":1,"b":"x","n":1})", nullptr),
        change_json("public.t", op_kind::update, R"({"a":1,"b":"y","n":2})", R"({"a":1,"b":"y","n":20})"),
        change_json("public.t", op_kind::insert, nullptr, R"({"a":2,"b":"x","n":1})"),
    }));
}

// A table detached since the statement: no key to pair by, the transition tables' order is used.
TEST(outbox_decode, without_a_key_an_updates_rows_pair_by_index) {
    auto txs = decode_transactions(outbox_result({
        {10, "U", R"([{"id":1,"v":"a"},{"id":2,"v":"b"}])", R"([{"id":11,"v":"a"},{"id":2,"v":"b"}])", std::nullopt},
    }));
    ASSERT_EQ(txs.size(), 1u);
    EXPECT_EQ(changes_json(txs[0]), json::array({
        change_json("public.t", op_kind::update, R"({"id":1,"v":"a"})", R"({"id":11,"v":"a"})"),
    }));
}

TEST(outbox_decode, truncate_message_and_control_rows) {
    auto txs = decode_transactions(outbox_result({
        {11, "T", std::nullopt, std::nullopt},
        {11, "M", std::nullopt, R"({"level":"high"})", std::nullopt, "alerts"},
        {11, "C", std::nullopt, R"({"action":"attach","topic":"public.t"})", std::nullopt, "public.t"},
    }));
    ASSERT_EQ(txs.size(), 1u);
    EXPECT_EQ(changes_json(txs[0]), json::array({
        change_json("public.t", op_kind::truncate, nullptr, nullptr),
        change_json("alerts", op_kind::message, nullptr, R"({"level":"high"})"),
        change_json("public.t", op_kind::control, nullptr, R"({"action":"attach","topic":"public.t"})"),
    }));
}

TEST(outbox_decode, numbers_keep_postgresqls_literal) {
    auto txs = decode_transactions(outbox_result({
        {12, "I", std::nullopt, R"([{"id":9007199254740993,"n":123456789.123456789,"s":1.50}])"},
    }));
    ASSERT_EQ(txs.size(), 1u);
    ASSERT_EQ(txs[0].changes.size(), 1u);
    EXPECT_EQ(dump_exact(txs[0].changes[0].new_row), R"({"id":9007199254740993,"n":123456789.123456789,"s":1.50})");
}

// One value that does not decode: its change is left out, the others stay, its topic is listed
// once, and the log names topic and position, never the value.
TEST(outbox_decode, an_undecodable_value_is_skipped_and_reported_without_the_value) {
    std::vector<outbox_row> rows = {
        {13, "I", std::nullopt, R"([{"id":1}])"},
        {13, "I", std::nullopt, R"([{"id":2,"secret":"s3cr3t-value)", std::nullopt, "public.bad"},
        {13, "U", R"([{"id":3}])", R"([{"id":3,"secret":"s3cr3t-value"}, oops])", R"(["id"])", "public.bad"},
        {13, "I", std::nullopt, R"([{"id":4}])", std::nullopt, "public.u"},
        {14, "I", std::nullopt, R"([{"id":5}])"},
    };
    auto result = outbox_result(rows);
    testing::internal::CaptureStderr();
    auto txs = decode_transactions(result);
    std::string log = testing::internal::GetCapturedStderr();
    ASSERT_EQ(txs.size(), 2u);
    EXPECT_EQ(changes_json(txs[0]), json::array({change_json("public.t", op_kind::insert, nullptr, R"({"id":1})"),
                                                 change_json("public.u", op_kind::insert, nullptr, R"({"id":4})")}));
    EXPECT_EQ(txs[0].undecodable, std::vector<std::string>{"public.bad"});
    EXPECT_TRUE(txs[1].undecodable.empty());
    EXPECT_EQ(txs[1].changes.size(), 1u);
    // Two skipped changes, two lines, each naming topic and position.
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2) << log;
    EXPECT_NE(log.find("skipped a change of public.bad at position 13"), std::string::npos) << log;
    EXPECT_EQ(log.find("s3cr3t"), std::string::npos) << log;
    EXPECT_EQ(log.find("oops"), std::string::npos) << log;

    // A re-read (history) reports nothing, and decodes the same.
    testing::internal::CaptureStderr();
    auto again = decode_transactions(result, false);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0].undecodable, std::vector<std::string>{"public.bad"});
    EXPECT_EQ(changes_json(again[0]), changes_json(txs[0]));
}

TEST(outbox_decode, an_unknown_op_is_an_error_naming_it_and_the_position) {
    auto result = outbox_result({{15, "X", std::nullopt, std::nullopt}});
    try {
        decode_transactions(result);
        FAIL() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "outbox: unknown op 'X' at position 15");
    }
}

// The real select list on real captured statements: a key-changing multi-row update becomes
// removes and inserts, a plain one updates; ts is the UTC commit time with µs and ts_us reads it.
TEST(outbox_decode, captured_statements_through_read_batch) {
    auto admin = connect();
    exec(*admin, "create table ob_real (id int primary key, v text)");
    attach(*admin, "ob_real");
    run_sequencer(*admin);
    int64_t after = 0;
    {
        pqxx::nontransaction q(*admin);
        after = q.exec("select coalesce(max(position), 0) from pglive.tx")[0][0].as<int64_t>();
    }

    std::string xid;
    {
        auto w = connect();
        pqxx::work t(*w);
        t.exec("set local time zone 'Asia/Kolkata'");  // ts is UTC whatever the writer's zone
        t.exec("insert into ob_real values (1, 'a'), (2, 'b'), (3, 'c')");
        t.exec("update ob_real set id = id + 10 where id <= 2");
        t.exec("update ob_real set v = 'C' where id = 3");
        xid = t.exec("select pg_current_xact_id()::text")[0][0].c_str();
        t.commit();
    }
    ASSERT_GE(run_sequencer(*admin), 1);
    prepare_outbox_reads(*admin);
    auto txs = read_batch(*admin, after, 10);
    ASSERT_EQ(txs.size(), 1u);
    auto& t = txs[0];
    EXPECT_GT(t.position, after);
    EXPECT_EQ(std::to_string(t.xid), xid);
    EXPECT_TRUE(std::regex_match(t.ts, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)"))) << t.ts;
    EXPECT_EQ(t.ts_us, commit_time_us(t.ts));
    int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_LT(std::abs(now_us - t.ts_us), int64_t(600) * 1000000) << t.ts;  // UTC, not +05:30
    json changes = changes_json(t);
    ASSERT_EQ(changes.size(), 8u) << changes.dump();
    // The insert, in statement order.
    EXPECT_EQ(json(std::vector<json>(changes.begin(), changes.begin() + 3)), json::array({
        change_json("public.ob_real", op_kind::insert, nullptr, R"({"id":1,"v":"a"})"),
        change_json("public.ob_real", op_kind::insert, nullptr, R"({"id":2,"v":"b"})"),
        change_json("public.ob_real", op_kind::insert, nullptr, R"({"id":3,"v":"c"})"),
    }));
    // The key change: every old key gone, every new key inserted (removes first).
    json removes = json::array(), inserts = json::array();
    for (size_t i = 3; i < 7; ++i) (changes[i]["op"] == to_string(op_kind::remove) ? removes : inserts).push_back(changes[i]);
    EXPECT_EQ(changes[3]["op"], to_string(op_kind::remove));
    EXPECT_EQ(changes[4]["op"], to_string(op_kind::remove));
    auto by_id = [](const json& a, const json& b) {
        auto id = [](const json& c) { return (c["old"].is_null() ? c["new"] : c["old"])["id"].get<int>(); };
        return id(a) < id(b);
    };
    std::sort(removes.begin(), removes.end(), by_id);
    std::sort(inserts.begin(), inserts.end(), by_id);
    EXPECT_EQ(removes, json::array({change_json("public.ob_real", op_kind::remove, R"({"id":1,"v":"a"})", nullptr),
                                    change_json("public.ob_real", op_kind::remove, R"({"id":2,"v":"b"})", nullptr)}));
    EXPECT_EQ(inserts, json::array({change_json("public.ob_real", op_kind::insert, nullptr, R"({"id":11,"v":"a"})"),
                                    change_json("public.ob_real", op_kind::insert, nullptr, R"({"id":12,"v":"b"})")}));
    EXPECT_EQ(changes[7], change_json("public.ob_real", op_kind::update, R"({"id":3,"v":"c"})", R"({"id":3,"v":"C"})"));
}

}  // namespace
}  // namespace pglive::test
