// fanout_nchan.cpp — §6: the §3b fan-out on nginx + Nchan, the reference pglive's 1k figure is compared with.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "common.h"
#include "nchan.h"

namespace pglive::bench {

using namespace std::chrono_literals;

void nchan(run& ctx) {
    json& res = ctx.res;
    const double fanout_1k = ctx.fanout_1k;
    // nginx with one worker and with two (pglive serve runs two I/O threads): the better one is
    // the reference.
    std::vector<int> worker_counts = {1, 2};
    if (getenv("BENCH_NCHAN_WORKERS")) worker_counts = {std::max(1, std::atoi(getenv("BENCH_NCHAN_WORKERS")))};
    say("## 6. Nchan: the same fan-out on nginx + Nchan (1,000 WebSocket subscribers of one channel, the same "
        "load client; 3 publisher threads POSTing a ~290-byte message shaped like a pglive patch frame, each "
        "on a keep-alive connection, as fast as they can for 5 s)\n");
    if (auto why = nchan_server::missing(); !why.empty()) {
        say("Not measured: " + why + " (`make bench` installs both). fanout_nchan_msgs_per_s_1k is null.\n");
        return;
    }
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
    if (fanout_1k > 0 && rate > 0) res["fanout_over_nchan_1k"] = fanout_1k / rate;
    if (fanout_1k > 0 && rate > 0)
        say("pglive / Nchan (its better worker count) at 1,000 subscribers: **" + f2(fanout_1k / rate) +
            "×** (goal ≥ 2×: " + (fanout_1k / rate >= 2 ? "met" : "MISSED") + ").\n");
    else say("pglive / Nchan: not computed (the pglive 1k fan-out did not run in this run).\n");
}

}  // namespace pglive::bench
