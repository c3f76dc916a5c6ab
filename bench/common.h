// common.h — what the bench's scenarios share: the run they write into, database load, percentiles, RSS, the report.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <sstream>
#include <map>
#include <string>
#include <vector>

#include "wsload.h"

namespace pglive::bench {

using json = nlohmann::json;
using clk = std::chrono::steady_clock;

// One run of the bench: what every scenario reads, and the results.json it fills.
struct run {
    std::string ci;          // the private PostgreSQL's conninfo
    json res;                // results.json: a scenario sets its names
    double secs = 8;         // §1's duration per case (BENCH_SECS)
    rlimit rl{};             // RLIMIT_NOFILE as raised by main
    uint16_t port = 0;       // the shared `pglive serve` of §2..5 (0 outside them)
    pid_t serve_pid = -1;
    double fanout_1k = 0;    // §3b's 1k figure, for §6's ratio
};

// One function per scenario (BENCH_ONLY names in brackets), each printing its section.
void capture(run& ctx);                                   // §1 [capture]
void latency(run& ctx);                                   // §2 [latency]
void sustained(run& ctx);                                 // §3a [sustained]
void fanout(run& ctx, bool one_k, bool ten_k);            // §3b [fanout1k, fanout10k]
void connections(run& ctx, bool rss, bool conns50k);      // §4 [rss, conns50k]
void slow_client(run& ctx);                               // §5 [slow]
void nchan(run& ctx);                                     // §6 [nchan]
void aggregate_shapes(run& ctx);                          // §7 [aggshapes]

// ---------- database load ----------

std::string row_text(size_t n);
// `clients` threads committing `sql` (one text parameter) for `secs`; returns commits/s.
// With `acks`, `sql` returns one number (RETURNING id): each commit's (that number, now_us() when
// its COMMIT returned) is appended.
double run_writers(const std::string& conninfo, const std::string& sql, int clients, double secs,
                   int64_t* committed = nullptr, double rate = 0, size_t value_bytes = 160,
                   std::vector<std::pair<int64_t, int64_t>>* acks = nullptr);
void exec(const std::string& conninfo, const std::string& sql);

// ---------- measuring ----------

struct pct {
    double p50 = 0, p99 = 0, p999 = 0, max = 0;
};
pct percentiles(std::vector<double> v);

// §4's kernel floor (floor.cpp): one `bytes`-byte write() to each of n loopback TCP connections
// from `writers` threads, read by one epoll thread; the median over `rounds` of each round's
// p50 and p99 receive time after the first write. n may come out lower (descriptors).
struct floor_result {
    int n = 0;
    double p50_ms = 0, p99_ms = 0;
};
floor_result loopback_floor(int n, int writers, int rounds = 5, size_t bytes = 300);
// §2's floor (floor.cpp): 4 writers paced at `rate` commit single-row INSERTs into b_none (no
// trigger) for `secs`; as each COMMIT returns, its time goes down a pipe to a relay thread that
// writes a `bytes`-byte frame to each of n loopback TCP connections, read by one epoll thread.
// Receive time − commit time over every frame (max −1: frames were lost).
pct commit_floor(const std::string& conninfo, int n, double rate, double secs = 5, size_t bytes = 300);

int64_t vm_rss_kib(pid_t pid);
// VmRSS once it has not moved by more than 0.5% for 300 ms (the server settling its buffers
// after a burst of connections), or after 5 s.
int64_t settled_rss_kib(pid_t pid);
// CPU seconds of the load client's thread (run inside load::sync).
double thread_cpu_s();
std::string shell_line(const char* cmd);

// Waits until the clients' patch count (or another counter) stops growing or reaches `want`.
void drain(load& l, int64_t want, std::chrono::seconds deadline, int64_t load_stats::*counter = &load_stats::patches);

// Paced single-row INSERTs by 4 writers for 5 s (one durable writer cannot reach 1k tx/s),
// then the delivery each of `ready` subscribers of `l` saw: latency percentiles and the
// fraction of the expected patches that arrived.
struct paced_result {
    int64_t committed = 0;
    double delivered = 0;  // delivered / expected
    pct p;            // receive time − the patch's ts (the writer's capture, before its own commit's WAL flush)
    pct from_commit;  // receive time − when the writer's COMMIT returned (matched by row key)
};
paced_result paced_run(load& l, const std::string& ci, int64_t ready, double rate);

// Between scenarios: a checkpoint (so no scenario pays for the previous one's dirty pages), then
// until serve is idle (its CPU time still for 200 ms), at most 10 s.
void settle(const std::string& ci, pid_t serve_pid);

// ---------- serve's own stage timings (pglive_stage_seconds on /metrics) ----------

// Cumulative bucket counts per stage: stage → (upper bound in s, +Inf as infinity; count).
using stage_buckets = std::map<std::string, std::vector<std::pair<double, double>>>;
stage_buckets read_stage_buckets(uint16_t port);
// The q-quantile in ms of the observations of `stage` between two readings, interpolated within
// its bucket (a bucket's resolution: 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 50 ms…); -1 without any.
double stage_quantile_ms(const stage_buckets& before, const stage_buckets& after, const std::string& stage, double q);
inline const char* const stage_names[] = {"sequenced", "read", "hub", "handed", "written"};

// ---------- the report ----------

// Prints a line and appends it to the report (docs/BENCHMARKS.md).
void say(const std::string& s);
std::ostringstream& report();
std::string f1(double x);
std::string f2(double x);

}  // namespace pglive::bench
