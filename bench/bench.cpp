// bench.cpp — pglive's benchmarks: capture overhead, commit→client latency, fan-out (and Nchan's),
// idle RSS and 50k subscribers, slow client. `pglive_bench [--out FILE.md] [--json FILE.json]`;
// BENCH_ONLY=capture,latency,sustained,fanout|fanout1k|fanout10k,rss,conns50k,slow,nchan runs only those,
// BENCH_SKIP_CAPTURE=1 skips §1, BENCH_SECS=N sets §1's duration per case, BENCH_CONNS=N the 50k
// scenario's target, BENCH_NCHAN_WORKERS=N nginx's worker_processes (default 1).
#include <sys/resource.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "capture/admin.h"
#include "capture/cluster.h"
#include "nchan.h"
#include "support/process.h"
#include "wsload.h"

namespace pglive::bench {
namespace {

using json = nlohmann::json;
using clk = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---------- database load ----------

std::string row_text(size_t n) { return std::string(n, 'x'); }

// `clients` threads committing `sql` (one text parameter) for `secs`; returns commits/s.
double run_writers(const std::string& conninfo, const std::string& sql, int clients, double secs,
                   int64_t* committed = nullptr, double rate = 0, size_t value_bytes = 160) {
    std::atomic<int64_t> total{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    auto start = clk::now();
    for (int i = 0; i < clients; ++i)
        ts.emplace_back([&] {
            pqxx::connection c(conninfo);
            c.prepare("w", sql);
            std::string v = row_text(value_bytes);
            int64_t n = 0;
            auto t0 = clk::now();
            while (!stop.load(std::memory_order_relaxed)) {
                if (rate > 0) {  // paced: the n-th commit is due at t0 + n/rate
                    auto due = t0 + std::chrono::microseconds(int64_t(n * 1e6 * clients / rate));
                    while (clk::now() < due) std::this_thread::sleep_until(due);
                }
                pqxx::work w(c);
                w.exec_prepared("w", v);
                w.commit();
                ++n;
                total.fetch_add(1, std::memory_order_relaxed);
                if (std::chrono::duration<double>(clk::now() - start).count() >= secs) break;
            }
        });
    for (auto& t : ts) t.join();
    double el = std::chrono::duration<double>(clk::now() - start).count();
    if (committed) *committed = total.load();
    return total.load() / el;
}

void exec(const std::string& conninfo, const std::string& sql) {
    pqxx::connection c(conninfo);
    pqxx::nontransaction n(c);
    n.exec(sql);
}

struct pct {
    double p50 = 0, p99 = 0, max = 0;
};
pct percentiles(std::vector<double> v) {
    pct r;
    if (v.empty()) return r;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[std::min(v.size() - 1, size_t(q * (v.size() - 1) + 0.5))]; };
    r.p50 = at(0.5), r.p99 = at(0.99), r.max = v.back();
    return r;
}

int64_t vm_rss_kib(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
    return -1;
}

// VmRSS once it has not moved by more than 0.5% for 300 ms (the server settling its buffers
// after a burst of connections), or after 5 s.
int64_t settled_rss_kib(pid_t pid) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int64_t last = vm_rss_kib(pid);
    auto since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        int64_t now = vm_rss_kib(pid);
        if (std::abs(now - last) > last / 200) last = now, since = std::chrono::steady_clock::now();
        else if (std::chrono::steady_clock::now() - since >= std::chrono::milliseconds(300)) return now;
    }
    return last;
}

std::string shell_line(const char* cmd) {
    std::string out;
    if (FILE* p = popen(cmd, "r")) {
        char b[512];
        while (fgets(b, sizeof b, p)) out += b;
        pclose(p);
    }
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::ostringstream report;
void say(const std::string& s) {
    std::cout << s << std::endl;
    report << s << "\n";
}
std::string f1(double x) {
    char b[64];
    std::snprintf(b, sizeof b, "%.1f", x);
    return b;
}
std::string f2(double x) {
    char b[64];
    std::snprintf(b, sizeof b, "%.2f", x);
    return b;
}

// Waits until the clients' patch count (or another counter) stops growing or reaches `want`.
void drain(load& l, int64_t want, std::chrono::seconds deadline, int64_t load_stats::*counter = &load_stats::patches) {
    auto until = clk::now() + deadline;
    int64_t last = -1;
    auto last_change = clk::now();
    while (clk::now() < until) {
        int64_t n = 0;
        l.sync([&] { n = l.st.*counter; });
        if (n >= want) return;
        if (n != last) last = n, last_change = clk::now();
        else if (clk::now() - last_change > 2s) return;
        std::this_thread::sleep_for(20ms);
    }
}

// Paced single-row INSERTs by 4 writers for 5 s (one durable writer cannot reach 1k tx/s),
// then the delivery each of `ready` subscribers of `l` saw: latency percentiles and the
// fraction of the expected patches that arrived.
struct paced_result {
    int64_t committed = 0;
    double delivered = 0;  // delivered / expected
    pct p;
};
paced_result paced_run(load& l, const std::string& ci, int64_t ready, double rate) {
    l.sync([&] { l.st.record_latency = true; });
    paced_result r;
    run_writers(ci, "INSERT INTO b_live(v) VALUES ($1)", 4, 5, &r.committed, rate);
    drain(l, r.committed * ready, std::chrono::seconds(10));
    std::vector<double> lat;
    int64_t got = 0;
    l.sync([&] {
        lat = l.st.latency_ms;
        got = l.st.patches;
    });
    r.p = percentiles(lat);
    r.delivered = double(got) / double(r.committed * std::max<int64_t>(ready, 1));
    return r;
}



// CPU seconds of the load client's thread (run inside load::sync).
double thread_cpu_s() {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Between scenarios: a checkpoint (so no scenario pays for the previous one's dirty pages), then
// until serve is idle (its CPU time still for 200 ms), at most 10 s.
void settle(const std::string& ci, pid_t serve_pid) {
    exec(ci, "CHECKPOINT");
    auto until = clk::now() + 10s;
    double last = proc_cpu_s(serve_pid);
    while (clk::now() < until) {
        std::this_thread::sleep_for(200ms);
        double now = proc_cpu_s(serve_pid);
        if (now - last < 0.005) return;
        last = now;
    }
}

// `subs` subscribers of public.b_live (emptied first) on a serve of their own, fed by paced
// INSERT writers at rising rates, 3 s each, until a rate is not kept up: the fan-out figure is
// the highest delivered rate at which every subscriber got every patch, with no resync and the
// last patch within 1 s of the last commit. (Writers as fast as they can overload any fan-out of
// this size: the queues overflow, every subscriber is resynced with a snapshot of a table that
// grows meanwhile, and the figure then measures snapshots, not fan-out.) Bounded: ≤ 30 s to
// subscribe, then ≤ 8 s per rate.
struct fanout_result {
    double rate = 0;        // msgs/s at the highest rate kept up
    double tx_rate = 0;     // that rate's committed tx/s
    std::string line;
};
fanout_result fanout_run(const std::string& ci, int subs, const std::vector<double>& rates) {
    // A serve of its own: an overloaded serve goes on draining its queues after the clients
    // leave, which would land on the next scenario.
    auto srv = test::start_serve(ci, {"--anonymous-topics", "*"});
    pid_t serve_pid = srv.proc->pid();
    load l(srv.port);
    exec(ci, "TRUNCATE b_live");
    auto o0 = clk::now();
    int64_t ready = l.open(subs, "public.b_live", false, 30s);
    double open_s = std::chrono::duration<double>(clk::now() - o0).count();
    l.set_coalesce(10ms);  // throughput only: fewer, fuller reads on the client's side
    fanout_result r;
    std::string steps;
    auto deadline = clk::now() + 50s;
    for (double rate : rates) {
        if (clk::now() > deadline) break;
        int64_t got0 = 0, resync0 = 0;
        double client0 = 0, serve0 = proc_cpu_s(serve_pid);
        l.sync([&] {
            got0 = l.st.patches;
            resync0 = l.st.snapshots;
            client0 = thread_cpu_s();
        });
        int64_t committed = 0;
        auto t0 = now_us();
        // A 120-character v: the row is ~200 bytes in the table, its patch frame ~290 bytes.
        double tps = run_writers(ci, "INSERT INTO b_live(v) VALUES ($1)", 6, 3, &committed, rate, 120);
        auto t1 = now_us();
        drain(l, got0 + committed * ready, 5s);
        int64_t got = 0, last = 0, resync = 0;
        double client1 = 0;
        l.sync([&] {
            got = l.st.patches - got0;
            last = l.st.last_rx_us;
            resync = l.st.snapshots - resync0;
            client1 = thread_cpu_s();
        });
        double serve_cpu = proc_cpu_s(serve_pid) - serve0;
        double el = last > t0 ? (last - t0) / 1e6 : 0;
        double lag = last > t1 ? (last - t1) / 1e6 : 0;
        double msgs = got / std::max(el, 1e-3);
        bool kept = got == committed * ready && resync == 0 && lag < 1.0;
        steps += "| " + f1(tps) + " | " + std::to_string(got) + " / " + std::to_string(committed * ready) + " | " +
                 std::to_string(resync) + " | " + f2(lag) + " | " + f1(msgs) + " | " +
                 f2(got ? serve_cpu / got * 1e6 : 0) + " | " + f1(client1 - client0) + " | " +
                 (kept ? "yes" : "**no**") + " |\n";
        if (!kept) break;
        if (msgs > r.rate) {
            r.rate = msgs;
            r.tx_rate = tps;
        }
    }
    r.line = "**" + std::to_string(subs) + " subscribers** (" + std::to_string(ready) + " subscribed in " +
             f1(open_s) + " s):\n\n| committed tx/s | patches delivered / expected | resyncs | last patch after "
             "last commit, s | delivered msgs/s | serve CPU µs per patch | client CPU s | kept up |\n"
             "| --- | --- | --- | --- | --- | --- | --- | --- |\n" + steps +
             "\nHighest rate kept up: " + f1(r.tx_rate) + " tx/s = **" + f1(r.rate) + " msgs/s**.\n";
    srv.proc->signal(SIGTERM);
    srv.proc->wait_exit(10s);  // then the process's destructor kills it
    return r;
}

}  // namespace
}  // namespace pglive::bench

int main(int argc, char** argv) {
    using namespace pglive;
    using namespace pglive::bench;
    std::string out_md = "docs/BENCHMARKS.md", out_json = "build/bench/results.json";
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--out") out_md = argv[i + 1];
        else if (a == "--json") out_json = argv[i + 1];
        else {
            std::cerr << "pglive_bench: unknown option '" << a << "': expected --out FILE or --json FILE\n";
            return 2;
        }
    }
    double secs = 8;
    if (const char* e = getenv("BENCH_SECS")) secs = std::atof(e);

    // Scenarios to run: BENCH_ONLY=a,b,… (capture, latency, sustained, fanout = fanout1k + fanout10k,
    // rss, conns50k, slow, nchan); default all. BENCH_SKIP_CAPTURE=1 drops capture either way.
    std::string only = getenv("BENCH_ONLY") ? getenv("BENCH_ONLY") : "";
    auto want = [&](const std::string& name) {
        if (name == "capture" && getenv("BENCH_SKIP_CAPTURE")) return false;
        if (only.empty()) return true;
        std::stringstream ss(only);
        for (std::string t; std::getline(ss, t, ',');)
            if (t == name || (t == "fanout" && name.rfind("fanout", 0) == 0)) return true;
        return false;
    };

    // 50k client sockets here and 50k in serve (which inherits the limit): raise soft and hard
    // to fs.nr_open. Raising the hard limit needs CAP_SYS_RESOURCE; without it (some containers)
    // the soft limit goes up to the hard one and the report shows what was had.
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    {
        rlim_t nr_open = 1048576;
        std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
        rlimit up{nr_open, nr_open};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
        else {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }

    json res = {{"capture_tps_no_trigger_c4", nullptr}, {"capture_tps_naive_notify_c4", nullptr},
                {"capture_tps_pglive_notify_c4", nullptr}, {"capture_tps_pglive_poll_c4", nullptr},
                {"batch_rows_per_s_no_trigger", nullptr}, {"batch_rows_per_s_pglive", nullptr},
                {"delivered_over_committed", nullptr}, {"latency_p50_ms", nullptr}, {"latency_p99_ms", nullptr},
                {"fanout_msgs_per_s_1k", nullptr}, {"fanout_msgs_per_s_10k", nullptr},
                {"fanout_nchan_msgs_per_s_1k", nullptr}, {"rss_kib_per_idle_conn", nullptr},
                {"connections_held", nullptr}, {"slow_client_p99_ratio", nullptr}};

    std::time_t now = std::time(nullptr);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    say("# pglive benchmarks\n");
    say("Date: " + std::string(date) + ". Machine: " + shell_line("nproc") + " cores, " +
        shell_line("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'") + ", " +
        shell_line("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo") + ".");
    say("Command: `./build/pglive_bench --out " + out_md + " --json " + out_json +
        "` (`make bench`). One private PostgreSQL 15 (shared_buffers=256MB, synchronous_commit=on), "
        "the real `pglive serve` binary, the load client (bench/wsload.cpp: one epoll thread, raw sockets) "
        "on the same 2 cores." +
        std::string(only.empty() ? "" : " Scenarios: BENCH_ONLY=" + only + ".") +
        (getenv("BENCH_SKIP_CAPTURE") ? " BENCH_SKIP_CAPTURE=1." : "") + "\n");

    cluster pg(cluster::options{.settings = {"shared_buffers=256MB"}});
    pg.start();
    std::string ci = pg.conninfo();
    {
        pqxx::connection c(ci);
        install_schema(c);
    }
    exec(ci,
         "CREATE TABLE b_none (id bigserial PRIMARY KEY, v text);"
         "CREATE TABLE b_naive (id bigserial PRIMARY KEY, v text);"
         "CREATE TABLE b_pglive (id bigserial PRIMARY KEY, v text);"
         "CREATE TABLE b_live (id bigserial PRIMARY KEY, v text);"
         "CREATE FUNCTION b_naive_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
         " BEGIN PERFORM pg_notify('x', row_to_json(NEW)::text); RETURN NEW; END $$;"
         "CREATE TRIGGER b_naive_t AFTER INSERT ON b_naive FOR EACH ROW EXECUTE FUNCTION b_naive_notify();");
    {
        pqxx::connection c(ci);
        attach(c, "public.b_pglive");
        attach(c, "public.b_live");  // delivery scenarios: small snapshots, away from the capture table
    }

    // ---- 1. capture overhead ----
    auto ins = [](const std::string& t) { return "INSERT INTO " + t + "(v) VALUES ($1)"; };
    const bool capture = want("capture");
    if (capture) {
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
    auto goal = [](double r, double g) { return f2(r) + "× (goal ≥ " + f2(g) + "×: " + (r >= g ? "met" : "MISSED") + ")"; };
    say("Ratios: pglive notify / naive notify = " + goal(pl_notify / naive, 1.0) +
        "; pglive poll / no trigger = " + goal(pl_poll / none, 0.7) +
        "; 100-row pglive / no trigger = " + goal(batch_pl / batch_none, 0.5) + ".\n");

    // The capture tables' rows and their outbox history are not needed by what follows.
    exec(ci, "TRUNCATE b_none, b_naive, b_pglive; SELECT pglive.prune(null, 0)");
    exec(ci, "VACUUM ANALYZE pglive.outbox, pglive.tx");  // not in a multi-statement string: no VACUUM in a transaction
    }  // capture
    double fanout_1k = 0;  // for the Nchan ratio
    // ---- 2..5 need one serve ----
    if (want("latency") || want("sustained") || want("fanout1k") || want("fanout10k") || want("rss") || want("conns50k") ||
        want("slow")) {
    auto s = test::start_serve(ci, {"--anonymous-topics", "*"});
    pid_t serve_pid = s.proc->pid();

    if (want("latency")) {
    say("## 2. Commit → client latency (paced single-row INSERTs, 5 s; latency = receive time − patch `ts`)\n");
    say("| subscribers | rate tx/s | committed | delivered/expected | p50 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- | --- |");
    std::vector<int> sub_counts = {1, 100};
    std::vector<double> rates = {100.0, 1000.0, 5000.0};
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
    for (int subs : sub_counts)
        for (double rate : rates) {
            load l(s.port);
            int64_t ready = (exec(ci, "TRUNCATE b_live"), l.open(subs, "public.b_live"));
            settle(ci, serve_pid);
            auto r = paced_run(l, ci, ready, rate);
            auto& p = r.p;
            int64_t committed = r.committed;
            double ratio = r.delivered;
            say("| " + std::to_string(ready) + " | " + f1(rate) + " | " + std::to_string(committed) + " | " +
                f2(ratio) + " | " + f2(p.p50) + " | " + f2(p.p99) + " | " + f2(p.max) + " |");
            if (subs == 100 && rate == 1000.0) {
                res["latency_p50_ms"] = p.p50;
                res["latency_p99_ms"] = p.p99;
            }
        }
    {
        // What a commit itself costs here: the floor under every figure above (a patch is
        // delivered after the writer's commit and the sequencer's own durable commit).
        double one = run_writers(ci, "INSERT INTO b_none(v) VALUES ($1)", 1, 2);
        say("\nGoals at 1k tx/s, 100 subscribers: p50 ≤ 1 ms, p99 ≤ 3 ms. For reference, one client's durable "
            "single-row INSERT commits take " + f2(1000.0 / std::max(one, 1.0)) + " ms each here (" + f1(one) +
            " tx/s, no trigger): a patch waits for two such WAL flushes, the writer's and the sequencer's.\n");
    }
    }  // latency

    if (want("sustained")) {
    say("## 3a. Sustained delivery at PostgreSQL's own pace (4 INSERT writers as fast as they can, 5 s)\n");
    say("| subscribers | committed tx/s | patches delivered / expected | resyncs | last patch after last commit, s |\n"
        "| --- | --- | --- | --- | --- |");
    for (int subs : {10, 100}) {
        settle(ci, serve_pid);
        load l(s.port);
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
    }  // sustained

    if (want("fanout1k") || want("fanout10k")) {
    say("## 3b. Fan-out (1,000 and 10,000 subscribers of one topic, ~290-byte patch frames; 6 INSERT writers "
        "paced at rising rates, 3 s each, each size on a fresh `pglive serve`; msgs/s = patches received / (last "
        "receive − first commit); a rate is kept up when every patch arrived, with no resync, the last within "
        "1 s of the last commit)\n");
    for (int subs : {1000, 10000}) {
        if (!want(subs == 1000 ? "fanout1k" : "fanout10k")) continue;
        auto r = subs == 1000 ? fanout_run(ci, subs, {200, 400, 600, 800, 1000, 1300, 1600, 2000})
                              : fanout_run(ci, subs, {20, 40, 60, 80, 100, 130, 160, 200});
        say(r.line);
        res[subs == 1000 ? "fanout_msgs_per_s_1k" : "fanout_msgs_per_s_10k"] = r.rate;
        fanout_1k = subs == 1000 ? r.rate : fanout_1k;
    }
    say("");
    }  // fanout

    if (want("rss") || want("conns50k")) say("## 4. Connections: RSS per idle WebSocket connection, and 50,000 subscribers\n");
    if (want("rss")) {
        int64_t before = vm_rss_kib(serve_pid);
        load l(s.port);
        int64_t held = l.open(10000, "");
        int64_t after = settled_rss_kib(serve_pid);
        double per = held > 0 ? double(after - before) / held : 0;
        say("Serve VmRSS " + std::to_string(before) + " KiB before, " + std::to_string(after) + " KiB with " +
            std::to_string(held) + " idle connections (RLIMIT_NOFILE " + std::to_string(rl.rlim_cur) + "): **" +
            f2(per) + " KiB per connection** (goal ≤ 10 KiB).\n");
        if (held > 0) res["rss_kib_per_idle_conn"] = per;
    }  // rss
    if (want("conns50k")) {
        // The client and serve each need one descriptor per connection, under RLIMIT_NOFILE (raised
        // above; serve inherits it): the client keeps 256 for itself (the INSERT's connection…).
        int target = getenv("BENCH_CONNS") ? std::max(1, std::atoi(getenv("BENCH_CONNS"))) : 50000;
        int n = int(std::min<rlim_t>(rlim_t(target), rl.rlim_cur > 512 ? rl.rlim_cur - 256 : 0));
        exec(ci, "TRUNCATE b_live");
        auto srv = test::start_serve(ci, {"--anonymous-topics", "*"});  // its own: a clean RSS baseline
        pid_t pid50k = srv.proc->pid();
        int64_t before = vm_rss_kib(pid50k);
        load l(srv.port);
        auto o0 = clk::now();
        int64_t held = l.open(n, "public.b_live", false, 40s, 1024);
        double open_s = std::chrono::duration<double>(clk::now() - o0).count();
        int64_t after = settled_rss_kib(pid50k);
        std::map<std::string, int64_t> why;
        l.sync([&] {
            why = l.st.fail_reasons;
            l.st.record_latency = true;
        });
        auto t0 = now_us();
        exec(ci, "INSERT INTO b_live(v) VALUES ('" + row_text(120) + "')");
        drain(l, held, 15s);
        std::vector<double> lat;
        int64_t got = 0, last = 0, closed = 0;
        l.sync([&] {
            lat = l.st.latency_ms;
            got = l.st.patches;
            last = l.st.last_rx_us;
            closed = l.st.closed;
        });
        auto p = percentiles(lat);
        std::string limit;
        if (n < target)
            limit = " Only " + std::to_string(n) + " of the " + std::to_string(target) +
                    " were attempted: RLIMIT_NOFILE is " + std::to_string(rl.rlim_cur) +
                    " here and could not be raised (setrlimit above the hard limit needs CAP_SYS_RESOURCE, which "
                    "this container does not grant), and the client and serve each need one descriptor per "
                    "connection.";
        std::string fails;
        for (auto& [w, k] : why) fails += (fails.empty() ? "" : "; ") + std::to_string(k) + " × " + w;
        say("Subscribers of public.b_live (empty): **" + std::to_string(held) + " connections held** (got their "
            "snapshot) of " + std::to_string(n) + " opened, in " + f1(open_s) + " s" +
            (fails.empty() ? "" : " (failed: " + fails + ")") + "." + limit + " Serve VmRSS " +
            std::to_string(after) + " KiB with them, " + std::to_string(before) + " KiB before (a serve of its own): " +
            f2(held > 0 ? double(after - before) / held : 0) + " KiB per subscribed connection.\n");
        say("One INSERT then: " + std::to_string(got) + " patches received over " + f1(last > t0 ? (last - t0) / 1e3 : 0) +
            " ms" + (closed ? " (" + std::to_string(closed) + " connections closed by the server)" : "") +
            "; broadcast latency (receive − ts) over the held connections: p50 " + f1(p.p50) + " ms, p99 " +
            f1(p.p99) + " ms, max " + f1(p.max) + " ms.\n");
        res["connections_held"] = held;
        srv.proc->signal(SIGTERM);
        srv.proc->wait_exit(10s);
    }  // conns50k

    if (want("slow")) {
    say("## 5. Slow client (1,000 subscribers, 100 tx/s paced for 5 s = 100k patches/s; in the second run one of "
        "them stops reading)\n");
    {
        double p99[2] = {0, 0};
        for (int stalled = 0; stalled < 2; ++stalled) {
            settle(ci, serve_pid);
            load l(s.port);
            int64_t ready = (exec(ci, "TRUNCATE b_live"), l.open(999, "public.b_live"));
            load stall_l(s.port);
            if (stalled) stall_l.open(1, "public.b_live", true);
            auto r = paced_run(l, ci, ready, 100);
            auto& p = r.p;
            p99[stalled] = p.p99;
            say(std::string(stalled ? "with" : "without") + " a stalled client: p50 " + f2(p.p50) + " ms, p99 " +
                f2(p.p99) + " ms, max " + f2(p.max) + " ms, delivered/expected " + f2(r.delivered) + ".");
        }
        double r = p99[0] > 0 ? p99[1] / p99[0] : 0;
        say("\nOthers' p99 with / without: **" + f2(r) + "**.\n");
        res["slow_client_p99_ratio"] = r;
    }
    }  // slow
    s.proc->signal(SIGTERM);
    s.proc->wait_exit(10s);
    }  // serve

    if (want("nchan")) {
    // nginx with one worker and with two (pglive serve runs two I/O threads): the better one is
    // the reference.
    std::vector<int> worker_counts = {1, 2};
    if (getenv("BENCH_NCHAN_WORKERS")) worker_counts = {std::max(1, std::atoi(getenv("BENCH_NCHAN_WORKERS")))};
    say("## 6. Nchan: the same fan-out on nginx + Nchan (1,000 WebSocket subscribers of one channel, the same "
        "load client; 3 publisher threads POSTing a ~290-byte message shaped like a pglive patch frame, each "
        "on a keep-alive connection, as fast as they can for 5 s)\n");
    if (auto why = nchan_server::missing(); !why.empty()) {
        say("Not measured: " + why + " (`make bench` installs both). fanout_nchan_msgs_per_s_1k is null.\n");
    } else {
      double best = 0;
      for (int workers : worker_counts) {
        nchan_server ng(workers);
        load l(ng.port(), load::peer::nchan, "/sub/live");
        auto o0 = clk::now();
        int64_t ready = l.open(1000, "", false, 30s);
        double open_s = std::chrono::duration<double>(clk::now() - o0).count();
        l.set_coalesce(10ms);
        double ng0 = ng.cpu_s(), client0 = 0;
        l.sync([&] { client0 = thread_cpu_s(); });
        const std::string v = row_text(120);
        auto body = [&v](int64_t n) {
            std::string id = std::to_string(n + 1);
            return R"({"type":"patch","sub":"public.b_live","topic":"public.b_live","pos":")" + id + R"(","ts":")" +
                   format_ts_us(now_us()) + R"(","patch":[{"op":"add","path":"/)" + id + R"(","value":{"id":)" + id +
                   R"(,"v":")" + v + R"("}}]})";
        };
        auto t0 = now_us();
        int64_t published = publish_for(ng.port(), "live", 3, 5, body);
        double pub_s = (now_us() - t0) / 1e6;
        drain(l, published * ready, 20s, &load_stats::data_frames);
        int64_t got = 0, last = 0, bytes = 0, closed = 0;
        double client1 = 0;
        l.sync([&] {
            got = l.st.data_frames;
            last = l.st.last_rx_us;
            bytes = l.st.data_bytes;
            closed = l.st.closed;
            client1 = thread_cpu_s();
        });
        double ng1 = ng.cpu_s();
        double el = last > t0 ? (last - t0) / 1e6 : 0;
        double rate = got / std::max(el, 1e-3);
        say("nginx " + shell_line("nginx -v 2>&1 | sed 's/.*nginx\\///'") + ", Nchan " +
            shell_line("dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null") + ", `worker_processes " +
            std::to_string(workers) + "` (pglive serve runs 2 I/O threads; BENCH_NCHAN_WORKERS=N changes it).\n");
        say("- **1000 subscribers** (" + std::to_string(ready) + " upgraded in " + f1(open_s) + " s): published " +
            std::to_string(published) + " (" + f1(published / std::max(pub_s, 1e-3)) + " msgs/s accepted); delivered " +
            std::to_string(got) + " messages (mean " + std::to_string(got ? bytes / got : 0) + " bytes) = " +
            f2(double(got) / double(std::max<int64_t>(published * ready, 1))) + " of expected, over " + f1(el) +
            " s from the first publish to the last receive: **" + f1(rate) + " msgs/s**" +
            (closed ? "; closed by the server " + std::to_string(closed) : "") + ". CPU meanwhile: nginx " +
            f1(ng1 - ng0) + " s, load client thread " + f1(client1 - client0) + " s.\n");
        best = std::max(best, rate);
      }
        double rate = best;
        res["fanout_nchan_msgs_per_s_1k"] = rate;
        if (fanout_1k > 0 && rate > 0)
            say("pglive / Nchan (its better worker count) at 1,000 subscribers: **" + f2(fanout_1k / rate) +
                "×** (goal ≥ 2×: " + (fanout_1k / rate >= 2 ? "met" : "MISSED") + ").\n");
        else say("pglive / Nchan: not computed (the pglive 1k fan-out did not run in this run).\n");
    }
    }  // nchan

    {
        // The hand-written part: what bounds each figure and what was tried (kept across runs).
        std::ifstream notes(std::string(PGLIVE_SOURCE_DIR) + "/bench/analysis.md");
        if (notes) report << "\n" << notes.rdbuf();
    }
    std::ofstream(out_md) << report.str();
    auto dir = out_json.substr(0, out_json.find_last_of('/'));
    if (dir != out_json) std::system(("mkdir -p '" + dir + "'").c_str());
    std::ofstream(out_json) << res.dump(2) << "\n";
    std::cout << res.dump(2) << std::endl;
    return 0;
}
