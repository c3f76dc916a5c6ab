// capture.cpp — §1: what capture costs a writer (no trigger, a naive NOTIFY trigger, pglive notify and poll, 100-row INSERTs).
#include <algorithm>
#include <atomic>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "support/process.h"

namespace pglive::bench {

using namespace std::chrono_literals;

void capture(run& ctx) {
    const std::string& ci = ctx.ci;
    json& res = ctx.res;
    // Each design runs `rounds` times for secs/2, interleaved with the designs it is compared
    // with, and the median counts: run once each in a row, the later designs paid for the
    // earlier ones' WAL and checkpoints and for tables that had grown (the ratios drifted by
    // ±0.05 between runs).
    const int rounds = 3;
    const double each = ctx.secs / 2;
    auto ins = [](const std::string& t) { return "INSERT INTO " + t + "(v) VALUES ($1)"; };
    auto ins100 = [](const std::string& t) { return "INSERT INTO " + t + "(v) SELECT $1 FROM generate_series(1,100)"; };
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v.empty() ? 0.0 : v[v.size() / 2];
    };
    say("## 1. Capture overhead (single-row INSERT, 4 client threads, prepared; each design the median of " +
        std::to_string(rounds) + " runs of " + f1(each) + " s, interleaved with the designs it is compared with)\n");
    say("| design | tx/s |\n| --- | --- |");
    std::vector<double> none_n, naive_v, notify_v, none100, pl100, none_p, poll_v;
    int64_t notifications = 0;
    {
        // Notify phase: serve (notify mode) and the naive trigger's LISTEN run throughout.
        auto s = test::start_serve(ci, {"--anonymous-topics", "*"});
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
        for (int r = 0; r < rounds; ++r) {
            none_n.push_back(run_writers(ci, ins("b_none"), 4, each));
            naive_v.push_back(run_writers(ci, ins("b_naive"), 4, each));
            notify_v.push_back(run_writers(ci, ins("b_pglive"), 4, each));
            none100.push_back(100 * run_writers(ci, ins100("b_none"), 4, each));
            pl100.push_back(100 * run_writers(ci, ins100("b_pglive"), 4, each));
        }
        stop = true;
        listener.join();
        notifications = got.load();
    }
    {
        // Poll phase: the capture functions without the doorbell, serve reading every 50 ms.
        exec(ci, "SELECT pglive.set_wakeup('poll')");
        auto s = test::start_serve(ci, {"--anonymous-topics", "*", "--wakeup", "poll"});
        for (int r = 0; r < rounds; ++r) {
            none_p.push_back(run_writers(ci, ins("b_none"), 4, each));
            poll_v.push_back(run_writers(ci, ins("b_pglive"), 4, each));
        }
        exec(ci, "SELECT pglive.set_wakeup('notify')");
    }
    double none = median(none_n), naive = median(naive_v), pl_notify = median(notify_v), pl_poll = median(poll_v),
           none_poll = median(none_p), batch_none = median(none100), batch_pl = median(pl100);
    say("| no trigger | " + f1(none) + " |");
    say("| naive row trigger pg_notify(row_to_json(NEW)), LISTEN draining (" + std::to_string(notifications) +
        " notifications) | " + f1(naive) + " |");
    say("| pglive attached, notify mode, `pglive serve` draining | " + f1(pl_notify) + " |");
    say("| no trigger (poll phase) | " + f1(none_poll) + " |");
    say("| pglive attached, poll mode (`--wakeup poll`), `pglive serve` draining | " + f1(pl_poll) + " |");
    say("\n100-row INSERT statements, 4 clients: no trigger " + f1(batch_none) + " rows/s; pglive (notify) " +
        f1(batch_pl) + " rows/s.\n");
    res["capture_tps_no_trigger_c4"] = none;
    res["capture_tps_naive_notify_c4"] = naive;
    res["capture_tps_pglive_notify_c4"] = pl_notify;
    res["capture_tps_pglive_poll_c4"] = pl_poll;
    res["batch_rows_per_s_no_trigger"] = batch_none;
    res["batch_rows_per_s_pglive"] = batch_pl;
    // The ratios the goals name, under stable names (issue 12). Each round's pair ran back to
    // back, so each round's ratio cancels the drift between rounds: the figure is their median.
    auto paired = [](const std::vector<double>& a, const std::vector<double>& b) {
        std::vector<double> r;
        for (size_t i = 0; i < a.size() && i < b.size(); ++i) r.push_back(b[i] > 0 ? a[i] / b[i] : 0);
        return r;
    };
    auto list = [](const std::vector<double>& r) {
        std::string out;
        for (size_t i = 0; i < r.size(); ++i) out += (i ? ", " : "") + f2(r[i]);
        return out;
    };
    auto r_notify = paired(notify_v, naive_v), r_poll = paired(poll_v, none_p), r_100 = paired(pl100, none100);
    double notify_ratio = median(r_notify), poll_ratio = median(r_poll), batch_ratio = median(r_100);
    res["capture_notify_over_naive"] = notify_ratio;
    res["capture_poll_over_no_trigger"] = poll_ratio;
    res["capture_100row_over_no_trigger"] = batch_ratio;
    auto goal = [](double r, double g) { return f2(r) + "× (goal ≥ " + f2(g) + "×: " + (r >= g ? "met" : "MISSED") + ")"; };
    say("Ratios (the median of the rounds' ratios, each round's pair run back to back; the rounds in brackets): "
        "pglive notify / naive notify = " + goal(notify_ratio, 1.0) + " [" + list(r_notify) +
        "]; pglive poll / no trigger = " + goal(poll_ratio, 0.7) + " [" + list(r_poll) +
        "]; 100-row pglive / no trigger = " + goal(batch_ratio, 0.5) + " [" + list(r_100) + "].\n");

    // The capture tables' rows and their outbox history are not needed by what follows.
    exec(ci, "TRUNCATE b_none, b_naive, b_pglive; SELECT pglive.prune(null, 0)");  // unbounded: everything
    exec(ci, "VACUUM ANALYZE pglive.outbox, pglive.tx");  // not in a multi-statement string: no VACUUM in a transaction
}

}  // namespace pglive::bench
