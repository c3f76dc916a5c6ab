// bench.cpp — the driver of pglive's benchmarks: options, the database, then one function per scenario.
// The scenarios (common.h): capture overhead, commit→client latency, fan-out (and Nchan's), idle RSS and
// 50k subscribers, slow client, aggregate shapes. `pglive_bench [--out FILE.md] [--json FILE.json]`;
// BENCH_ONLY=capture,latency,sustained,fanout|fanout1k|fanout10k,rss,conns50k,slow,nchan,aggshapes runs only those,
// BENCH_SKIP_CAPTURE=1 skips §1, BENCH_SECS=N sets §1's duration per case, BENCH_CONNS=N the 50k
// scenario's target, BENCH_NCHAN_WORKERS=N nginx's worker_processes (default 1), BENCH_SERVE_LOG=FILE
// appends the shared serve's log to FILE after §2, BENCH_LAT_SUBS / BENCH_LAT_RATE §2's lists.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <sstream>
#include <string>

#include "capture/admin.h"
#include "pgtmp/cluster.h"
#include "common.h"
#include "support/process.h"

namespace pglive::bench {
namespace {

// 50k client sockets here and 50k in serve (which inherits the limit): raise soft and hard
// to fs.nr_open. Raising the hard limit needs CAP_SYS_RESOURCE; without it (some containers)
// the soft limit goes up to the hard one and the report shows what was had.
rlimit raise_nofile() {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t nr_open = 1048576;
    std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
    rlimit up{nr_open, nr_open};
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) return up;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    return rl;
}

// The report's title, date, machine and command.
void say_header(const std::string& out_md, const std::string& out_json, const std::string& only) {
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
}

// The schema, and the tables the scenarios write: b_none (no trigger), b_naive (a NOTIFY trigger),
// b_pglive (attached: capture), b_live (attached: delivery).
void create_tables(const std::string& ci) {
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

    rlimit rl = raise_nofile();

    json res = {{"capture_tps_no_trigger_c4", nullptr}, {"capture_tps_naive_notify_c4", nullptr},
                {"capture_tps_pglive_notify_c4", nullptr}, {"capture_tps_pglive_poll_c4", nullptr},
                {"batch_rows_per_s_no_trigger", nullptr}, {"batch_rows_per_s_pglive", nullptr},
                {"delivered_over_committed", nullptr}, {"latency_p50_ms", nullptr}, {"latency_p99_ms", nullptr},
                {"fanout_msgs_per_s_1k", nullptr}, {"fanout_msgs_per_s_10k", nullptr},
                {"fanout_nchan_msgs_per_s_1k", nullptr}, {"rss_kib_per_idle_conn", nullptr},
                {"connections_held", nullptr}, {"slow_client_p99_ratio", nullptr},
                {"row_shape_us_per_tx", nullptr}, {"aggregate_shape_us_per_tx", nullptr}};

    say_header(out_md, out_json, only);

    cluster pg(cluster::options{.settings = {"shared_buffers=256MB"}});
    pg.start();
    std::string ci = pg.conninfo();
    create_tables(ci);

    run ctx{.ci = ci, .res = res, .secs = secs, .rl = rl};
    if (want("capture")) capture(ctx);
    // ---- 2..5 share one serve (fan-out and the 50k subscribers start their own beside it) ----
    if (want("latency") || want("sustained") || want("fanout1k") || want("fanout10k") || want("rss") || want("conns50k") ||
        want("slow")) {
        auto s = test::start_serve(ci, {"--anonymous-topics", "*"});
        ctx.port = s.port;
        ctx.serve_pid = s.proc->pid();
        // BENCH_SERVE_LOG=FILE: serve's output after each scenario (what it logged while a figure went wrong).
        auto keep_log = [&](const char* scenario) {
            if (const char* f = getenv("BENCH_SERVE_LOG")) {
                std::ofstream o(f, std::ios::app);
                o << "---- after " << scenario << "\n" << s.proc->output();
            }
        };
        if (want("latency")) latency(ctx), keep_log("latency");
        if (want("sustained")) sustained(ctx);
        if (want("fanout1k") || want("fanout10k")) fanout(ctx, want("fanout1k"), want("fanout10k"));
        if (want("rss") || want("conns50k")) connections(ctx, want("rss"), want("conns50k"));
        if (want("slow")) slow_client(ctx);
        s.proc->signal(SIGTERM);
        s.proc->wait_exit(std::chrono::seconds(10));
        ctx.port = 0, ctx.serve_pid = -1;
    }
    if (want("nchan")) nchan(ctx);
    if (want("aggshapes")) aggregate_shapes(ctx);

    {
        // The hand-written part: what bounds each figure and what was tried (kept across runs).
        std::ifstream notes(std::string(PGLIVE_SOURCE_DIR) + "/bench/analysis.md");
        if (notes) report() << "\n" << notes.rdbuf();
    }
    std::ofstream(out_md) << report().str();
    auto dir = out_json.substr(0, out_json.find_last_of('/'));
    if (dir != out_json) std::system(("mkdir -p '" + dir + "'").c_str());
    std::ofstream(out_json) << ctx.res.dump(2) << "\n";
    std::cout << ctx.res.dump(2) << std::endl;
    return 0;
}
