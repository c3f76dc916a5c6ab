// listener_test.cpp — ordering, completeness under connection kills, large rows, transaction grouping, poll mode.
#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "capture/outbox.h"
#include "capture_fixture.h"

namespace pglive::test {
namespace {

bool has_row(const transaction& t, const std::string& topic, int id) {
    for (const auto& c : t.changes)
        if (c.topic == topic && c.new_row.is_object() && c.new_row.value("id", -1) == id) return true;
    return false;
}

const transaction* find_row(const std::vector<transaction>& txs, const std::string& topic, int id) {
    for (const auto& t : txs)
        if (has_row(t, topic, id)) return &t;
    return nullptr;
}

TEST(listener, commits_in_opposite_order_of_capture_are_both_delivered_in_commit_order) {
    auto admin = connect();
    exec(*admin, "create table order_race (id int primary key, v text)");
    attach(*admin, "order_race");
    recorder rec;

    auto c1 = connect(), c2 = connect();
    pqxx::work t1(*c1);
    t1.exec("insert into order_race values (1, 'first captured')");
    {
        pqxx::work t2(*c2);
        t2.exec("insert into order_race values (2, 'first committed')");
        t2.commit();
    }
    ASSERT_TRUE(eventually([&] { return find_row(rec.txs(), "public.order_race", 2) != nullptr; }));
    EXPECT_EQ(find_row(rec.txs(), "public.order_race", 1), nullptr) << "T1 has not committed yet";
    t1.commit();
    ASSERT_TRUE(eventually([&] { return find_row(rec.txs(), "public.order_race", 1) != nullptr; }));

    auto txs = rec.txs();
    const transaction* a = find_row(txs, "public.order_race", 1);
    const transaction* b = find_row(txs, "public.order_race", 2);
    EXPECT_LT(b->position, a->position) << "positions follow commit order";
    for (size_t i = 1; i < txs.size(); ++i) EXPECT_LT(txs[i - 1].position, txs[i].position);

    // The capture order really was the opposite: T1's outbox row came first.
    pqxx::nontransaction n(*admin);
    auto seqs = n.exec("select o.seq from pglive.outbox o join pglive.tx t on t.xid = o.xid "
                       "where o.topic = 'public.order_race' and o.op <> 'C' order by t.position");
    ASSERT_EQ(seqs.size(), 2u);
    EXPECT_GT(seqs[0][0].as<int64_t>(), seqs[1][0].as<int64_t>());
}

// Without a listener running, so that one sequencer run sees both transactions. B captures
// first (on another table), then blocks on A's row lock, so B's first change is older than
// all of A's but B commits after A: positions must still follow the commits.
TEST(sequencer, a_writer_that_waited_on_a_row_lock_gets_the_later_position) {
    auto admin = connect();
    exec(*admin, "create table lock_row (id int primary key, v int); create table lock_side (id int primary key)");
    exec(*admin, "insert into lock_row values (1, 0)");
    attach(*admin, "lock_row");
    attach(*admin, "lock_side");
    auto ca = connect(), cb = connect();
    pqxx::work b(*cb);
    b.exec("insert into lock_side values (1)");
    pqxx::work a(*ca);
    a.exec("update lock_row set v = 10 where id = 1");
    std::atomic<bool> b_done{false};
    std::thread tb([&] {
        b.exec("update lock_row set v = v + 1 where id = 1");  // waits for A
        b.commit();
        b_done = true;
    });
    // B is waiting on A's lock before A commits (seen in pg_locks as an ungranted lock).
    ASSERT_TRUE(eventually([&] {
        pqxx::nontransaction n(*admin);
        return n.exec("select count(*) from pg_locks where not granted")[0][0].as<int>() > 0;
    }));
    a.commit();
    tb.join();
    ASSERT_TRUE(b_done);
    pqxx::nontransaction n(*admin);
    EXPECT_GE(n.exec("select pglive.sequence()")[0][0].as<int>(), 2);
    auto r = n.exec("select t.position, min(o.seq), max(o.seq), bool_or(o.topic = 'public.lock_side') "
                    "from pglive.tx t join pglive.outbox o on o.xid = t.xid "
                    "where o.topic in ('public.lock_row', 'public.lock_side') and o.op <> 'C' "
                    "group by t.position order by t.position");
    ASSERT_EQ(r.size(), 2u);
    EXPECT_FALSE(r[0][3].as<bool>()) << "A (committed first) must come first";
    EXPECT_TRUE(r[1][3].as<bool>());
    EXPECT_LT(r[1][1].as<int64_t>(), r[0][1].as<int64_t>()) << "B's first capture was older than A's";
    EXPECT_EQ(n.exec("select v from lock_row")[0][0].as<int>(), 11);
}

TEST(listener, stop_is_prompt_while_it_waits) {
    listener_options o;
    o.safety_interval_ms = 60000;
    recorder rec(o);
    ASSERT_TRUE(rec.caught_up());
    auto t0 = std::chrono::steady_clock::now();
    rec.get().stop();
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_LT(took.count(), 1000);
}

// Delivers every commit with only the doorbell to wake it: single commits (asleep each time),
// then bursts from three writers (awake for some of them).
void delivers_asleep_and_awake(pqxx::connection_base& admin, const std::string& table) {
    listener_options o;
    o.safety_interval_ms = 600000;  // only the doorbell wakes it
    recorder rec(o);
    for (int id = 1; id <= 5; ++id) {
        exec(admin, "insert into " + table + " values (" + std::to_string(id) + ")");
        ASSERT_TRUE(eventually([&] { return find_row(rec.txs(), "public." + table, id) != nullptr; }))
            << "commit " << id << " was not delivered";
    }
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w)
        writers.emplace_back([w, table] {
            auto c = connect();
            for (int i = 0; i < 50; ++i) exec(*c, "insert into " + table + " values (" + std::to_string(100 + w * 50 + i) + ")");
        });
    for (auto& t : writers) t.join();
    ASSERT_TRUE(eventually([&] { return rec.of("public." + table).size() == 155; }))
        << "delivered " << rec.of("public." + table).size() << " of 155 transactions";
}

struct reinstall {
    pqxx::connection_base& c;
    ~reinstall() { install_schema(c); }
};

// A pass is one round trip (pglive.sequence_read); a database whose schema predates it (a
// serve binary newer than `pglive install`) is read the old way, two statements a pass, and
// still delivers every commit, asleep (woken through the doorbell) and awake.
TEST(listener, a_schema_without_sequence_read_is_read_in_two_statements) {
    auto admin = connect();
    exec(*admin, "create table two_trips (id int primary key)");
    attach(*admin, "two_trips");
    exec(*admin, "drop function pglive.sequence_read(bigint, int, boolean)");
    exec(*admin, "drop function pglive.sequence_read(bigint, int, boolean, int)");
    reinstall restore{*admin};
    ASSERT_FALSE(has_sequence_read(*admin));
    delivers_asleep_and_awake(*admin, "two_trips");
    install_schema(*admin);
    EXPECT_TRUE(has_sequence_read(*admin)) << "install puts it back";
    EXPECT_TRUE(has_dozing_sequence_read(*admin));
}

// The schema of the release before doze_ms: sequence_read(after, max_tx, release_doorbell) as
// it was then, and no four-argument form. The listener dozes in a statement of its own.
TEST(listener, a_schema_whose_sequence_read_has_no_doze_dozes_in_a_statement_of_its_own) {
    auto admin = connect();
    exec(*admin, "create table three_args (id int primary key)");
    attach(*admin, "three_args");
    exec(*admin, "drop function pglive.sequence_read(bigint, int, boolean)");
    exec(*admin, "drop function pglive.sequence_read(bigint, int, boolean, int)");
    reinstall restore{*admin};
    exec(*admin, R"sql(create or replace function pglive.sequence_read(after bigint, max_tx int, release_doorbell boolean)
returns table (o_position bigint, o_xid text, o_ts text, o_topic text, o_op text, o_old_rows text,
               o_new_rows text, o_key text, o_pruned_upto bigint, o_epoch bigint)
language plpgsql set search_path = pg_catalog, pglive, pg_temp set jit = off
set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off set plan_cache_mode = force_generic_plan
as $$
begin
    perform pglive.sequence();
    return query select null::bigint, null::text, null::text, null::text, null::text, null::text, null::text,
                        null::text, s.pruned_upto, s.epoch from pglive.state s;
    return query
        select t.position, t.xid::text, to_char(t.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               o.topic, o.op::text, o.old_rows::text, o.new_rows::text,
               case when o.op = 'U' then (select to_jsonb(c.key)::text from pglive.tables c where c.topic = o.topic) end,
               (select s.pruned_upto from pglive.state s), (select s.epoch from pglive.state s)
        from (select x.position, x.xid, x.ts from pglive.tx x where x.position > after
              order by x.position limit max_tx) t
        cross join lateral (select b.* from pglive.outbox b where b.xid = t.xid order by b.seq) o
        order by t.position, o.seq;
    if release_doorbell and found then
        perform pg_advisory_unlock(pglive.lock_doorbell());
    end if;
end
$$;)sql");
    ASSERT_TRUE(has_sequence_read(*admin));
    ASSERT_FALSE(has_dozing_sequence_read(*admin));
    delivers_asleep_and_awake(*admin, "three_args");
}

TEST(listener, concurrent_writers_and_killed_connections_lose_nothing_and_repeat_nothing) {
    auto admin = connect();
    exec(*admin, "create table churn (id int primary key, v int not null, note text)");
    exec(*admin, "insert into churn values (0, 0, 'shared counter')");
    attach(*admin, "churn");
    listener_options small_batches;
    small_batches.batch_transactions = 50;  // many batches per wake-up
    recorder rec(small_batches);
    const int writers = 4, ops_per_writer = 2500;

    std::atomic<int> done_writers{0};
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int w = 0; w < writers; ++w) {
        threads.emplace_back([&, w] {
            try {
                auto c = connect("writer");
                std::mt19937 rng(w * 7919 + 1);
                std::vector<int> mine;
                int next_id = (w + 1) * 1000000;
                for (int i = 0; i < ops_per_writer; ++i) {
                    int r = rng() % 100;
                    pqxx::work t(*c);
                    if (r < 45 || mine.size() < 5) {
                        int n = (r % 10 == 0) ? 3 : 1;  // some multi-row statements
                        std::string sql = "insert into churn values ";
                        for (int k = 0; k < n; ++k) {
                            int id = next_id++;
                            mine.push_back(id);
                            sql += (k ? ",(" : "(") + std::to_string(id) + "," + std::to_string(i) + ",'w" +
                                   std::to_string(w) + "')";
                        }
                        t.exec(sql);
                    } else if (r < 75) {
                        int id = mine[rng() % mine.size()];
                        t.exec("update churn set v = v + 1, note = 'u" + std::to_string(i) + "' where id = " +
                               std::to_string(id));
                    } else if (r < 85) {
                        // All writers contend on one row: the row lock decides their commit order.
                        t.exec("update churn set v = v + 1 where id = 0");
                    } else {
                        size_t at = rng() % mine.size();
                        t.exec("delete from churn where id = " + std::to_string(mine[at]));
                        mine.erase(mine.begin() + at);
                    }
                    t.commit();
                }
            } catch (const std::exception& e) {
                ADD_FAILURE() << "writer " << w << ": " << e.what();
                failures++;
            }
            done_writers++;
        });
    }
    // Kill the listener's connection several times while the writers run.
    int kills = 0;
    auto killer = connect("killer");
    while (done_writers < writers) {
        int before = rec.downs();
        pqxx::nontransaction n(*killer);
        auto r = n.exec("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                        "where application_name = 'pglive-listener'");
        if (r[0][0].as<int>() > 0) {
            ++kills;
            // Next kill only once the listener is back, so each kill hits a live stream.
            eventually([&] { return rec.downs() > before && rec.get().link_up(); }, std::chrono::seconds(10));
        }
        if (kills >= 6) break;
        // Short: the writers take about a second here (fsync off), and must outlast 3 kills.
        eventually([&] { return done_writers == writers; }, std::chrono::milliseconds(100));
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(failures, 0);
    EXPECT_GE(kills, 3) << "the writers finished before the listener could be killed several times";
    EXPECT_GE(rec.downs(), 3);
    ASSERT_TRUE(rec.caught_up());

    auto all = rec.txs();
    std::set<int64_t> seen;
    for (size_t i = 0; i < all.size(); ++i) {
        EXPECT_TRUE(seen.insert(all[i].position).second) << "position " << all[i].position << " delivered twice";
        if (i) {
            EXPECT_LT(all[i - 1].position, all[i].position);
        }
    }
    auto txs = rec.of("public.churn");
    EXPECT_EQ(txs.size(), size_t(writers * ops_per_writer));

    std::map<std::string, json> state;
    state[row_key(json{{"id", 0}}, {"id"})] = json{{"id", 0}, {"v", 0}, {"note", "shared counter"}};
    for (const auto& t : txs)
        for (const auto& c : t.changes) apply(state, c, {"id"});
    auto table = table_state(*admin, "churn", {"id"});
    EXPECT_EQ(state.size(), table.size());
    EXPECT_TRUE(state == table) << "the state rebuilt from deliveries differs from the table";
}

// Two pglive nodes on one database: both sequence, and both deliver the same transactions
// at the same positions.
TEST(listener, two_nodes_deliver_identical_streams) {
    auto admin = connect();
    exec(*admin, "create table two_nodes (id int primary key, v int)");
    attach(*admin, "two_nodes");
    recorder node_a, node_b;
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w)
        writers.emplace_back([w] {
            auto c = connect("writer");
            for (int i = 0; i < 300; ++i) {
                pqxx::work t(*c);
                t.exec("insert into two_nodes values (" + std::to_string(w * 100000 + i) + ", " + std::to_string(i) +
                       ")");
                if (i % 3 == 0) t.exec("update two_nodes set v = v + 1 where id = " + std::to_string(w * 100000));
                t.commit();
            }
        });
    for (auto& t : writers) t.join();
    ASSERT_TRUE(node_a.caught_up());
    ASSERT_TRUE(node_b.caught_up());
    auto a = node_a.of("public.two_nodes"), b = node_b.of("public.two_nodes");
    ASSERT_EQ(a.size(), 900u);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].position, b[i].position) << "at " << i;
        ASSERT_EQ(a[i].xid, b[i].xid) << "at " << i;
        ASSERT_EQ(a[i].ts, b[i].ts);
        ASSERT_EQ(a[i].changes.size(), b[i].changes.size());
    }
}

TEST(listener, large_rows_arrive_whole) {
    auto admin = connect();
    exec(*admin, "create table big_rows (id int primary key, body text)");
    attach(*admin, "big_rows");
    recorder rec;
    for (int size : {100 * 1024, 1024 * 1024}) {
        pqxx::work w(*admin);
        std::string body(size_t(size), 'x');
        body[0] = 'a';
        body.back() = 'z';
        w.exec_params("insert into big_rows values ($1, $2)", size, body);
        w.commit();
    }
    ASSERT_TRUE(rec.caught_up());
    auto txs = rec.of("public.big_rows");
    ASSERT_EQ(txs.size(), 2u);
    for (const auto& t : txs) {
        ASSERT_EQ(t.changes.size(), 1u);
        const auto& row = t.changes[0].new_row;
        std::string body = row.at("body").get<std::string>();
        EXPECT_EQ(body.size(), size_t(row.at("id").get<int>()));
        EXPECT_EQ(body.front(), 'a');
        EXPECT_EQ(body.back(), 'z');
    }
}

TEST(listener, a_multi_statement_transaction_arrives_as_one_in_statement_order) {
    auto admin = connect();
    exec(*admin, "create table multi_a (id int primary key, v int); create table multi_b (k text primary key, v int)");
    attach(*admin, "multi_a");
    attach(*admin, "multi_b");
    recorder rec;
    {
        pqxx::work w(*admin);
        w.exec("insert into multi_a values (1, 10), (2, 20)");
        w.exec("insert into multi_b values ('x', 1)");
        w.exec("update multi_a set v = 11 where id = 1");
        w.exec("update multi_b set v = 2 where k = 'x'");
        w.exec("insert into multi_a values (3, 30)");
        w.commit();
    }
    ASSERT_TRUE(rec.caught_up());
    std::vector<transaction> mine;
    for (const auto& t : rec.txs())
        for (const auto& c : t.changes)
            if (c.topic == "public.multi_a" || c.topic == "public.multi_b") {
                mine.push_back(t);
                break;
            }
    ASSERT_EQ(mine.size(), 1u);
    const auto& ch = mine[0].changes;
    ASSERT_EQ(ch.size(), 6u);
    EXPECT_EQ(ch[0].topic, "public.multi_a");
    EXPECT_EQ(ch[0].op, op_kind::insert);
    EXPECT_EQ(ch[0].new_row, (json{{"id", 1}, {"v", 10}}));
    EXPECT_EQ(ch[1].new_row, (json{{"id", 2}, {"v", 20}}));
    EXPECT_EQ(ch[2].topic, "public.multi_b");
    EXPECT_EQ(ch[2].op, op_kind::insert);
    EXPECT_EQ(ch[3].topic, "public.multi_a");
    EXPECT_EQ(ch[3].op, op_kind::update);
    EXPECT_EQ(ch[3].old_row, (json{{"id", 1}, {"v", 10}}));
    EXPECT_EQ(ch[3].new_row, (json{{"id", 1}, {"v", 11}}));
    EXPECT_EQ(ch[4].topic, "public.multi_b");
    EXPECT_EQ(ch[4].new_row, (json{{"k", "x"}, {"v", 2}}));
    EXPECT_EQ(ch[5].op, op_kind::insert);
    EXPECT_EQ(ch[5].new_row, (json{{"id", 3}, {"v", 30}}));
    EXPECT_FALSE(mine[0].ts.empty());
    EXPECT_EQ(mine[0].ts.size(), std::string("2026-11-22T10:00:00.123456Z").size()) << mine[0].ts;
    EXPECT_EQ(mine[0].ts.back(), 'Z');
    EXPECT_EQ(mine[0].ts_us, commit_time_us(mine[0].ts));  // read once at decode
    EXPECT_GT(mine[0].ts_us, 0);
    EXPECT_GT(mine[0].xid, 0u);
}

// Counts notifications on channel pglive (a LISTEN on its own connection).
class counting_receiver : public pqxx::notification_receiver {
public:
    explicit counting_receiver(pqxx::connection_base& c) : pqxx::notification_receiver(c, "pglive") {}
    void operator()(const std::string&, int) override { ++count; }
    int count = 0;
};

// An attached one-column table, and a LISTEN probe that counts what writers ring.
struct bell_probe {
    std::unique_ptr<pqxx::connection> admin = connect();
    std::unique_ptr<pqxx::connection> conn;
    std::unique_ptr<counting_receiver> probe;
    explicit bell_probe(const std::string& table) {
        exec(*admin, "create table " + table + " (id int primary key)");
        attach(*admin, table);
        conn = connect(table + "-probe");
        probe = std::make_unique<counting_receiver>(*conn);
    }
    // Notifications heard so far: a round trip lets the probe's backend pass on what is queued
    // for it (pqxx delivers none while a transaction object is open).
    int heard() {
        {
            pqxx::nontransaction n(*conn);
            n.exec("select 1");
        }
        conn->get_notifs();
        return probe->count;
    }
};

TEST(listener, poll_mode_sends_no_notify_and_still_delivers_within_the_interval) {
    bell_probe bell("polled");
    auto& admin = bell.admin;
    // The probe plays a sleeping listener: it holds the doorbell, so notify-mode writers ring.
    exec(*bell.conn, "select pglive.doze(1000)");

    // Control: in notify mode the probe does hear the capture.
    exec(*admin, "insert into polled values (1)");
    ASSERT_TRUE(eventually([&] { return bell.heard() > 0; }))
        << "the probe hears nothing even in notify mode: the poll check below would prove nothing";

    set_wakeup(*admin, "poll");
    struct restore {
        pqxx::connection_base& c;
        ~restore() { set_wakeup(c, "notify"); }
    } restore_notify{*admin};
    listener_options o;
    o.wakeup = "poll";
    o.poll_interval_ms = 50;
    recorder rec(o);
    bell.heard();
    bell.probe->count = 0;

    auto t0 = std::chrono::steady_clock::now();
    exec(*admin, "insert into polled values (2)");
    ASSERT_TRUE(eventually([&] { return find_row(rec.txs(), "public.polled", 2) != nullptr; }, std::chrono::seconds(5)));
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_LT(took.count(), 1000) << "delivery took " << took.count() << " ms with a 50 ms poll interval";
    publish(*admin, "poll-topic", json{{"hello", 1}});
    ASSERT_TRUE(rec.caught_up());
    bell.conn->await_notification(0, 200000);
    EXPECT_EQ(bell.heard(), 0) << "poll mode sent NOTIFY";
    pqxx::nontransaction n(*admin);
    EXPECT_EQ(n.exec("select pg_notification_queue_usage()")[0][0].as<double>(), 0.0);
}

// The doorbell: writers NOTIFY only while a listener sleeps holding the doorbell lock.
TEST(listener, writers_ring_only_a_sleeping_listener_and_no_wake_up_is_lost) {
    bell_probe bell("bell");
    auto& admin = bell.admin;
    auto heard = [&] { return bell.heard(); };

    // No listener asleep, no doorbell held: the commit does not NOTIFY.
    exec(*admin, "insert into bell values (1)");
    EXPECT_EQ(heard(), 0) << "a writer rang with nobody asleep";

    // A real listener, which would only read every 10 minutes without a wake-up: every commit
    // below must arrive through the doorbell. Single commits spaced out (the listener is asleep
    // each time), then bursts from several writers (it is awake and reading for some of them).
    listener_options o;
    o.safety_interval_ms = 600000;
    recorder rec(o);  // starts after what is already sequenced (row 1)
    for (int id = 2; id <= 21; ++id) {
        exec(*admin, "insert into bell values (" + std::to_string(id) + ")");
        ASSERT_TRUE(eventually([&] { return find_row(rec.txs(), "public.bell", id) != nullptr; }))
            << "commit " << id << " was not delivered: a wake-up was lost";
    }
    EXPECT_GT(heard(), 0) << "the sleeping listener was woken, so writers rang";
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w)
        writers.emplace_back([w] {
            auto c = connect();
            for (int i = 0; i < 100; ++i) exec(*c, "insert into bell values (" + std::to_string(1000 + w * 100 + i) + ")");
        });
    for (auto& t : writers) t.join();
    ASSERT_TRUE(eventually([&] { return rec.of("public.bell").size() == 420; }, std::chrono::seconds(20)))
        << "delivered " << rec.of("public.bell").size() << " of 420 transactions";
}

int64_t scalar(pqxx::connection_base& c, const std::string& sql) {
    pqxx::nontransaction n(c);
    return n.exec(sql)[0][0].as<int64_t>();
}

// Advisory locks a backend holds (granted) or waits for.
int64_t advisory_locks(pqxx::connection_base& admin, int pid, bool granted) {
    return scalar(admin, "select count(*) from pg_locks where locktype = 'advisory' and pid = " + std::to_string(pid) +
                             " and granted = " + (granted ? "true" : "false"));
}

bool batch_has_row(const pqxx::result& r, const std::string& topic, int id) {
    for (const auto& row : r)
        if (!row[0].is_null() && row[3].as<std::string>() == topic &&
            row[6].as<std::string>().find("\"id\": " + std::to_string(id) + "}") != std::string::npos)
            return true;
    return false;
}

// A listener whose pass found nothing goes to sleep with one statement:
// pglive.sequence_read(after, max_tx, false, doze_ms) takes the doorbell first, waiting for
// writers that hold it shared (they skipped the NOTIFY), then sequences and reads them.
TEST(listener, a_dozing_pass_waits_for_writers_that_skipped_the_notify_then_reads_them) {
    bell_probe bell("dozing");
    auto& admin = bell.admin;
    auto lsn = connect("dozing-listener");
    int pid = lsn->backendpid();
    exec(*admin, "select pglive.sequence()");
    int64_t after = scalar(*admin, "select coalesce(max(position), 0) from pglive.tx");
    auto pass = [&](int64_t from, int doze_ms) {
        pqxx::nontransaction n(*lsn);
        return n.exec_params("select * from pglive.sequence_read($1, 100, false, $2)", from, doze_ms);
    };

    // Nobody holds the doorbell: the writer takes it shared and will not ring.
    auto writer = connect("dozing-writer");
    pqxx::work w(*writer);
    w.exec("insert into dozing values (1)");
    std::atomic<bool> returned{false};
    pqxx::result first;
    std::thread t([&] {
        first = pass(after, 20000);
        returned = true;
    });
    ASSERT_TRUE(eventually([&] { return advisory_locks(*admin, pid, false) == 1; }))
        << "the dozing pass did not wait for the writer holding the doorbell shared";
    EXPECT_FALSE(returned);
    w.commit();
    t.join();
    ASSERT_GE(first.size(), 2u);
    EXPECT_TRUE(first[0][0].is_null()) << "no header row";
    EXPECT_TRUE(first[0][10].as<bool>()) << "the doze was granted once the writer committed";
    EXPECT_TRUE(batch_has_row(first, "public.dozing", 1)) << "the writer that skipped the NOTIFY was not read";
    EXPECT_EQ(advisory_locks(*admin, pid, true), 0) << "a pass that found something keeps the doorbell";
    EXPECT_EQ(bell.heard(), 0) << "the writer rang though it held the doorbell shared";

    // Nothing new: granted at once, and the listener sleeps holding it; a writer now rings.
    int64_t last = first[first.size() - 1][0].as<int64_t>();
    auto idle = pass(last, 20000);
    ASSERT_EQ(idle.size(), 1u);
    EXPECT_TRUE(idle[0][10].as<bool>());
    EXPECT_EQ(advisory_locks(*admin, pid, true), 1) << "an empty dozing pass does not keep the doorbell";
    exec(*admin, "insert into dozing values (2)");
    EXPECT_TRUE(eventually([&] { return bell.heard() > 0; })) << "a writer did not ring the sleeping listener";
    exec(*lsn, "select pg_advisory_unlock(pglive.lock_doorbell())");

    // Another listener sleeps with it: not granted within doze_ms, and the pass still reads.
    exec(*bell.conn, "select pglive.doze(1000)");
    exec(*admin, "insert into dozing values (3)");
    auto busy = pass(last, 50);
    EXPECT_FALSE(busy[0][10].as<bool>());
    EXPECT_TRUE(batch_has_row(busy, "public.dozing", 2));
    EXPECT_TRUE(batch_has_row(busy, "public.dozing", 3));
    EXPECT_EQ(advisory_locks(*admin, pid, true), 0);
    exec(*bell.conn, "select pg_advisory_unlock(pglive.lock_doorbell())");

    // The three-argument form, which serve binaries before doze_ms call: the same rows without
    // o_doorbell, and a listener woken holding the doorbell releases it when it finds something.
    exec(*lsn, "select pglive.doze(1000)");
    exec(*admin, "insert into dozing values (4)");
    pqxx::result old;
    {
        pqxx::nontransaction n(*lsn);
        old = n.exec_params("select * from pglive.sequence_read($1, 100, true)", last);
    }
    EXPECT_EQ(old.columns(), 10u);
    EXPECT_TRUE(old[0][0].is_null()) << "no header row";
    EXPECT_TRUE(batch_has_row(old, "public.dozing", 4));
    EXPECT_EQ(advisory_locks(*admin, pid, true), 0) << "the three-argument form kept the doorbell";

    // The listener's own call of the four-argument form without a doze (doze_ms sent as NULL):
    // an empty pass takes nothing.
    prepare_outbox_reads(*lsn);
    auto quiet = sequence_and_read(*lsn, old[old.size() - 1][0].as<int64_t>(), 100, false, true);
    EXPECT_TRUE(quiet.batch.empty());
    EXPECT_FALSE(quiet.doorbell);
    EXPECT_EQ(advisory_locks(*admin, pid, true), 0) << "a pass without doze_ms took the doorbell";
}

// pglive.doze's lock_timeout ends with it: in a dozing pass, sequence()'s wait for the
// sequencer's lock (another node's run) comes after it in the same transaction.
TEST(listener, a_doze_that_waited_leaves_the_lock_timeout_as_it_was) {
    auto admin = connect();
    auto holder = connect("doze-holder");
    pqxx::work h(*holder);
    h.exec("select pg_advisory_xact_lock_shared(pglive.lock_doorbell())");  // a writer that skipped the NOTIFY
    auto lsn = connect("doze-timeout");
    pqxx::work w(*lsn);
    std::string before = w.exec("show lock_timeout")[0][0].as<std::string>();
    EXPECT_FALSE(w.exec("select pglive.doze(30)")[0][0].as<bool>()) << "granted while a writer held it shared";
    EXPECT_EQ(w.exec("show lock_timeout")[0][0].as<std::string>(), before);
    w.commit();
}

// Issue 9 finding 7: a query error that persists (here: SELECT on the outbox revoked) used to
// report the link up before the first read, reset the backoff at each "up", and flap about 9
// times a second. Now the link is never up, on_link says down once, and the backoff grows.
TEST(listener, a_persistent_query_error_reports_down_once_and_backs_off) {
    auto admin = connect();
    exec(*admin, "create role pglive_norights login; grant usage on schema pglive to pglive_norights; "
                 "grant select, insert, update, delete on all tables in schema pglive to pglive_norights; "
                 "grant usage, select, update on all sequences in schema pglive to pglive_norights; "
                 "revoke select on pglive.outbox from pglive_norights");
    std::mutex mutex;
    int ups = 0, downs = 0;
    std::string reason;
    listener_callbacks cb;
    cb.on_link = [&](bool up, std::string why) {
        std::lock_guard lock(mutex);
        (up ? ups : downs)++;
        reason = why;
    };
    listener_options o;
    o.conninfo = pg().conninfo() + "?user=pglive_norights";
    listener l(o, cb);
    l.start(0);
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mutex);
        return downs > 0;
    }));
    // A bounded observation window: 3 s hold the attempts at 0, 0.1, 0.3, 0.7, 1.5 and 3.1 s
    // with a growing backoff, about 25 without.
    auto window_start = std::chrono::steady_clock::now();
    uint64_t failures_before = l.failures();
    int seen_up = 0;
    while (std::chrono::steady_clock::now() - window_start < std::chrono::seconds(3)) {
        seen_up += l.link_up();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(seen_up, 0) << "the link is up only after a read succeeded";
    uint64_t attempts = l.failures() - failures_before;
    l.stop();
    std::lock_guard lock(mutex);
    EXPECT_EQ(ups, 0) << "a link whose reads fail never came up";
    EXPECT_EQ(downs, 1) << "one report per change of state";
    EXPECT_NE(reason.find("permission denied"), std::string::npos) << reason;
    EXPECT_GE(attempts, 2u);
    EXPECT_LE(attempts, 7u) << "the backoff must keep growing (100 ms doubling to 5 s)";
    exec(*admin, "drop owned by pglive_norights; drop role pglive_norights");
}

// Issue 9 finding 4: a gap (retention removed transactions this listener had not delivered)
// was only logged at the next reconnect. Now it is reported as on_gap, while reading and at
// a (re)start, before the transactions after it.
TEST(listener, a_gap_left_by_retention_is_reported_while_reading_and_at_a_start) {
    auto admin = connect();
    exec(*admin, "create table gapped (id int primary key)");
    attach(*admin, "gapped");
    listener_options slow;
    slow.wakeup = "poll";
    slow.poll_interval_ms = 60000;  // reads only when woken: the prune comes first
    recorder rec(slow);
    ASSERT_TRUE(rec.caught_up());
    int64_t delivered = rec.get().position();
    exec(*admin, "insert into gapped values (1)");
    exec(*admin, "insert into gapped values (2)");
    run_sequencer(*admin);
    prune(*admin, 0, 1, 30);  // keeps only the newest transaction: the first insert is gone
    int64_t upto = 0, newest = 0;
    {
        pqxx::nontransaction n(*admin);
        upto = n.exec("select pruned_upto from pglive.state")[0][0].as<int64_t>();
        newest = n.exec("select max(position) from pglive.tx")[0][0].as<int64_t>();
    }
    ASSERT_GT(upto, delivered);
    rec.get().wake();
    ASSERT_TRUE(eventually([&] { return rec.get().position() >= newest; }));
    auto gaps = rec.gaps();
    ASSERT_EQ(gaps.size(), 1u);
    EXPECT_EQ(gaps[0], std::make_pair(delivered, upto));
    auto txs = rec.of("public.gapped");
    ASSERT_EQ(txs.size(), 1u);
    EXPECT_EQ(txs[0].position, newest);
    EXPECT_EQ(txs[0].changes.at(0).new_row, (json{{"id", 2}}));

    // A listener (re)starting from before the gap reports it at once.
    recorder late(listener_options{}, delivered);
    ASSERT_TRUE(eventually([&] { return !late.gaps().empty(); }));
    EXPECT_EQ(late.gaps()[0], std::make_pair(delivered, upto));

    // Retention removed every transaction: a listener starting now has missed nothing.
    exec(*admin, "select pglive.prune(null, 0, null)");  // a count bound of 0 keeps nothing
    {
        pqxx::nontransaction n(*admin);
        ASSERT_EQ(n.exec("select count(*) from pglive.tx")[0][0].as<int>(), 0);
    }
    recorder fresh;
    ASSERT_TRUE(fresh.caught_up());
    EXPECT_TRUE(fresh.gaps().empty()) << fresh.gaps()[0].first << ".." << fresh.gaps()[0].second;
}

}  // namespace
}  // namespace pglive::test
