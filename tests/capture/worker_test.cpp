// worker_test.cpp — snapshot hand-off, db_worker jobs and reconnects, retention, application_name, the cluster.
#include <atomic>
#include <future>
#include <random>
#include <thread>

#include "capture/db_worker.h"
#include "capture/outbox.h"
#include "capture_fixture.h"

namespace pglive::test {
namespace {

TEST(db_worker, load_topic_hands_off_to_the_stream_exactly) {
    auto admin = connect();
    exec(*admin, "create table handoff (id int primary key, v int)");
    attach(*admin, "handoff");
    recorder rec;
    db_worker worker(pg().conninfo(), "db");

    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w)
        writers.emplace_back([&, w] {
            auto c = connect("writer");
            std::mt19937 rng(w + 11);
            for (int i = 0; !stop || i < 200; ++i) {
                int id = w * 1000 + int(rng() % 60);
                pqxx::work t(*c);
                if (rng() % 3 == 0) t.exec("delete from handoff where id = " + std::to_string(id));
                else
                    t.exec("insert into handoff values (" + std::to_string(id) + ", " + std::to_string(i) +
                           ") on conflict (id) do update set v = excluded.v");
                t.commit();
            }
        });
    ASSERT_TRUE(eventually([&] { return rec.of("public.handoff").size() > 50; }));
    std::promise<topic_load> loaded;
    worker.load_topic("public.handoff", [&](topic_load l) { loaded.set_value(std::move(l)); });
    auto fut = loaded.get_future();
    ASSERT_EQ(fut.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    topic_load load = fut.get();
    ASSERT_EQ(load.error, "");
    EXPECT_EQ(load.info.key, (std::vector<std::string>{"id"}));
    stop = true;
    for (auto& t : writers) t.join();
    ASSERT_TRUE(rec.caught_up());

    std::map<std::string, json> state;
    for (const auto& row : load.rows) state[row_key(row, {"id"})] = row;
    int applied = 0, skipped = 0;
    for (const auto& t : rec.of("public.handoff")) {
        if (t.position <= load.read_position) continue;
        if (t.position <= load.position && load.snapshot.visible(t.xid)) {
            ++skipped;
            continue;
        }
        ++applied;
        for (const auto& c : t.changes) apply(state, c, {"id"});
    }
    EXPECT_GT(applied, 0) << "the writers stopped before the load: the hand-off was not exercised";
    EXPECT_TRUE(state == table_state(*admin, "handoff", {"id"})) << "applied " << applied << ", skipped " << skipped;
}

// Issue 9.1: a transaction committed before the load's snapshot but not yet given a position
// (no listener ran the sequencer) is in the rows; the label must be its position, not below.
TEST(load_topic, label_covers_committed_transactions_not_yet_sequenced) {
    auto admin = connect();
    exec(*admin, "create table unsequenced (id int primary key, v int)");
    attach(*admin, "unsequenced");
    exec(*admin, "select pglive.sequence()");
    exec(*admin, "insert into unsequenced values (1, 1)");  // committed, no position yet
    topic_load load = load_topic(*admin, "public.unsequenced");
    ASSERT_EQ(load.error, "");
    ASSERT_EQ(load.rows.size(), 1u);
    pqxx::nontransaction n(*admin);
    int64_t pos = n.exec("select t.position from pglive.tx t join pglive.outbox o on o.xid = t.xid "
                         "where o.topic = 'public.unsequenced' and o.op = 'I'")[0][0]
                      .as<int64_t>();
    EXPECT_LT(load.read_position, pos);
    EXPECT_EQ(load.position, pos) << "the snapshot holds the insert, so its label must be the insert's position";
}

// Found by the model test: a table with a column named like the load's row alias (t) loaded
// that column's values instead of its rows.
TEST(load_topic, a_column_named_like_a_row_alias_loads_rows) {
    auto admin = connect();
    exec(*admin, "create table aliased (id int primary key, t text, n int, o int, r int)");
    attach(*admin, "aliased");
    exec(*admin, "insert into aliased values (1, 'tee', 2, 3, 4)");
    topic_load load = load_topic(*admin, "public.aliased");
    ASSERT_EQ(load.error, "");
    ASSERT_EQ(load.rows.size(), 1u);
    EXPECT_EQ(load.rows[0], json::parse(R"({"id":1,"t":"tee","n":2,"o":3,"r":4})"));
}

// Issue 9.3: TRUNCATE is not MVCC-safe. A load that took its snapshot before a TRUNCATE
// committed read the emptied table and labelled it before the TRUNCATE. The load now locks
// the table first, so the rows and the label agree.
TEST(load_topic, truncate_racing_a_load_gives_rows_that_match_the_label) {
    auto admin = connect();
    exec(*admin, "create table truncated (id int primary key, v int)");
    attach(*admin, "truncated");
    exec(*admin, "insert into truncated select g, g from generate_series(1, 100) g");
    exec(*admin, "select pglive.sequence()");

    auto trunc = connect();
    pqxx::work t(*trunc);
    t.exec("truncate truncated");  // holds ACCESS EXCLUSIVE until it commits
    std::future<topic_load> loaded = std::async(std::launch::async, [] {
        auto c = connect();
        return load_topic(*c, "public.truncated");
    });
    // The load is waiting for the table's lock (before the fix: after taking its snapshot).
    ASSERT_TRUE(eventually([&] {
        pqxx::nontransaction n(*admin);
        return n.exec("select count(*) from pg_locks where not granted and relation = 'truncated'::regclass")[0][0]
                   .as<int>() > 0;
    }));
    t.commit();
    ASSERT_EQ(loaded.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    topic_load load = loaded.get();
    ASSERT_EQ(load.error, "");
    exec(*admin, "select pglive.sequence()");
    pqxx::nontransaction n(*admin);
    int64_t truncate_pos = n.exec("select t.position from pglive.tx t join pglive.outbox o on o.xid = t.xid "
                                  "where o.topic = 'public.truncated' and o.op = 'T'")[0][0]
                               .as<int64_t>();
    if (load.rows.empty())
        EXPECT_GE(load.position, truncate_pos) << "empty rows labelled before the TRUNCATE that emptied them";
    else
        EXPECT_LT(load.position, truncate_pos) << "rows labelled after the TRUNCATE";
    EXPECT_TRUE(load.rows.empty()) << "the load waited for the TRUNCATE, so it must see its effect";
}

template <class T>
T wait_answer(std::future<T> f) {
    if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) throw std::runtime_error("no answer in 20 s");
    return f.get();
}

TEST(db_worker, answers_every_job_and_reconnects_after_its_connection_is_killed) {
    auto admin = connect();
    exec(*admin, "create table worked (id int primary key, v text)");
    db_worker worker(pg().conninfo(), "db");

    std::promise<std::pair<topic_info, std::string>> attached;
    worker.attach("worked", {}, {}, {}, std::nullopt, [&](topic_info t, std::string e) { attached.set_value({t, e}); });
    auto [info, err] = wait_answer(attached.get_future());
    EXPECT_EQ(err, "");
    EXPECT_EQ(info.topic, "public.worked");

    std::promise<topic_load> missing;
    worker.load_topic("public.nope", [&](topic_load l) { missing.set_value(std::move(l)); });
    EXPECT_EQ(wait_answer(missing.get_future()).error, "no attached table public.nope");

    std::promise<std::string> attach_fail;
    worker.attach("nope", {}, {}, {}, std::nullopt, [&](topic_info, std::string e) { attach_fail.set_value(e); });
    EXPECT_NE(wait_answer(attach_fail.get_future()).find("no such table"), std::string::npos);

    // Kill the worker's connection: the next jobs fail or succeed, but every one answers, and
    // the worker is back within the backoff.
    {
        pqxx::nontransaction n(*admin);
        ASSERT_EQ(n.exec("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                         "where application_name = 'pglive-db'")[0][0].as<int>(), 1);
    }
    bool recovered = eventually([&] {
        std::promise<std::pair<std::vector<topic_info>, std::string>> p;
        worker.list_topics([&](std::vector<topic_info> t, std::string e) { p.set_value({std::move(t), e}); });
        auto [topics, e] = wait_answer(p.get_future());
        if (!e.empty()) return false;
        for (const auto& t : topics)
            if (t.topic == "public.worked") return true;
        return false;
    });
    EXPECT_TRUE(recovered);

    recorder rec;
    std::promise<std::string> published;
    worker.publish("alerts", json{{"level", "high"}}, [&](std::string e) { published.set_value(e); });
    EXPECT_EQ(wait_answer(published.get_future()), "");
    ASSERT_TRUE(eventually([&] { return !rec.of("alerts").empty(); }));
    auto msg = rec.of("alerts")[0].changes.at(0);
    EXPECT_EQ(msg.op, op_kind::message);
    EXPECT_EQ(msg.new_row, (json{{"level", "high"}}));

    std::promise<json> st;
    worker.status([&](json j) { st.set_value(j); });
    json s = wait_answer(st.get_future());
    EXPECT_FALSE(s.contains("error")) << s.dump();
    EXPECT_GT(s.at("last_position").get<int64_t>(), 0);
    EXPECT_EQ(s.at("wakeup"), "notify");
    EXPECT_GE(s.at("lag_seconds").get<double>(), 0.0);
    bool listed = false;
    for (const auto& t : s.at("tables"))
        if (t.at("topic") == "public.worked") listed = true;
    EXPECT_TRUE(listed) << s.dump();
}

// Issue 9 finding 8: after the server closed a worker's idle connection, the next job used to
// fail ("Could not obtain client encoding", a 503 on publish) before the worker reconnected.
TEST(db_worker, the_first_job_after_its_connection_was_terminated_succeeds) {
    auto admin = connect();
    db_worker worker(pg().conninfo(), "db-terminated");
    auto publish = [&](const std::string& topic) {
        std::promise<std::string> done;
        worker.publish(topic, json{{"n", 1}}, [&](std::string e) { done.set_value(e); });
        return wait_answer(done.get_future());
    };
    auto list = [&] {
        std::promise<std::string> done;
        worker.list_topics([&](std::vector<topic_info>, std::string e) { done.set_value(e); });
        return wait_answer(done.get_future());
    };
    auto terminate = [&] {
        pqxx::nontransaction n(*admin);
        ASSERT_EQ(n.exec("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                         "where application_name = 'pglive-db-terminated'")[0][0].as<int>(), 1);
        ASSERT_TRUE(eventually([&] {
            return n.exec("select count(*) from pg_stat_activity where application_name = 'pglive-db-terminated'")[0][0]
                       .as<int>() == 0;
        })) << "the terminated backend did not exit";
    };
    ASSERT_EQ(publish("terminated.warmup"), "");
    terminate();
    EXPECT_EQ(publish("terminated.after"), "") << "a publish after the link was closed while idle";
    terminate();
    EXPECT_EQ(list(), "") << "a read after the link was closed while idle";
    pqxx::nontransaction n(*admin);
    EXPECT_EQ(n.exec("select count(*) from pglive.outbox where topic = 'terminated.after'")[0][0].as<int>(), 1)
        << "published exactly once";
}

TEST(db_worker, history_reads_one_topic_and_says_when_retention_cut_it) {
    auto admin = connect();
    exec(*admin, "create table hist (id int primary key); create table hist_other (id int primary key)");
    attach(*admin, "hist");
    attach(*admin, "hist_other");
    recorder rec;
    for (int i = 1; i <= 6; ++i) {
        exec(*admin, "insert into hist values (" + std::to_string(i) + ")");
        exec(*admin, "insert into hist_other values (" + std::to_string(i) + ")");
    }
    ASSERT_TRUE(rec.caught_up());
    auto mine = rec.of("public.hist");
    ASSERT_EQ(mine.size(), 6u);
    db_worker worker(pg().conninfo(), "db");

    std::promise<history_result> h1;
    worker.read_history("public.hist", mine[1].position, -1, 3, [&](history_result h) { h1.set_value(std::move(h)); });
    auto h = wait_answer(h1.get_future());
    EXPECT_EQ(h.error, "");
    EXPECT_FALSE(h.complete) << "4 transactions follow, 3 were asked for";
    ASSERT_EQ(h.transactions.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(h.transactions[i].position, mine[i + 2].position);
        ASSERT_EQ(h.transactions[i].changes.size(), 1u);
        EXPECT_EQ(h.transactions[i].changes[0].topic, "public.hist");
    }

    std::promise<history_result> h_all;
    worker.read_history("public.hist", mine[1].position, mine[4].position, 3,
                        [&](history_result h) { h_all.set_value(std::move(h)); });
    h = wait_answer(h_all.get_future());
    EXPECT_TRUE(h.complete);
    ASSERT_EQ(h.transactions.size(), 3u) << "upto bounds the range";
    EXPECT_EQ(h.transactions.back().position, mine[4].position);

    std::promise<std::pair<int64_t, std::string>> pruned;
    worker.prune(0, 4, [&](int64_t n, std::string e) { pruned.set_value({n, e}); });
    auto [n, err] = wait_answer(pruned.get_future());
    EXPECT_EQ(err, "");
    EXPECT_GT(n, 0);
    std::promise<history_result> h2;
    worker.read_history("public.hist", mine[1].position, -1, 100, [&](history_result h) { h2.set_value(std::move(h)); });
    h = wait_answer(h2.get_future());
    EXPECT_FALSE(h.complete) << "retention removed transactions after the requested position";
    pqxx::nontransaction q(*admin);
    EXPECT_EQ(q.exec("select count(*) from pglive.tx")[0][0].as<int>(), 4);
    EXPECT_EQ(q.exec("select count(*) from pglive.outbox o where not exists "
                     "(select 1 from pglive.tx t where t.xid = o.xid)")[0][0].as<int>(), 0)
        << "pruned transactions' outbox rows are gone too";
}

// Issue 9 finding 4: retention chose by age or count only, and could delete a backlog no
// listener had delivered yet. Now it never passes a live node's delivered position.
TEST(retention, never_passes_what_a_live_node_has_not_delivered_and_a_dead_node_stops_holding) {
    auto admin = connect();
    exec(*admin, "create table kept (id int primary key)");
    attach(*admin, "kept");
    for (int i = 1; i <= 6; ++i) exec(*admin, "insert into kept values (" + std::to_string(i) + ")");
    run_sequencer(*admin);
    std::vector<int64_t> pos;
    {
        pqxx::nontransaction n(*admin);
        for (const auto& r : n.exec("select t.position from pglive.tx t join pglive.outbox o on o.xid = t.xid "
                                    "where o.topic = 'public.kept' and o.op = 'I' order by t.position"))
            pos.push_back(r[0].as<int64_t>());
    }
    ASSERT_EQ(pos.size(), 6u);
    auto kept = [&] {
        pqxx::nontransaction n(*admin);
        return n.exec("select count(*) from pglive.tx t join pglive.outbox o on o.xid = t.xid "
                      "where o.topic = 'public.kept'")[0][0].as<int>();
    };
    auto pruned_upto = [&] {
        pqxx::nontransaction n(*admin);
        return n.exec("select pruned_upto from pglive.state")[0][0].as<int64_t>();
    };
    int before = kept();  // the 6 inserts and the attach control row

    // A node that has delivered only up to the second insert holds everything after it, even
    // against a count bound of 1.
    beat(*admin, "test-behind", pos[1]);
    beat(*admin, "test-current", pos[5]);
    prune(*admin, 0, 1, 30);
    EXPECT_EQ(pruned_upto(), pos[1]);
    EXPECT_EQ(kept(), before - 3) << "the attach row and the first two inserts only";
    // The older two-argument form holds too.
    exec(*admin, "select pglive.prune(null, 1)");
    EXPECT_EQ(pruned_upto(), pos[1]);

    // The node moves on: retention follows it.
    beat(*admin, "test-behind", pos[3]);
    prune(*admin, 0, 1, 30);
    EXPECT_EQ(pruned_upto(), pos[3]);

    // It stops beating: after the node timeout it no longer holds anything, and is forgotten.
    exec(*admin, "update pglive.nodes set beat_at = now() - interval '31 seconds' where node_id = 'test-behind'");
    exec(*admin, "update pglive.nodes set delivered = " + std::to_string(pos[5]) + " where node_id = 'test-current'");
    prune(*admin, 0, 1, 30);
    EXPECT_GE(pruned_upto(), pos[4]);
    EXPECT_EQ(kept(), 1) << "the newest transaction only";
    pqxx::nontransaction n(*admin);
    EXPECT_EQ(n.exec("select count(*) from pglive.nodes where node_id = 'test-behind'")[0][0].as<int>(), 0);
    n.exec("delete from pglive.nodes where node_id like 'test-%'");
}

// Issue 12: prune by age took the highest position older than keep_age, so a transaction
// younger than keep_age sequenced before an older one (a long transaction keeps its capture's
// ts) was removed with it; and it scanned pglive.tx (no index on ts) and removed a whole
// interval's backlog in one call, holding the sequencer's lock, which every delivery waits for.
TEST(retention, by_age_never_removes_a_younger_transaction_and_one_call_removes_at_most_5000) {
    auto admin = connect();
    exec(*admin, "delete from pglive.nodes");  // nothing holds retention here
    exec(*admin, "create table aged (id int primary key)");
    attach(*admin, "aged");
    for (int i = 1; i <= 3; ++i) exec(*admin, "insert into aged values (" + std::to_string(i) + ")");
    run_sequencer(*admin);
    auto q = [&](const std::string& sql) {
        pqxx::nontransaction n(*admin);
        return n.exec(sql)[0][0].as<int64_t>();
    };
    std::vector<int64_t> pos;
    {
        pqxx::nontransaction n(*admin);
        for (const auto& r : n.exec("select t.position from pglive.tx t join pglive.outbox o on o.xid = t.xid "
                                    "where o.topic = 'public.aged' and o.op = 'I' order by t.position"))
            pos.push_back(r[0].as<int64_t>());
    }
    ASSERT_EQ(pos.size(), 3u);
    // Everything before the second insert is two hours old, and so is the third insert; the
    // second is young.
    exec(*admin, "update pglive.tx set ts = now() - interval '2 hours' where position < " + std::to_string(pos[1]) +
                     " or position = " + std::to_string(pos[2]));
    prune(*admin, 3600, 0, 30);
    EXPECT_EQ(q("select count(*) from pglive.tx where position = " + std::to_string(pos[0])), 0) << "the old first insert goes";
    EXPECT_EQ(q("select count(*) from pglive.tx where position in (" + std::to_string(pos[1]) + ", " +
                std::to_string(pos[2]) + ")"),
              2)
        << "the young second insert stays, and the old third behind it";
    EXPECT_EQ(q("select pruned_upto from pglive.state"), pos[0]) << "the last position removed, one that existed";

    // 12,000 transactions, all old, then a young one: one step of 5,000 removes 5,000 of them, the
    // server's prune (steps until one removes fewer) all the old ones.
    {
        pqxx::nontransaction n(*admin);
        n.exec("set synchronous_commit = off");
        std::string sql;
        for (int i = 100; i < 12100; ++i) sql += "begin; insert into aged values (" + std::to_string(i) + "); commit; ";
        n.exec(sql);
        n.exec("set synchronous_commit = on");
    }
    run_sequencer(*admin);
    exec(*admin, "update pglive.tx set ts = now() - interval '2 hours'");
    exec(*admin, "insert into aged values (99999)");
    run_sequencer(*admin);
    int64_t fence = q("select max(position) from pglive.tx");
    int64_t old = q("select count(*) from pglive.tx") - 1;
    ASSERT_GE(old, 12000);
    EXPECT_EQ(q("select pglive.prune_step(interval '1 hour', null, interval '30 seconds', 5000)"), 5000);
    EXPECT_EQ(prune(*admin, 3600, 0, 30), old - 5000);
    EXPECT_EQ(q("select count(*) from pglive.tx"), 1) << "the young transaction only";
    EXPECT_EQ(q("select min(position) from pglive.tx"), fence);

    // A serve role granted before prune_step existed gets it from the upgrade.
    exec(*admin, "do $$ begin if not exists (select 1 from pg_roles where rolname = 'prune_serve') then "
                 "create role prune_serve login; end if; end $$; select pglive.grant_serve('prune_serve'); "
                 "revoke execute on function pglive.prune_step(interval, bigint, interval, bigint) from prune_serve");
    EXPECT_EQ(q("select has_function_privilege('prune_serve', 'pglive.prune_step(interval,bigint,interval,bigint)', "
                "'execute')::int"),
              0);
    install_schema(*admin);
    EXPECT_EQ(q("select has_function_privilege('prune_serve', 'pglive.prune_step(interval,bigint,interval,bigint)', "
                "'execute')::int"),
              1);
}

TEST(capture, every_pglive_connection_names_itself) {
    auto admin = connect();
    recorder rec;
    db_worker worker(pg().conninfo(), "db");
    std::promise<json> st;
    worker.status([&](json j) { st.set_value(j); });
    wait_answer(st.get_future());
    auto plain = open_connection(pg().conninfo() + "?application_name=other", "");
    auto kv = open_connection("host=127.0.0.1 port=" + std::to_string(pg().port()) + " user=postgres", "cli");
    EXPECT_EQ(describe_conninfo(*kv), "postgres@127.0.0.1:" + std::to_string(pg().port()) + "/postgres");

    pqxx::nontransaction n(*admin);
    auto r = n.exec("select application_name from pg_stat_activity where backend_type = 'client backend'");
    std::set<std::string> names;
    for (const auto& row : r) {
        std::string name = row[0].c_str();
        names.insert(name);
        EXPECT_EQ(name.rfind("pglive", 0), 0u) << "connection named '" << name << "'";
    }
    for (const char* want : {"pglive-listener", "pglive-db", "pglive", "pglive-cli", "pglive-test"})
        EXPECT_TRUE(names.count(want)) << want;
}

TEST(capture, the_listener_survives_a_database_restart_and_catches_up) {
    auto admin = connect();
    exec(*admin, "create table restarted (id int primary key)");
    attach(*admin, "restarted");
    recorder rec;
    exec(*admin, "insert into restarted values (1)");
    ASSERT_TRUE(rec.caught_up());
    admin.reset();
    pg().restart();
    ASSERT_TRUE(eventually([&] { return rec.downs() >= 1; }));
    admin = connect();
    exec(*admin, "insert into restarted values (2)");
    ASSERT_TRUE(eventually([&] { return rec.ups() >= 2; }, std::chrono::seconds(30)));
    ASSERT_TRUE(rec.caught_up());
    // A crash (immediate shutdown) and recovery: the committed rows survive. The sequencer
    // commits asynchronously, so the positions delivered last may be lost: on_epoch says so,
    // and their transactions come again at new positions (once each).
    admin.reset();
    int downs = rec.downs();
    size_t epochs = rec.epochs().size();
    pg().kill();
    ASSERT_TRUE(eventually([&] { return rec.downs() > downs; }));
    pg().start();
    admin = connect();
    exec(*admin, "insert into restarted values (3)");
    ASSERT_TRUE(rec.caught_up());
    EXPECT_EQ(rec.epochs().size(), epochs + 1) << "the crash started an epoch";
    auto txs = rec.durable_of("public.restarted");
    ASSERT_EQ(txs.size(), 3u);
    EXPECT_EQ(txs[0].changes.at(0).new_row, (json{{"id", 1}}));
    EXPECT_EQ(txs[1].changes.at(0).new_row, (json{{"id", 2}}));
    EXPECT_EQ(txs[2].changes.at(0).new_row, (json{{"id", 3}}));
    EXPECT_LT(txs[1].position, txs[2].position);
}

}  // namespace
}  // namespace pglive::test
