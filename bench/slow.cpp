// slow.cpp — §5: the others' latency at 1,000 subscribers with and without one client that stops reading.
#include <string>

#include "common.h"

namespace pglive::bench {

void slow_client(run& ctx) {
    const std::string& ci = ctx.ci;
    json& res = ctx.res;
    say("## 5. Slow client (1,000 subscribers, 100 tx/s paced for 5 s = 100k patches/s; in the second run one of "
        "them stops reading)\n");
    double p99[2] = {0, 0};
    for (int stalled = 0; stalled < 2; ++stalled) {
        settle(ci, ctx.serve_pid);
        load l(ctx.port);
        int64_t ready = (exec(ci, "TRUNCATE b_live"), l.open(999, "public.b_live"));
        load stall_l(ctx.port);
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

}  // namespace pglive::bench
