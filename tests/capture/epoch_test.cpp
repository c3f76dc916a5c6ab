// epoch_test.cpp — sequencer epochs: asynchronous normal runs, a durable epoch start after a
// crash (simulated: TRUNCATE pglive.live_epoch is what crash recovery does to it), the upgrade.
#include <atomic>
#include <mutex>

#include "capture_fixture.h"
#include "capture/outbox.h"

namespace pglive::test {
namespace {

constexpr int64_t epoch_base(int64_t e) { return e << 40; }

// A database of its own (the suite's tests may share one process), the schema installed.
std::unique_ptr<pqxx::connection> fresh_db(const std::string& name, bool install = true) {
    {
        auto c = connect();
        pqxx::nontransaction n(*c);
        n.exec("drop database if exists " + name + " with (force)");
        n.exec("create database " + name);
    }
    auto c = open_connection(pg().conninfo(name), "test");
    if (install) install_schema(*c);
    // attach's own control row is left out: the tests count the transactions they write.
    exec(*c, "create table t (id int primary key, v int); select pglive.attach('t'); delete from pglive.outbox");
    return c;
}

int64_t one(pqxx::connection_base& c, const std::string& q) {
    pqxx::nontransaction n(c);
    return n.exec(q)[0][0].as<int64_t>();
}
std::string text(pqxx::connection_base& c, const std::string& q) {
    pqxx::nontransaction n(c);
    return n.exec(q)[0][0].c_str();
}

std::string serve_conninfo(const std::string& db) {
    auto ci = pg().conninfo(db);
    return ci.replace(ci.find("postgres@"), 9, "epoch_serve@");
}

bool strictly_increasing(const std::vector<int64_t>& v) {
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] <= v[i - 1]) return false;
    return true;
}

std::vector<int64_t> positions(pqxx::connection_base& c) {
    pqxx::nontransaction n(c);
    std::vector<int64_t> out;
    for (const auto& r : n.exec("select position from pglive.tx order by xid")) out.push_back(r[0].as<int64_t>());
    return out;
}

// What a crash that lost the last k sequencer commits leaves: their tx rows gone, the sequence
// back below them, live_epoch emptied by recovery.
void simulate_loss(pqxx::connection_base& c, int k) {
    exec(c,
         "with lost as (select position from pglive.tx order by position desc limit " + std::to_string(k) +
             ") delete from pglive.tx where position in (select position from lost);"
             "select setval('pglive.position_seq', (select min(position) from pglive.tx) + 1, true);"
             "truncate pglive.live_epoch");
}

TEST(epoch, a_first_run_starts_epoch_1_and_a_reset_live_epoch_starts_the_next_above_everything) {
    auto c = fresh_db("epoch_first");
    EXPECT_EQ(one(*c, "select epoch from pglive.state"), 0);
    exec(*c, "insert into t values (1, 1)");
    EXPECT_EQ(run_sequencer(*c), 1);
    EXPECT_EQ(one(*c, "select epoch from pglive.state"), 1);
    EXPECT_EQ(one(*c, "select epoch from pglive.live_epoch"), 1);
    EXPECT_EQ(one(*c, "select count(*) from pglive.epochs"), 1);
    EXPECT_EQ(one(*c, "select base from pglive.epochs where epoch = 1"), epoch_base(1));
    EXPECT_EQ(one(*c, "select durable_before from pglive.epochs where epoch = 1"), 0);
    EXPECT_EQ(one(*c, "select min(position) from pglive.tx"), epoch_base(1));
    for (int i = 2; i <= 4; ++i) {
        exec(*c, "insert into t values (" + std::to_string(i) + ", 0)");
        EXPECT_EQ(run_sequencer(*c), 1);
    }
    EXPECT_EQ(one(*c, "select count(*) from pglive.epochs"), 1) << "normal runs start no epoch";
    int64_t top = one(*c, "select max(position) from pglive.tx");
    EXPECT_EQ(top, epoch_base(1) + 3);

    exec(*c, "truncate pglive.live_epoch");  // what crash recovery does to an unlogged table
    exec(*c, "insert into t values (5, 0)");
    EXPECT_EQ(run_sequencer(*c), 1);
    EXPECT_EQ(one(*c, "select epoch from pglive.state"), 2);
    EXPECT_EQ(one(*c, "select base from pglive.epochs where epoch = 2"), epoch_base(2));
    EXPECT_EQ(one(*c, "select durable_before from pglive.epochs where epoch = 2"), top);
    EXPECT_EQ(one(*c, "select max(position) from pglive.tx"), epoch_base(2));
    auto p = positions(*c);
    EXPECT_TRUE(strictly_increasing(p));
    EXPECT_EQ(p.size(), 5u);

    // The function serve calls: every epoch after the one given, in order.
    auto e = read_epochs_after(*c, 0);
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[1].epoch, 2);
    EXPECT_EQ(e[1].durable_before, top);
    EXPECT_EQ(e[1].base, epoch_base(2));
    EXPECT_EQ(read_epochs_after(*c, 1).size(), 1u);
    EXPECT_TRUE(read_epochs_after(*c, 2).empty());
}

TEST(epoch, lost_sequencer_commits_are_sequenced_again_in_the_next_epoch_once_each) {
    auto c = fresh_db("epoch_lost");
    for (int i = 1; i <= 6; ++i) {
        exec(*c, "insert into t values (" + std::to_string(i) + ", 0)");
        run_sequencer(*c);
    }
    int64_t top = one(*c, "select max(position) from pglive.tx");
    simulate_loss(*c, 3);  // positions top-2..top are gone; their transactions are not
    int64_t durable = one(*c, "select max(position) from pglive.tx");
    EXPECT_EQ(durable, top - 3);
    EXPECT_EQ(run_sequencer(*c), 3) << "the three transactions whose positions were lost, once each";
    EXPECT_EQ(one(*c, "select durable_before from pglive.epochs where epoch = 2"), durable);
    EXPECT_EQ(one(*c, "select count(*) from pglive.tx"), 6);
    EXPECT_EQ(one(*c, "select count(*) from pglive.tx where position >= " + std::to_string(epoch_base(2))), 3);
    EXPECT_TRUE(strictly_increasing(positions(*c))) << "commit order is kept across the epoch";
    EXPECT_EQ(run_sequencer(*c), 0);
}

TEST(epoch, a_normal_run_commits_asynchronously_and_an_epoch_start_durably) {
    auto c = fresh_db("epoch_sync");
    // sequence() sets synchronous_commit for its own transaction (SET LOCAL): read it back in
    // the same transaction, after the call, which is what its commit uses.
    auto setting_after_run = [&] {
        pqxx::work w(*c);
        w.exec("select pglive.sequence()");
        std::string s = w.exec("select current_setting('synchronous_commit')")[0][0].c_str();
        w.commit();
        return s;
    };
    exec(*c, "insert into t values (1, 1)");
    EXPECT_EQ(setting_after_run(), "on") << "the first run starts epoch 1: durable";
    exec(*c, "insert into t values (2, 1)");
    EXPECT_EQ(setting_after_run(), "off") << "a normal run: no WAL flush on the latency path";
    EXPECT_EQ(setting_after_run(), "off") << "an idle run too";
    exec(*c, "truncate pglive.live_epoch");
    EXPECT_EQ(setting_after_run(), "on") << "an epoch start must be durable";
    // Transaction-local: the session keeps its own setting.
    EXPECT_EQ(text(*c, "select current_setting('synchronous_commit')"), "on");
    // Exhaustion: the sequence within 2^32 of the next epoch's base starts the next epoch.
    exec(*c, "select setval('pglive.position_seq', " + std::to_string(epoch_base(3) - (int64_t(1) << 32)) + ")");
    exec(*c, "insert into t values (3, 1)");
    EXPECT_EQ(setting_after_run(), "on");
    EXPECT_EQ(one(*c, "select epoch from pglive.state"), 3);
    EXPECT_EQ(one(*c, "select max(position) from pglive.tx"), epoch_base(3));
}

TEST(epoch, installing_twice_changes_nothing) {
    auto c = fresh_db("epoch_twice");
    exec(*c, "insert into t values (1, 1)");
    run_sequencer(*c);
    install_schema(*c);
    install_schema(*c);
    exec(*c, "insert into t values (2, 1)");
    run_sequencer(*c);
    EXPECT_EQ(one(*c, "select epoch from pglive.state"), 1);
    EXPECT_EQ(one(*c, "select count(*) from pglive.epochs"), 1);
    EXPECT_EQ(one(*c, "select count(*) from pglive.live_epoch"), 1);
    EXPECT_EQ(one(*c, "select max(position) from pglive.tx"), epoch_base(1) + 1);
}

TEST(epoch, an_install_without_epochs_is_upgraded_keeping_its_positions) {
    auto c = fresh_db("epoch_upgrade");
    // An older pglive's install: no epoch objects, positions from 1, sequenced by its own
    // sequencer (its statement, durably).
    exec(*c,
         "drop function pglive.epochs_after(bigint); drop table pglive.epochs; drop table pglive.live_epoch;"
         "alter table pglive.state drop column epoch;"
         "create or replace function pglive.sequence() returns bigint language sql security definer as $$"
         "  insert into pglive.tx (position, xid, ts) select nextval('pglive.position_seq'), o.xid, max(o.ts)"
         "  from pglive.outbox o where not exists (select 1 from pglive.tx t where t.xid = o.xid)"
         "  group by o.xid order by max(o.seq) returning 1 $$");
    exec(*c, "insert into t values (1, 1)");
    exec(*c, "select pglive.sequence()");
    exec(*c, "insert into t values (2, 1)");
    exec(*c, "select pglive.sequence()");
    int64_t old_top = one(*c, "select max(position) from pglive.tx");
    EXPECT_LT(old_top, 10);
    // A serve role granted before the epoch objects existed.
    exec(*c, "do $$ begin if not exists (select 1 from pg_roles where rolname = 'epoch_serve') then "
             "create role epoch_serve login; end if; end $$; select pglive.grant_serve('epoch_serve')");
    install_schema(*c);
    EXPECT_EQ(one(*c, "select epoch from pglive.state"), 0);
    exec(*c, "insert into t values (3, 1)");
    EXPECT_EQ(run_sequencer(*c), 1);
    EXPECT_EQ(one(*c, "select durable_before from pglive.epochs where epoch = 1"), old_top)
        << "the positions before the upgrade are durable: a client resumes from them";
    EXPECT_EQ(one(*c, "select max(position) from pglive.tx"), epoch_base(1));
    EXPECT_TRUE(strictly_increasing(positions(*c)));
    // The serve role reads the epochs through the function, the new column of a table it may read,
    // and the new table itself (install re-grants every serve role what grant_serve gives).
    auto s = open_connection(serve_conninfo("epoch_upgrade"), "test");
    EXPECT_EQ(read_epochs_after(*s, 0).size(), 1u);
    EXPECT_EQ(one(*s, "select epoch from pglive.state"), 1);
    EXPECT_EQ(one(*s, "select count(*) from pglive.epochs"), 1) << "install extends an earlier serve role's grants";
}

// The listener: on_epoch for each epoch, before any transaction of it, and the transactions
// whose positions were lost come once more, at new positions.
TEST(epoch, the_listener_reports_an_epoch_before_its_transactions) {
    auto c = fresh_db("epoch_listener");
    std::mutex mu;
    std::vector<std::string> events;  // "tx <position>" / "epoch <durable_before> <base>"
    std::atomic<int64_t> got{0};
    listener_options o;
    o.conninfo = pg().conninfo("epoch_listener");
    listener_callbacks cb;
    cb.on_transactions = [&](std::vector<transaction> txs) {
        std::lock_guard g(mu);
        for (auto& t : txs) events.push_back("tx " + std::to_string(t.position));
        got += int64_t(txs.size());
    };
    cb.on_epoch = [&](int64_t d, int64_t b) {
        std::lock_guard g(mu);
        events.push_back("epoch " + std::to_string(d) + " " + std::to_string(b));
    };
    listener l(o, cb);
    l.start();
    ASSERT_TRUE(eventually([&] { return l.link_up(); }));
    for (int i = 1; i <= 5; ++i) exec(*c, "insert into t values (" + std::to_string(i) + ", 0)");
    ASSERT_TRUE(eventually([&] { return got >= 5; }));
    int64_t delivered = l.position();
    simulate_loss(*c, 2);
    int64_t durable = one(*c, "select max(position) from pglive.tx");
    exec(*c, "insert into t values (6, 0)");
    ASSERT_TRUE(eventually([&] { return got >= 8; })) << "2 lost + 1 new";
    l.stop();
    std::lock_guard g(mu);
    std::vector<std::string> want = {"epoch 0 " + std::to_string(epoch_base(1))};
    for (int i = 0; i < 5; ++i) want.push_back("tx " + std::to_string(epoch_base(1) + i));
    want.push_back("epoch " + std::to_string(durable) + " " + std::to_string(epoch_base(2)));
    for (int i = 0; i < 3; ++i) want.push_back("tx " + std::to_string(epoch_base(2) + i));
    EXPECT_EQ(events, want);
    EXPECT_EQ(delivered, epoch_base(1) + 4);
}

}  // namespace
}  // namespace pglive::test
