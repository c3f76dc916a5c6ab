// bench.cpp — pglive's benchmarks: capture overhead, commit→client latency, fan-out, idle RSS, slow client.
#include <sys/resource.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <utility>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "capture/admin.h"
#include "capture/cluster.h"
#include "support/process.h"

namespace pglive::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = beast::websocket;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using clk = std::chrono::steady_clock;
using namespace std::chrono_literals;

int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "2026-11-22T10:00:00.123456Z" → µs since the epoch; -1 when it is not that shape.
int64_t parse_ts_us(const char* s, size_t n) {
    if (n < 20) return -1;
    struct tm t {};
    int y, mo, d, h, mi, se;
    if (std::sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6) return -1;
    t.tm_year = y - 1900, t.tm_mon = mo - 1, t.tm_mday = d, t.tm_hour = h, t.tm_min = mi, t.tm_sec = se;
    int64_t us = int64_t(timegm(&t)) * 1000000;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        int64_t frac = 0, scale = 1000000;
        for (++i; i < n && s[i] >= '0' && s[i] <= '9'; ++i) {
            scale /= 10;
            frac = frac * 10 + (s[i] - '0');
        }
        us += scale > 0 ? frac * scale : frac;  // more than 6 digits is not produced
    }
    return us;
}

// ---------- async WebSocket load client ----------

struct load_stats {
    int64_t patches = 0;
    int64_t snapshots = 0;  // after the first one: resyncs
    int64_t ready = 0;
    int64_t failed = 0;
    bool record_latency = false;
    std::vector<double> latency_ms;
    int64_t last_rx_us = 0;
};

class conn : public std::enable_shared_from_this<conn> {
public:
    conn(asio::io_context& io, load_stats& st, std::string topic, bool stall, std::function<void()> on_ready)
        : ws_(io), st_(st), topic_(std::move(topic)), stall_(stall), on_ready_(std::move(on_ready)) {}

    void start(const tcp::endpoint& ep) {
        auto& sock = beast::get_lowest_layer(ws_).socket();
        sock.open(tcp::v4());
        if (stall_) {
            int small = 4096;  // a stalled client fills the server's queue fast
            ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        }
        beast::get_lowest_layer(ws_).expires_after(30s);
        beast::get_lowest_layer(ws_).async_connect(ep, [self = shared_from_this()](beast::error_code ec) {
            if (ec) return self->fail();
            self->ws_.async_handshake("127.0.0.1", "/ws", [self](beast::error_code ec) {
                if (ec) return self->fail();
                beast::get_lowest_layer(self->ws_).expires_never();
                self->ws_.text(true);
                if (self->topic_.empty()) {  // idle connection
                    self->ready();
                    self->read();
                    return;
                }
                self->out_ = json{{"op", "subscribe"}, {"ref", "1"}, {"topic", self->topic_}}.dump();
                self->ws_.async_write(asio::buffer(self->out_), [self](beast::error_code ec, size_t) {
                    if (ec) return self->fail();
                    self->read();
                });
            });
        });
    }
    void close() {
        beast::error_code ec;
        beast::get_lowest_layer(ws_).socket().close(ec);
    }

private:
    void fail() {
        ++st_.failed;
        if (!reported_) {
            reported_ = true;
            if (on_ready_) on_ready_();
        }
    }
    void ready() {
        ++st_.ready;
        reported_ = true;
        if (on_ready_) on_ready_();
    }
    void read() {
        ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec) {
                if (!self->reported_) self->fail();
                return;
            }
            self->on_message();
            if (self->stall_ && self->subscribed_) return;  // stops reading for good
            self->read();
        });
    }
    void on_message() {
        auto d = buf_.data();
        std::string_view m(static_cast<const char*>(d.data()), d.size());
        int64_t rx = now_us();
        if (m.find("\"type\":\"patch\"") != std::string_view::npos) {
            ++st_.patches;
            st_.last_rx_us = rx;
            if (st_.record_latency) {
                auto p = m.find("\"ts\":\"");
                if (p != std::string_view::npos) {
                    int64_t ts = parse_ts_us(m.data() + p + 6, m.size() - p - 6);
                    if (ts > 0) st_.latency_ms.push_back((rx - ts) / 1000.0);
                }
            }
        } else if (m.find("\"type\":\"snapshot\"") != std::string_view::npos) {
            if (subscribed_) ++st_.snapshots;
            else {
                subscribed_ = true;
                ready();
            }
        } else if (m.find("\"type\":\"error\"") != std::string_view::npos) {
            std::cerr << "bench: server error: " << m << "\n";
        }
        buf_.consume(buf_.size());
    }

    ws::stream<beast::tcp_stream> ws_;
    beast::flat_buffer buf_;
    load_stats& st_;
    std::string topic_, out_;
    bool stall_;
    bool subscribed_ = false, reported_ = false;
    std::function<void()> on_ready_;
};

// N connections on one io_context thread, opened at most `window` at a time.
class load {
public:
    load(uint16_t port) : ep_(asio::ip::make_address("127.0.0.1"), port), guard_(io_.get_executor()) {
        thread_ = std::thread([this] { io_.run(); });
    }
    ~load() {
        asio::post(io_, [this] {
            for (auto& c : conns_) c->close();
        });
        guard_.reset();
        io_.stop();
        thread_.join();
    }
    // Opens n connections (subscribed to topic unless empty); returns how many became ready.
    int64_t open(int n, const std::string& topic, bool stall = false, std::chrono::seconds deadline = 120s) {
        std::atomic<int64_t> done{0};
        auto left = std::make_shared<int>(n);
        std::function<void()> next;
        next = [&, left] {
            if (*left <= 0) return;
            --*left;
            auto c = std::make_shared<conn>(io_, st, topic, stall, [&] {
                ++done;
                next();
            });
            conns_.push_back(c);
            c->start(ep_);
        };
        asio::post(io_, [&] {
            for (int i = 0; i < std::min(n, 256); ++i) next();
        });
        auto until = clk::now() + deadline;
        while (done.load() < n && clk::now() < until) std::this_thread::sleep_for(5ms);
        int64_t ready = 0;
        sync([&] {
            ready = st.ready;
            *left = 0;
        });
        return ready;
    }
    // Runs f on the io thread and waits for it.
    void sync(const std::function<void()>& f) {
        std::promise<void> p;
        asio::post(io_, [&] {
            f();
            p.set_value();
        });
        p.get_future().wait();
    }
    load_stats st;

private:
    asio::io_context io_;
    tcp::endpoint ep_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_;
    std::vector<std::shared_ptr<conn>> conns_;
    std::thread thread_;
};

// ---------- database load ----------

std::string row_text(size_t n) { return std::string(n, 'x'); }

// `clients` threads committing `sql` (one text parameter) for `secs`; returns commits/s.
double run_writers(const std::string& conninfo, const std::string& sql, int clients, double secs,
                   int64_t* committed = nullptr, double rate = 0) {
    std::atomic<int64_t> total{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    auto start = clk::now();
    for (int i = 0; i < clients; ++i)
        ts.emplace_back([&] {
            pqxx::connection c(conninfo);
            c.prepare("w", sql);
            std::string v = row_text(160);
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

// Waits until the clients' patch count stops growing or reaches `want`.
void drain(load& l, int64_t want, std::chrono::seconds deadline) {
    auto until = clk::now() + deadline;
    int64_t last = -1;
    auto last_change = clk::now();
    while (clk::now() < until) {
        int64_t n = 0;
        l.sync([&] { n = l.st.patches; });
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

    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

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
        "the real `pglive serve` binary, the load client (one Asio thread) on the same 2 cores.\n");

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
    const bool capture = getenv("BENCH_SKIP_CAPTURE") == nullptr;
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

    }  // capture
    // ---- 2..5 need one serve ----
    auto s = test::start_serve(ci, {"--anonymous-topics", "*"});
    pid_t serve_pid = s.proc->pid();

    say("## 2. Commit → client latency (paced single-row INSERTs, 5 s; latency = receive time − patch `ts`)\n");
    say("| subscribers | rate tx/s | committed | delivered/expected | p50 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- | --- |");
    for (int subs : {1, 100})
        for (double rate : {100.0, 1000.0}) {
            load l(s.port);
            int64_t ready = (exec(ci, "TRUNCATE b_live"), l.open(subs, "public.b_live"));
            auto r = paced_run(l, ci, ready, rate);
            auto& p = r.p;
            int64_t committed = r.committed;
            double ratio = r.delivered;
            say("| " + std::to_string(ready) + " | " + f1(rate) + " | " + std::to_string(committed) + " | " +
                f2(ratio) + " | " + f2(p.p50) + " | " + f2(p.p99) + " | " + f2(p.max) + " |");
            if (subs == 100 && rate == 1000.0) {
                res["latency_p50_ms"] = p.p50;
                res["latency_p99_ms"] = p.p99;
                res["delivered_over_committed"] = ratio;
            }
        }
    say("\nGoals at 1k tx/s, 100 subscribers: p50 ≤ 1 ms, p99 ≤ 3 ms, delivered/committed ≥ 0.99.\n");

    say("## 3. Fan-out (1000 subscribers of one topic, ~200-byte rows, 3 writers as fast as they can, 5 s)\n");
    {
        load l(s.port);
        int64_t ready = (exec(ci, "TRUNCATE b_live"), l.open(1000, "public.b_live"));
        int64_t committed = 0;
        auto t0 = now_us();
        double tps = run_writers(ci, ins("b_live"), 3, 5, &committed);
        drain(l, committed * ready, 20s);
        int64_t got = 0, last = 0, resync = 0;
        l.sync([&] {
            got = l.st.patches;
            last = l.st.last_rx_us;
            resync = l.st.snapshots;
        });
        double el = (last - t0) / 1e6;
        double rate = got / std::max(el, 1e-3);
        say("Subscribers " + std::to_string(ready) + "; committed " + std::to_string(committed) + " (" + f1(tps) +
            " tx/s); delivered " + std::to_string(got) + " patches = " + f2(double(got) / (committed * ready)) +
            " of expected, over " + f1(el) + " s from the first commit to the last receive: **" + f1(rate) +
            " msgs/s**; resync snapshots " + std::to_string(resync) + ".\n");
        res["fanout_msgs_per_s_1k"] = rate;
    }

    say("## 4. RSS per idle WebSocket connection\n");
    {
        int64_t before = vm_rss_kib(serve_pid);
        load l(s.port);
        int64_t held = l.open(10000, "");
        std::this_thread::sleep_for(1s);  // let the server settle its buffers before reading RSS
        int64_t after = vm_rss_kib(serve_pid);
        double per = held > 0 ? double(after - before) / held : 0;
        say("Serve VmRSS " + std::to_string(before) + " KiB before, " + std::to_string(after) + " KiB with " +
            std::to_string(held) + " idle connections (RLIMIT_NOFILE " + std::to_string(rl.rlim_cur) + "): **" +
            f2(per) + " KiB per connection** (goal ≤ 10 KiB). Connections held: " + std::to_string(held) + ".\n");
        if (held > 0) res["rss_kib_per_idle_conn"] = per;
        res["connections_held"] = held;
    }

    say("## 5. Slow client (200 subscribers, 1000 tx/s paced for 5 s; one extra subscriber stops reading)\n");
    {
        double p99[2] = {0, 0};
        for (int stalled = 0; stalled < 2; ++stalled) {
            load l(s.port);
            int64_t ready = (exec(ci, "TRUNCATE b_live"), l.open(200, "public.b_live"));
            load stall_l(s.port);
            if (stalled) stall_l.open(1, "public.b_live", true);
            auto r = paced_run(l, ci, ready, 1000);
            auto& p = r.p;
            p99[stalled] = p.p99;
            say(std::string(stalled ? "with" : "without") + " a stalled client: p50 " + f2(p.p50) + " ms, p99 " +
                f2(p.p99) + " ms, max " + f2(p.max) + " ms, delivered/expected " + f2(r.delivered) + ".");
        }
        double r = p99[0] > 0 ? p99[1] / p99[0] : 0;
        say("\nOthers' p99 with / without: **" + f2(r) + "**.\n");
        res["slow_client_p99_ratio"] = r;
    }
    s.proc->signal(SIGTERM);
    s.proc->wait_exit(10s);

    say("## 6. Nchan\n\nNot measured in this run (fanout_nchan_msgs_per_s_1k is null).\n");

    std::ofstream(out_md) << report.str();
    auto dir = out_json.substr(0, out_json.find_last_of('/'));
    if (dir != out_json) std::system(("mkdir -p '" + dir + "'").c_str());
    std::ofstream(out_json) << res.dump(2) << "\n";
    std::cout << res.dump(2) << std::endl;
    return 0;
}
