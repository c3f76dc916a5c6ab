// capture.cpp — §1: what capture costs a writer (no trigger, a naive NOTIFY trigger, pglive notify and poll, 100-row INSERTs).
#include <atomic>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "common.h"
#include "support/process.h"

namespace pglive::bench {

using namespace std::chrono_literals;

void capture(run& ctx) {
    const std::string& ci = ctx.ci;
    json& res = ctx.res;
    const double secs = ctx.secs;
    auto ins = [](const std::string& t) { return "INSERT INTO " + t + "(v) VALUES ($1)"; };
    say("## 1. Capture overhead (single-row INSERT, 4 client threads, prepared, " + f1(secs) + " s each)\n");
    say("| design | tx/s |\n| --- | --- |");
    auto ins100 = [](const std::string& t) { return "INSERT INTO " + t + "(v) SELECT $1 FROM generate_series(1,100)"; };
    double none = run_writers(ci, ins("b_none"), 4, secs);
    say("| no trigger | " + f1(none) + " |");
    res["capture_tps_no_trigger_c4"] = none;
    double naive;
    {
        std::atomic<bool> stop{false};
        std::atomic<int64_t> got{0};
        std::thread listener([&] {
            pqxx::connection c(ci);
            struct rx : pqxx::notification_receiver {
                std::atomic<int64_t>& n;
                rx(pqxx::connection_base& c, std::atomic<int64_t>& n) : pqxx::notification_receiver(c, "x"), n(n) {}
                void operator()(const std::string&, int) override { ++n; }
            } r(c, got);
            while (!stop) c.await_notification(0, 100000);
        });
        std::this_thread::sleep_for(200ms);  // LISTEN issued before the writers start (no readiness signal in pqxx 6)
        naive = run_writers(ci, ins("b_naive"), 4, secs);
        stop = true;
        listener.join();
        say("| naive row trigger pg_notify(row_to_json(NEW)), LISTEN draining (" + std::to_string(got.load()) +
            " notifications) | " + f1(naive) + " |");
    }
    res["capture_tps_naive_notify_c4"] = naive;
    double pl_notify = 0, pl_poll = 0, batch_none = 0, batch_pl = 0;
    {
        auto s = test::start_serve(ci, {"--anonymous-topics", "*"});
        pl_notify = run_writers(ci, ins("b_pglive"), 4, secs);
        say("| pglive attached, notify mode, `pglive serve` draining | " + f1(pl_notify) + " |");
        batch_none = 100 * run_writers(ci, ins100("b_none"), 4, secs);
        batch_pl = 100 * run_writers(ci, ins100("b_pglive"), 4, secs);
    }
    {
        exec(ci, "SELECT pglive.set_wakeup('poll')");
        auto s = test::start_serve(ci, {"--anonymous-topics", "*", "--wakeup", "poll"});
        pl_poll = run_writers(ci, ins("b_pglive"), 4, secs);
        say("| pglive attached, poll mode (`--wakeup poll`), `pglive serve` draining | " + f1(pl_poll) + " |");
        exec(ci, "SELECT pglive.set_wakeup('notify')");
    }
    say("\n100-row INSERT statements, 4 clients: no trigger " + f1(batch_none) + " rows/s; pglive (notify) " +
        f1(batch_pl) + " rows/s.\n");
    res["capture_tps_pglive_notify_c4"] = pl_notify;
    res["capture_tps_pglive_poll_c4"] = pl_poll;
    res["batch_rows_per_s_no_trigger"] = batch_none;
    res["batch_rows_per_s_pglive"] = batch_pl;
    // The ratios the goals name, under stable names (issue 12).
    res["capture_notify_over_naive"] = naive > 0 ? pl_notify / naive : -1;
    res["capture_poll_over_no_trigger"] = none > 0 ? pl_poll / none : -1;
    res["capture_100row_over_no_trigger"] = batch_none > 0 ? batch_pl / batch_none : -1;
    auto goal = [](double r, double g) { return f2(r) + "× (goal ≥ " + f2(g) + "×: " + (r >= g ? "met" : "MISSED") + ")"; };
    say("Ratios: pglive notify / naive notify = " + goal(pl_notify / naive, 1.0) +
        "; pglive poll / no trigger = " + goal(pl_poll / none, 0.7) +
        "; 100-row pglive / no trigger = " + goal(batch_pl / batch_none, 0.5) + ".\n");

    // The capture tables' rows and their outbox history are not needed by what follows.
    exec(ci, "TRUNCATE b_none, b_naive, b_pglive; SELECT pglive.prune(null, 0)");
    exec(ci, "VACUUM ANALYZE pglive.outbox, pglive.tx");  // not in a multi-statement string: no VACUUM in a transaction
}

}  // namespace pglive::bench
