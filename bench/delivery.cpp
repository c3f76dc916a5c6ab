// delivery.cpp — §2 and §3a: commit → client latency at paced rates, and delivery at PostgreSQL's own pace.
#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "common.h"

namespace pglive::bench {

using namespace std::chrono_literals;

void latency(run& ctx) {
    const std::string& ci = ctx.ci;
    json& res = ctx.res;
    say("## 2. Commit → client latency (paced single-row INSERTs from 4 writers, 5 s)\n");
    say("From commit: receive time − when the writer's COMMIT returned (matched by row key), the goal's "
        "figure. From capture: receive time − the patch's `ts` (the capture trigger's clock, before the writer's "
        "own commit and its WAL flush, which this disk sometimes stretches to 100+ ms).\n");
    say("| subscribers | rate tx/s | committed | delivered/expected | p50 ms | p99 ms | p99.9 ms | max ms | from capture: p50 | p99 | p99.9 | max |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    std::vector<int> sub_counts = {1, 100};
    std::vector<double> rates = {100.0, 500.0, 1000.0, 5000.0};
    auto numbers = [](const char* list) {  // "1,100" → {1, 100}
        std::vector<double> v;
        std::stringstream ss(list);
        for (std::string t; std::getline(ss, t, ',');) v.push_back(std::atof(t.c_str()));
        return v;
    };
    if (const char* e = getenv("BENCH_LAT_SUBS")) {
        sub_counts.clear();
        for (double n : numbers(e)) sub_counts.push_back(int(n));
    }
    if (const char* e = getenv("BENCH_LAT_RATE")) rates = numbers(e);
    std::vector<std::string> stage_rows;  // the second table: where each run's milliseconds went
    for (int subs : sub_counts)
        for (double rate : rates) {
            load l(ctx.port);
            int64_t ready = (exec(ci, "TRUNCATE b_live"), l.open(subs, "public.b_live"));
            settle(ci, ctx.serve_pid);
            auto stages_before = read_stage_buckets(ctx.port);
            auto r = paced_run(l, ci, ready, rate);
            auto stages_after = read_stage_buckets(ctx.port);
            std::string row = "| " + std::to_string(ready) + " | " + f1(rate) + " |";
            for (const char* st : stage_names) {
                double p50 = stage_quantile_ms(stages_before, stages_after, st, 0.5);
                double p99 = stage_quantile_ms(stages_before, stages_after, st, 0.99);
                row += " " + f2(p50) + " / " + f2(p99) + " |";
                if (subs == 100 && rate == 1000.0) {
                    res["stage_p50_ms"][st] = p50;
                    res["stage_p99_ms"][st] = p99;
                }
            }
            stage_rows.push_back(row);
            auto& p = r.p;
            int64_t committed = r.committed;
            double ratio = r.delivered;
            auto& c = r.from_commit;
            say("| " + std::to_string(ready) + " | " + f1(rate) + " | " + std::to_string(committed) + " | " +
                f2(ratio) + " | " + f2(c.p50) + " | " + f2(c.p99) + " | " + f2(c.p999) + " | " + f2(c.max) + " | " +
                f2(p.p50) + " | " + f2(p.p99) + " | " + f2(p.p999) + " | " + f2(p.max) + " |");
            if (subs == 100 && rate == 1000.0) {
                res["latency_p50_ms"] = c.p50;
                res["latency_p99_ms"] = c.p99;
                res["latency_p999_ms"] = c.p999;
                res["latency_capture_p50_ms"] = p.p50;
                res["latency_capture_p99_ms"] = p.p99;
                res["latency_capture_p999_ms"] = p.p999;
            }
            if (subs == 1 && rate == 500.0) {
                res["latency_1client_500_max_ms"] = c.max;
                res["latency_1client_500_capture_max_ms"] = p.max;
            }
        }
    say("\nWhere the milliseconds go: serve's own stage timings over the same runs (`pglive_stage_seconds` on "
        "/metrics, each from the writer's commit `ts` to the end of the stage; p50 / p99 ms, interpolated within "
        "the histogram's buckets): sequenced (the listener's sequencer run returned), read (its batch read "
        "returned), hub (the hub strand took the batch), handed (frames handed to every connection), written "
        "(a connection's write of the frame completed).\n");
    say("| subscribers | rate tx/s | sequenced | read | hub | handed | written |\n| --- | --- | --- | --- | --- | --- | --- |");
    for (auto& row : stage_rows) say(row);
    // The floor under the goal's figures on this machine (floor.cpp, commit_floor): the same
    // writers, no pglive, a relay thread told of each commit the moment it returns.
    say("\nFloor (bench/floor.cpp, no pglive): the same 4 paced writers commit into a table without a trigger; "
        "as each COMMIT returns, the writer passes its time down a pipe to a relay thread, which writes a 300-byte "
        "frame to each of N loopback TCP connections, read by one epoll thread. Receive − commit, ms: what the "
        "kernel and the database leave for any server here (one wake-up to learn of a commit, one write per "
        "connection, no capture, no sequencer).\n");
    say("| connections | rate tx/s | p50 ms | p99 ms | p99.9 ms | max ms |\n| --- | --- | --- | --- | --- | --- |");
    for (int subs : sub_counts)
        for (double rate : rates) {
            if (rate != 500.0 && rate != 1000.0) continue;  // the goals' rates
            settle(ci, ctx.serve_pid);
            auto f = commit_floor(ci, subs, rate);
            say("| " + std::to_string(subs) + " | " + f1(rate) + " | " + f2(f.p50) + " | " + f2(f.p99) + " | " +
                f2(f.p999) + " | " + (f.max < 0 ? std::string("frames lost") : f2(f.max)) + " |");
            if (subs == 100 && rate == 1000.0) {
                res["latency_floor_p50_ms"] = f.p50;
                res["latency_floor_p99_ms"] = f.p99;
                res["latency_floor_p999_ms"] = f.p999;
            }
            if (subs == 1 && rate == 500.0) res["latency_floor_1client_500_max_ms"] = f.max;
        }
    {
        // What a commit itself costs here: the floor under every figure above (a patch is
        // delivered after the writer's commit and the sequencer's own durable commit).
        double one = run_writers(ci, "INSERT INTO b_none(v) VALUES ($1)", 1, 2);
        say("\nGoals (from commit) at 1k tx/s, 100 subscribers: p50 ≤ 1 ms, p99 ≤ 3 ms, p99.9 ≤ 10 ms; one client at "
            "500 tx/s: max ≤ 20 ms. For reference, one client's durable single-row INSERT commits take " +
            f2(1000.0 / std::max(one, 1.0)) + " ms each here (" + f1(one) +
            " tx/s, no trigger): the figures from capture include one such WAL flush, the writer's (the sequencer "
            "commits asynchronously).\n");
    }
}

void sustained(run& ctx) {
    const std::string& ci = ctx.ci;
    json& res = ctx.res;
    say("## 3a. Sustained delivery at PostgreSQL's own pace (4 INSERT writers as fast as they can, 5 s)\n");
    say("| subscribers | committed tx/s | patches delivered / expected | resyncs | last patch after last commit, s |\n"
        "| --- | --- | --- | --- | --- |");
    for (int subs : {10, 100}) {
        settle(ci, ctx.serve_pid);
        load l(ctx.port);
        int64_t ready = (exec(ci, "TRUNCATE b_live"), l.open(subs, "public.b_live"));
        int64_t committed = 0;
        double tps = run_writers(ci, "INSERT INTO b_live(v) VALUES ($1)", 4, 5, &committed);
        auto t1 = now_us();
        drain(l, committed * ready, 10s);
        int64_t got = 0, last = 0, resync = 0;
        l.sync([&] {
            got = l.st.patches;
            last = l.st.last_rx_us;
            resync = l.st.snapshots;
        });
        double ratio = double(got) / double(std::max<int64_t>(committed * ready, 1));
        say("| " + std::to_string(ready) + " | " + f1(tps) + " | " + std::to_string(got) + " / " +
            std::to_string(committed * ready) + " (" + f2(ratio) + ") | " + std::to_string(resync) + " | " +
            f2(last > t1 ? (last - t1) / 1e6 : 0) + " |");
        if (subs == 10) res["delivered_over_committed"] = ratio;
    }
    say("\ndelivered_over_committed is the 10-subscriber row (goal ≥ 0.99 at PostgreSQL's max rate).\n");
}

}  // namespace pglive::bench
