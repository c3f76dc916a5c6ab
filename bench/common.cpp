// common.cpp — the helpers every bench scenario uses (see common.h).
#include "common.h"
#include "support/http_client.h"

#include <sys/resource.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <cmath>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <pqxx/pqxx>
#include <regex>
#include <thread>

namespace pglive::bench {

using namespace std::chrono_literals;

// ---------- serve's stage timings ----------

stage_buckets read_stage_buckets(uint16_t port) {
    stage_buckets out;
    auto r = test::http_get("127.0.0.1", port, "/metrics");
    static const std::regex line(R"re(pglive_stage_seconds_bucket\{stage="([a-z]+)",le="([^"]+)"\} ([0-9.e+]+))re");
    for (std::sregex_iterator it(r.body.begin(), r.body.end(), line), end; it != end; ++it) {
        const auto& m = *it;
        double le = m[2] == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(m[2]);
        out[m[1]].emplace_back(le, std::stod(m[3]));
    }
    return out;
}

double stage_quantile_ms(const stage_buckets& before, const stage_buckets& after, const std::string& stage, double q) {
    auto a = after.find(stage);
    if (a == after.end() || a->second.empty()) return -1;
    auto b = before.find(stage);
    auto count = [&](size_t i) {
        double was = (b != before.end() && i < b->second.size()) ? b->second[i].second : 0;
        return a->second[i].second - was;
    };
    double total = count(a->second.size() - 1);
    if (total <= 0) return -1;
    double want = q * total, low = 0, below = 0;
    for (size_t i = 0; i < a->second.size(); ++i) {
        double high = a->second[i].first, c = count(i);
        if (c >= want) {
            if (std::isinf(high)) return low * 1000;  // past the last bound: at least it
            double in = c - below;
            return (low + (in > 0 ? (want - below) / in : 0) * (high - low)) * 1000;
        }
        low = high, below = c;
    }
    return low * 1000;
}

// ---------- database load ----------

std::string row_text(size_t n) { return std::string(n, 'x'); }

double run_writers(const std::string& conninfo, const std::string& sql, int clients, double secs,
                   int64_t* committed, double rate, size_t value_bytes,
                   std::vector<std::pair<int64_t, int64_t>>* acks) {
    std::atomic<int64_t> total{0};
    std::mutex acks_mu;
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    auto start = clk::now();
    for (int i = 0; i < clients; ++i)
        ts.emplace_back([&] {
            pqxx::connection c(conninfo);
            c.prepare("w", sql);
            std::string v = row_text(value_bytes);
            int64_t n = 0;
            std::vector<std::pair<int64_t, int64_t>> mine;
            auto t0 = clk::now();
            while (!stop.load(std::memory_order_relaxed)) {
                if (rate > 0) {  // paced: the n-th commit is due at t0 + n/rate
                    auto due = t0 + std::chrono::microseconds(int64_t(n * 1e6 * clients / rate));
                    while (clk::now() < due) std::this_thread::sleep_until(due);
                }
                pqxx::work w(c);
                auto r = w.exec_prepared("w", v);
                w.commit();
                if (acks) mine.emplace_back(r[0][0].as<int64_t>(), now_us());
                ++n;
                total.fetch_add(1, std::memory_order_relaxed);
                if (std::chrono::duration<double>(clk::now() - start).count() >= secs) break;
            }
            if (acks) {
                std::lock_guard<std::mutex> g(acks_mu);
                acks->insert(acks->end(), mine.begin(), mine.end());
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

pct percentiles(std::vector<double> v) {
    pct r;
    if (v.empty()) return r;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[std::min(v.size() - 1, size_t(q * (v.size() - 1) + 0.5))]; };
    r.p50 = at(0.5), r.p99 = at(0.99), r.p999 = at(0.999), r.max = v.back();
    return r;
}

int64_t vm_rss_kib(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
    return -1;
}

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

std::ostringstream& report() {
    static std::ostringstream text;
    return text;
}
void say(const std::string& s) {
    std::cout << s << std::endl;
    report() << s << "\n";
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

void drain(load& l, int64_t want, std::chrono::seconds deadline, int64_t load_stats::*counter) {
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

paced_result paced_run(load& l, const std::string& ci, int64_t ready, double rate) {
    l.sync([&] { l.st.record_latency = true; });
    paced_result r;
    std::vector<std::pair<int64_t, int64_t>> acks;
    run_writers(ci, "INSERT INTO b_live(v) VALUES ($1) RETURNING id", 4, 5, &r.committed, rate, 160, &acks);
    drain(l, r.committed * ready, std::chrono::seconds(10));
    std::vector<double> lat;
    std::vector<std::pair<int64_t, int64_t>> rx;
    int64_t got = 0;
    l.sync([&] {
        lat = l.st.latency_ms;
        rx = l.st.rx_by_key;
        got = l.st.patches;
    });
    r.p = percentiles(lat);
    std::unordered_map<int64_t, int64_t> ack_of(acks.begin(), acks.end());
    std::vector<double> from_commit;
    from_commit.reserve(rx.size());
    for (auto& [key, at] : rx)
        if (auto a = ack_of.find(key); a != ack_of.end()) from_commit.push_back(double(at - a->second) / 1000.0);
    r.from_commit = percentiles(from_commit);
    r.delivered = double(got) / double(r.committed * std::max<int64_t>(ready, 1));
    return r;
}

double thread_cpu_s() {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

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

}  // namespace pglive::bench
