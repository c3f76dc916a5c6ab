// policy_test.cpp — row policies in SQL: stored, kept on re-attach, cleared, validated, upgraded; writers unaffected.
#include "capture_fixture.h"

namespace pglive::test {
namespace {

std::string policy_of(pqxx::connection_base& c, const std::string& topic) {
    for (auto& t : list_topics(c))
        if (t.topic == topic) return t.policy;
    return "(not attached)";
}

std::string sql_error(pqxx::connection_base& c, const std::string& sql) {
    try {
        exec(c, sql);
    } catch (const pqxx::sql_error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(capture_policy, attach_stores_it_reattach_keeps_it_and_empty_clears_it) {
    auto admin = connect();
    exec(*admin, "drop table if exists pol; create table pol (id int primary key, tenant text, amount int, secret text)");
    exec(*admin, "select pglive.attach('pol', policy => 'tenant=eq.{tenant}')");
    EXPECT_EQ(policy_of(*admin, "public.pol"), "tenant=eq.{tenant}");
    exec(*admin, "select pglive.attach('pol')");  // a deploy script attaching again
    EXPECT_EQ(policy_of(*admin, "public.pol"), "tenant=eq.{tenant}");
    auto info = attach(*admin, "pol", {}, {}, {"secret"});  // other settings changed, policy kept
    EXPECT_EQ(info.policy, "tenant=eq.{tenant}");
    EXPECT_EQ(info.columns, (std::vector<std::string>{"id", "tenant", "amount"}));
    json st = status(*admin);
    bool shown = false;
    for (auto& t : st["tables"])
        if (t["topic"] == "public.pol") shown = t.value("policy", "") == "tenant=eq.{tenant}";
    EXPECT_TRUE(shown) << st.dump();
    // Several terms, literals and claims, an in list with a claim in it.
    info = attach(*admin, "pol", {}, {}, {}, std::string("tenant=in.({tenant},shared)&amount=gt.0&id=lt.{max}"));
    EXPECT_EQ(info.policy, "tenant=in.({tenant},shared)&amount=gt.0&id=lt.{max}");
    exec(*admin, "select pglive.attach('pol', policy => '')");
    EXPECT_EQ(policy_of(*admin, "public.pol"), "");
    attach(*admin, "pol", {}, {}, {}, std::string("amount=gte.1"));
    attach(*admin, "pol", {}, {}, {}, std::string(""));
    EXPECT_EQ(policy_of(*admin, "public.pol"), "");
    EXPECT_TRUE(pqxx::nontransaction(*admin).exec("select policy is null from pglive.tables where topic = 'public.pol'")[0][0].as<bool>());
}

TEST(capture_policy, a_bad_policy_is_refused_naming_the_expression) {
    auto admin = connect();
    exec(*admin, "drop table if exists badpol; create table badpol (id int primary key, tenant text, secret text)");
    attach(*admin, "badpol", {}, {}, {"secret"});
    struct bad {
        std::string policy, says;
    };
    for (const bad& b : std::vector<bad>{{"nope=eq.1", "no exposed column \"nope\""},
                                         {"secret=eq.{tenant}", "no exposed column \"secret\""},
                                         {"tenant=like.x", "expected column=operator.value"},
                                         {"tenant", "expected column=operator.value"},
                                         {"tenant=eq.a&&id=eq.1", "an empty filter"},
                                         {"id=eq.abc", "'abc' is not a value of column id (integer)"},
                                         {"id=in.(1,x)", "'x' is not a value of column id"},
                                         {"tenant=eq.pre{tenant}", "a claim is a whole value"},
                                         {"tenant=eq.{}", "a claim is a whole value"},
                                         {"tenant=is.maybe", "is takes null, true or false"},
                                         {"tenant=in.x", "in needs a list"}}) {
        SCOPED_TRACE(b.policy);
        std::string e;
        try {
            attach(*admin, "badpol", {}, {}, {}, b.policy);
            e = "(no error)";
        } catch (const admin_error& x) {
            e = x.what();
        }
        EXPECT_NE(e.find(b.says), std::string::npos) << e;
        EXPECT_NE(e.find(b.policy), std::string::npos) << e;  // the expression is named
        EXPECT_EQ(policy_of(*admin, "public.badpol"), "");    // and nothing was stored
    }
    // A kept policy must still apply to the columns a re-attach exposes.
    attach(*admin, "badpol", {}, {}, {}, std::string("tenant=eq.{tenant}"));
    std::string e = sql_error(*admin, "select pglive.attach('badpol', exclude => array['tenant'])");
    EXPECT_NE(e.find("no exposed column \"tenant\""), std::string::npos) << e;
    EXPECT_EQ(policy_of(*admin, "public.badpol"), "tenant=eq.{tenant}");
}

// An installation from before row policies: a four-argument attach and no policy column.
TEST(capture_policy, install_upgrades_an_installation_without_policies) {
    auto admin = connect();
    exec(*admin, "drop table if exists pre_policy; create table pre_policy (id int primary key, tenant text)");
    attach(*admin, "pre_policy");
    exec(*admin, "drop function pglive.attach(regclass, text[], text[], text[], text);"
                 "alter table pglive.tables drop column policy;"
                 "create function pglive.attach(tbl regclass, key text[] default null, columns text[] default null, "
                 "exclude text[] default null) returns text language sql as 'select null::text';"
                 "grant execute on function pglive.attach(regclass, text[], text[], text[]) to public");
    install_schema(*admin);
    {
        pqxx::nontransaction n(*admin);
        auto r = n.exec("select count(*), min(pronargs) from pg_proc where proname = 'attach' "
                        "and pronamespace = 'pglive'::regnamespace")[0];
        EXPECT_EQ(r[0].as<int>(), 1);
        EXPECT_EQ(r[1].as<int>(), 5);
        EXPECT_TRUE(n.exec("select has_function_privilege('public', 'pglive.attach(regclass, text[], text[], text[], text)', "
                           "'execute')")[0][0].as<bool>());
    }
    EXPECT_EQ(policy_of(*admin, "public.pre_policy"), "");  // the column is back, empty
    install_schema(*admin);  // and again: idempotent
    EXPECT_EQ(attach(*admin, "pre_policy", {}, {}, {}, std::string("tenant=eq.{t}")).policy, "tenant=eq.{t}");
}

// The SQL rule: nothing pglive installs changes what an application role can do.
TEST(capture_policy, a_least_privilege_writer_still_writes_a_table_with_a_policy) {
    auto admin = connect();
    exec(*admin, "drop table if exists app_rows; drop role if exists app_writer;"
                 "create table app_rows (id int primary key, tenant text);"
                 "create role app_writer login;"
                 "grant select, insert, update, delete on app_rows to app_writer");
    attach(*admin, "app_rows", {}, {}, {}, std::string("tenant=eq.{tenant}"));
    recorder rec;
    auto app = open_connection(pg().conninfo() + "?user=app_writer", "test");
    exec(*app, "insert into app_rows values (1, 'a'), (2, 'b')");
    exec(*app, "update app_rows set tenant = 'b' where id = 1");
    exec(*app, "delete from app_rows where id = 2");
    ASSERT_TRUE(rec.caught_up());
    EXPECT_EQ(rec.of("public.app_rows").size(), 3u);  // three statements, all captured
    // And it can neither change nor drop the policy.
    EXPECT_NE(sql_error(*app, "update pglive.tables set policy = null").find("permission denied"), std::string::npos);
    std::string e = sql_error(*app, "select pglive.attach('app_rows', policy => '')");
    EXPECT_NE(e.find("permission denied"), std::string::npos) << e;
    EXPECT_EQ(policy_of(*admin, "public.app_rows"), "tenant=eq.{tenant}");
}

}  // namespace
}  // namespace pglive::test
