// attach_test.cpp — captured ops (truncate, delete, key change), hidden columns, and attach errors.
#include <atomic>
#include <thread>

#include "capture_fixture.h"
#include "core/jwt.h"

namespace pglive::test {
namespace {

std::vector<op_kind> ops_of(const std::vector<transaction>& txs) {
    std::vector<op_kind> out;
    for (const auto& t : txs)
        for (const auto& c : t.changes) out.push_back(c.op);
    return out;
}

int outbox_rows_with_column(pqxx::connection_base& c, const std::string& topic, const std::string& column) {
    pqxx::nontransaction n(c);
    return n.exec_params("select count(*) from pglive.outbox o, "
                         "jsonb_array_elements(case when jsonb_typeof(o.old_rows) = 'array' then o.old_rows else '[]' end"
                         " || case when jsonb_typeof(o.new_rows) = 'array' then o.new_rows else '[]' end) e "
                         "where o.topic = $1 and e ? $2",
                         topic, column)[0][0]
        .as<int>();
}

TEST(capture, truncate_delete_and_key_change_arrive_with_the_right_ops) {
    auto admin = connect();
    exec(*admin, "create table ops (id int primary key, name text)");
    attach(*admin, "ops");
    recorder rec;
    exec(*admin, "insert into ops values (1, 'a'), (2, 'b'), (3, 'c')");
    exec(*admin, "delete from ops where id = 2");
    exec(*admin, "update ops set id = 10 where id = 1");
    exec(*admin, "update ops set name = 'c2' where id = 3");
    exec(*admin, "update ops set name = 'none' where id = 12345");  // touches nothing: no transaction
    exec(*admin, "delete from ops where id = 12345");
    exec(*admin, "truncate ops");
    ASSERT_TRUE(rec.caught_up());
    auto txs = rec.of("public.ops");
    ASSERT_EQ(txs.size(), 5u);
    using k = op_kind;
    EXPECT_EQ(ops_of({txs[0]}), (std::vector<k>{k::insert, k::insert, k::insert}));
    EXPECT_EQ(ops_of({txs[1]}), (std::vector<k>{k::remove}));
    EXPECT_EQ(txs[1].changes[0].old_row, (json{{"id", 2}, {"name", "b"}}));
    EXPECT_EQ(ops_of({txs[2]}), (std::vector<k>{k::remove, k::insert})) << "a key change is remove + add";
    EXPECT_EQ(txs[2].changes[0].old_row, (json{{"id", 1}, {"name", "a"}}));
    EXPECT_EQ(txs[2].changes[1].new_row, (json{{"id", 10}, {"name", "a"}}));
    EXPECT_EQ(ops_of({txs[3]}), (std::vector<k>{k::update}));
    EXPECT_EQ(txs[3].changes[0].old_row, (json{{"id", 3}, {"name", "c"}}));
    EXPECT_EQ(txs[3].changes[0].new_row, (json{{"id", 3}, {"name", "c2"}}));
    EXPECT_EQ(ops_of({txs[4]}), (std::vector<k>{k::truncate}));
}

// attach passes the topic to the triggers; which columns are hidden is still decided per
// statement, so a column added to a --columns table later never leaves the database.
TEST(capture, a_column_added_after_attach_columns_stays_hidden) {
    auto admin = connect();
    exec(*admin, "create table grows (id int primary key, shown text)");
    attach(*admin, "grows", {}, {"id", "shown"});
    exec(*admin, "alter table grows add column secret text");
    exec(*admin, "insert into grows values (1, 'a', 'hunter2')");
    EXPECT_EQ(outbox_rows_with_column(*admin, "public.grows", "secret"), 0);
    EXPECT_EQ(outbox_rows_with_column(*admin, "public.grows", "shown"), 1);
}

// Triggers made by an older pglive have no arguments: they still capture, under the topic
// pglive.tables records, and capture nothing once the table is no longer attached.
TEST(capture, triggers_without_arguments_look_their_table_up) {
    auto admin = connect();
    exec(*admin, "create table old_style (id int primary key, v text)");
    attach(*admin, "old_style");
    exec(*admin, "drop trigger pglive_capture_insert on old_style;"
                 "create trigger pglive_capture_insert after insert on old_style referencing new table as pglive_new "
                 "for each statement execute function pglive.capture_insert()");
    exec(*admin, "insert into old_style values (1, 'x')");
    EXPECT_EQ(outbox_rows_with_column(*admin, "public.old_style", "v"), 1);
    exec(*admin, "delete from pglive.tables where relid = 'old_style'::regclass");
    exec(*admin, "insert into old_style values (2, 'y')");
    EXPECT_EQ(outbox_rows_with_column(*admin, "public.old_style", "v"), 1) << "not attached: nothing captured";
}

TEST(capture, excluded_and_unlisted_columns_never_reach_the_outbox_nor_a_load) {
    auto admin = connect();
    exec(*admin, "create table secrets (id int primary key, name text, password text)");
    exec(*admin, "create table narrow (id int primary key, a int, b int, c int)");
    auto info = attach(*admin, "secrets", {}, {}, {"password"});
    EXPECT_EQ(info.columns, (std::vector<std::string>{"id", "name"}));
    EXPECT_EQ(info.key, (std::vector<std::string>{"id"}));
    info = attach(*admin, "public.narrow", {}, {"id", "b"});
    EXPECT_EQ(info.topic, "public.narrow");
    EXPECT_EQ(info.columns, (std::vector<std::string>{"id", "b"}));
    recorder rec;
    exec(*admin, "insert into secrets values (1, 'ann', 'hunter2'), (2, 'bob', 'x')");
    exec(*admin, "update secrets set password = 'changed' where id = 1");  // only a hidden column: no change
    exec(*admin, "update secrets set name = 'ann2', password = 'again' where id = 1");
    exec(*admin, "delete from secrets where id = 2");
    exec(*admin, "insert into narrow values (1, 1, 2, 3)");
    exec(*admin, "update narrow set a = 5, b = 6");
    ASSERT_TRUE(rec.caught_up());

    EXPECT_EQ(outbox_rows_with_column(*admin, "public.secrets", "password"), 0);
    EXPECT_GT(outbox_rows_with_column(*admin, "public.secrets", "name"), 0) << "the probe query finds columns";
    EXPECT_EQ(outbox_rows_with_column(*admin, "public.narrow", "a"), 0);
    EXPECT_EQ(outbox_rows_with_column(*admin, "public.narrow", "c"), 0);
    for (const auto& t : rec.txs())
        for (const auto& c : t.changes) {
            for (const json* row : {&c.old_row, &c.new_row}) {
                if (!row->is_object()) continue;
                EXPECT_FALSE(row->contains("password"));
                if (c.topic == "public.narrow") {
                    EXPECT_EQ(row->size(), 2u) << row->dump();
                }
            }
        }
    auto secrets = rec.of("public.secrets");
    size_t changes = 0;
    for (const auto& t : secrets) changes += t.changes.size();
    EXPECT_EQ(changes, 4u) << "2 inserts, 1 update (the password-only update is dropped), 1 delete";

    auto load = load_topic(*admin, "public.secrets");
    ASSERT_EQ(load.error, "");
    EXPECT_EQ(load.info.columns, (std::vector<std::string>{"id", "name"}));
    ASSERT_EQ(load.rows.size(), 1u);
    EXPECT_EQ(load.rows[0], (json{{"id", 1}, {"name", "ann2"}}));
    load = load_topic(*admin, "public.narrow");
    ASSERT_EQ(load.rows.size(), 1u);
    EXPECT_EQ(load.rows[0], (json{{"id", 1}, {"b", 6}}));
}

std::string attach_error(pqxx::connection_base& c, const std::string& table, std::vector<std::string> key = {},
                         std::vector<std::string> columns = {}, std::vector<std::string> exclude = {}) {
    try {
        attach(c, table, key, columns, exclude);
    } catch (const admin_error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(capture, attach_errors_say_what_is_wrong) {
    auto admin = connect();
    exec(*admin, "create table no_pk (a int, b text)");
    exec(*admin, "create table with_pk (id int primary key, b text)");
    EXPECT_EQ(attach_error(*admin, "no_such_table"), "attach no_such_table: no such table no_such_table");
    std::string e = attach_error(*admin, "no_pk");
    EXPECT_NE(e.find("--key"), std::string::npos) << e;
    EXPECT_NE(e.find("primary key"), std::string::npos) << e;
    e = attach_error(*admin, "with_pk", {}, {"id", "nope"});
    EXPECT_NE(e.find("\"nope\""), std::string::npos) << e;
    e = attach_error(*admin, "no_pk", {"zzz"});
    EXPECT_NE(e.find("\"zzz\""), std::string::npos) << e;
    e = attach_error(*admin, "with_pk", {}, {"id"}, {"b"});
    EXPECT_NE(e.find("--columns"), std::string::npos) << e;
    e = attach_error(*admin, "with_pk", {}, {}, {"id"});
    EXPECT_NE(e.find("key column \"id\""), std::string::npos) << e;

    // With --key a table without a primary key attaches; detach then forgets it.
    auto info = attach(*admin, "no_pk", {"a"});
    EXPECT_EQ(info.key, (std::vector<std::string>{"a"}));
    detach(*admin, "no_pk");
    for (const auto& t : list_topics(*admin)) EXPECT_NE(t.topic, "public.no_pk");
    try {
        detach(*admin, "no_pk");
        ADD_FAILURE() << "detaching a detached table must fail";
    } catch (const admin_error& e) {
        EXPECT_NE(std::string(e.what()).find("not attached"), std::string::npos) << e.what();
    }
}

// Issue 10.3: re-attaching without repeating --exclude silently streamed the hidden column.
TEST(capture, reattaching_keeps_the_settings_not_given_again) {
    auto admin = connect();
    exec(*admin, "create table reattached (id int primary key, name text, secret text)");
    attach(*admin, "reattached", {}, {}, {"secret"});
    auto info = attach(*admin, "reattached");  // e.g. a deploy script that runs attach again
    EXPECT_EQ(info.columns, (std::vector<std::string>{"id", "name"}));
    exec(*admin, "insert into reattached values (1, 'a', 'hunter2')");
    EXPECT_EQ(outbox_rows_with_column(*admin, "public.reattached", "secret"), 0);
    EXPECT_EQ(outbox_rows_with_column(*admin, "public.reattached", "name"), 1);
    // Asked for explicitly, the column becomes visible (attach says so on stderr: a WARNING).
    info = attach(*admin, "reattached", {}, {"id", "name", "secret"});
    EXPECT_EQ(info.columns, (std::vector<std::string>{"id", "name", "secret"}));
}

// Issue 10.7: schema "public.x" table t became topic public.x.t (readable with a public.*
// token) and public."x.t" beside it failed with a raw duplicate-key message; pglive's own
// tables could be attached.
TEST(capture, topics_quote_names_that_need_it_and_pglive_tables_are_refused) {
    auto admin = connect();
    exec(*admin, "create schema \"public.x\"; create table \"public.x\".t (id int primary key); "
                 "create table public.\"x.t\" (id int primary key); create table public.\"Mixed\" (id int primary key)");
    EXPECT_EQ(attach(*admin, "\"public.x\".t").topic, "\"public.x\".t");
    EXPECT_EQ(attach(*admin, "public.\"x.t\"").topic, "public.\"x.t\"");
    EXPECT_EQ(attach(*admin, "public.\"Mixed\"").topic, "public.\"Mixed\"");
    EXPECT_FALSE(topic_matches("public.*", "\"public.x\".t"));
    std::string e = attach_error(*admin, "pglive.outbox");
    EXPECT_NE(e.find("pglive's own tables"), std::string::npos) << e;
    EXPECT_EQ(e.find("duplicate key"), std::string::npos) << e;
}

TEST(capture, attach_without_the_rights_names_what_is_missing) {
    auto admin = connect();
    exec(*admin, "create role pleb login; create table guarded (id int primary key)");
    auto pleb = open_connection(pg().conninfo() + "?user=pleb", "test");
    std::string e = attach_error(*pleb, "guarded");
    EXPECT_NE(e.find("permission denied"), std::string::npos) << e;
    EXPECT_NE(e.find("USAGE on schema pglive"), std::string::npos) << e;
    // Even with rights on pglive's schema, the table's owner is needed for its triggers.
    exec(*admin, "grant usage, create on schema pglive to pleb; grant all on all tables in schema pglive to pleb; "
                 "grant all on all sequences in schema pglive to pleb");
    e = attach_error(*pleb, "guarded");
    EXPECT_NE(e.find("guarded"), std::string::npos) << e;
    EXPECT_NE(e.find("TRIGGER privilege"), std::string::npos) << e;
}

TEST(capture, a_detached_table_is_no_longer_captured_and_attach_detach_are_control_rows) {
    auto admin = connect();
    exec(*admin, "create table toggled (id int primary key)");
    recorder rec;
    attach(*admin, "toggled");
    exec(*admin, "insert into toggled values (1)");
    detach(*admin, "toggled");
    exec(*admin, "insert into toggled values (2)");
    ASSERT_TRUE(rec.caught_up());
    auto txs = rec.of("public.toggled");
    ASSERT_EQ(txs.size(), 3u);
    EXPECT_EQ(txs[0].changes[0].op, op_kind::control);
    EXPECT_EQ(txs[0].changes[0].new_row, (json{{"action", "attach"}, {"topic", "public.toggled"}}));
    EXPECT_EQ(txs[1].changes[0].op, op_kind::insert);
    EXPECT_EQ(txs[2].changes[0].new_row, (json{{"action", "detach"}, {"topic", "public.toggled"}}));
}

TEST(capture, install_and_set_wakeup_are_idempotent_and_safe_to_run_concurrently) {
    std::vector<std::thread> nodes;
    std::atomic<int> errors{0};
    for (int i = 0; i < 4; ++i)
        nodes.emplace_back([&] {
            try {
                auto c = connect("node");
                for (int k = 0; k < 5; ++k) {
                    install_schema(*c);
                    set_wakeup(*c, "notify");
                }
            } catch (const std::exception& e) {
                ADD_FAILURE() << e.what();
                errors++;
            }
        });
    for (auto& t : nodes) t.join();
    EXPECT_EQ(errors, 0);

    // An upgrade keeps the mode the database is in.
    auto admin = connect();
    set_wakeup(*admin, "poll");
    install_schema(*admin);
    EXPECT_EQ(status(*admin).at("wakeup"), "poll");
    set_wakeup(*admin, "notify");
    EXPECT_EQ(status(*admin).at("wakeup"), "notify");
    try {
        set_wakeup(*admin, "loud");
        ADD_FAILURE() << "an unknown mode must be refused";
    } catch (const admin_error& e) {
        EXPECT_NE(std::string(e.what()).find("'loud'"), std::string::npos) << e.what();
    }
    // The row columns compress with lz4 (Debian's PostgreSQL has it), after every install.
    pqxx::nontransaction n(*admin);
    auto r = n.exec("select string_agg(attname || '=' || attcompression::text, ',' order by attname) from pg_attribute "
                    "where attrelid = 'pglive.outbox'::regclass and attname in ('old_rows', 'new_rows')");
    EXPECT_EQ(r[0][0].as<std::string>(), "new_rows=l,old_rows=l");
}

}  // namespace
}  // namespace pglive::test
