// aggregates.cpp — §7: what 100 aggregate shapes (PROTOCOL §5) cost serve per transaction, beside 100 row shapes on the same topic.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "support/process.h"
#include "support/ws_client.h"

namespace pglive::bench {

using namespace std::chrono_literals;

namespace {

// One connection holding up to 100 subscriptions (max_subscriptions_per_connection), read by a
// thread of its own so that its queue never overflows (a resync would be measured instead).
struct reader {
    std::unique_ptr<test::ws_client> ws;
    std::atomic<bool> stop{false};
    std::atomic<int64_t> patches{0}, snapshots{0};
    std::thread t;
    reader(uint16_t port, const std::vector<json>& subs) : ws(std::make_unique<test::ws_client>("127.0.0.1", port)) {
        for (auto& s : subs) ws->send(s);
        t = std::thread([this] {
            while (!stop) {
                auto m = ws->read_text(100ms);
                if (!m) continue;
                if (m->find("\"type\":\"patch\"") != std::string::npos) ++patches;
                else if (m->find("\"type\":\"snapshot\"") != std::string::npos) ++snapshots;
            }
        });
    }
    ~reader() {
        stop = true;
        t.join();
    }
};

std::vector<json> row_subs() {
    std::vector<json> out;
    for (int i = 0; i < 100; ++i)
        out.push_back({{"op", "subscribe"}, {"topic", "public.b_agg"}, {"sub", "r" + std::to_string(i)},
                       {"filter", {"amount=gt." + std::to_string(i * 5)}}});
    return out;
}

std::vector<json> aggregate_subs() {
    std::vector<json> out;
    for (int i = 0; i < 100; ++i)
        out.push_back({{"op", "subscribe"}, {"topic", "public.b_agg"}, {"sub", "a" + std::to_string(i)},
                       {"filter", {"amount=gt." + std::to_string(i * 5)}}, {"group", {"status"}},
                       {"aggregate", {"count", "sum:amount", "avg:amount", "min:amount", "max:amount", "sum:n"}}});
    return out;
}

}  // namespace

void aggregate_shapes(run& ctx) {
    const std::string& ci = ctx.ci;
    say("## 7. Aggregate shapes: serve CPU per transaction (paced single-row INSERTs and UPDATEs, 200 tx/s, 4 s)\n");
    say("100 row shapes are `filter=amount=gt.<5i>`; 100 aggregate shapes have the same filters, `group=status` "
        "(4 groups) and `count,sum:amount,avg:amount,min:amount,max:amount,sum:n` (numeric and bigint: exact "
        "decimals). Every shape is distinct, so each costs its own ops; 10,000 rows to start.\n");
    say("| shapes | committed tx | patches delivered | resyncs | serve CPU µs / tx |\n| --- | --- | --- | --- | --- |");
    exec(ci, "DROP TABLE IF EXISTS b_agg; CREATE TABLE b_agg (id bigserial PRIMARY KEY, status text, amount numeric(10,2), n bigint);"
             "INSERT INTO b_agg(status, amount, n) SELECT (array['open','late','done','held'])[1 + g % 4],"
             " (g % 100000) / 100.0, g::bigint * 1000003 FROM generate_series(1, 10000) g;"
             "SELECT pglive.attach('public.b_agg');");
    auto srv = test::start_serve(ci, {"--anonymous-topics", "*"});
    pid_t serve_pid = srv.proc->pid();
    // Half the transactions insert a row, half move one (another status and amount).
    const std::string tx =
        "WITH i AS (INSERT INTO b_agg(status, amount, n) VALUES ((array['open','late','done','held'])[1 + (random()*3)::int],"
        " round((random()*500)::numeric, 2), (random()*1e15)::bigint) RETURNING id) SELECT $1::text";
    const std::string upd =
        "UPDATE b_agg SET status = (array['open','late','done','held'])[1 + (random()*3)::int],"
        " amount = round((random()*500)::numeric, 2) WHERE id = (SELECT 1 + (random() * 9999)::bigint) AND $1::text IS NOT NULL";
    double base_us = 0, rows_us = 0;
    std::unique_ptr<reader> rows, aggs;
    for (int phase = 0; phase < 3; ++phase) {
        if (phase == 1) rows = std::make_unique<reader>(srv.port, row_subs());
        if (phase == 2) aggs = std::make_unique<reader>(srv.port, aggregate_subs());
        auto ready = [&] {
            return (!rows || rows->snapshots >= 100) && (!aggs || aggs->snapshots >= 100);
        };
        test::eventually(ready, 30s);
        settle(ci, serve_pid);
        int64_t p0 = (rows ? rows->patches.load() : 0) + (aggs ? aggs->patches.load() : 0);
        int64_t s0 = (rows ? rows->snapshots.load() : 0) + (aggs ? aggs->snapshots.load() : 0);
        double cpu0 = proc_cpu_s(serve_pid);
        int64_t c1 = 0, c2 = 0;
        std::thread w1([&] { run_writers(ci, tx, 1, 4, &c1, 100); });
        run_writers(ci, upd, 1, 4, &c2, 100);
        w1.join();
        settle(ci, serve_pid);
        double cpu = proc_cpu_s(serve_pid) - cpu0;
        int64_t committed = c1 + c2;
        int64_t p = (rows ? rows->patches.load() : 0) + (aggs ? aggs->patches.load() : 0) - p0;
        int64_t s = (rows ? rows->snapshots.load() : 0) + (aggs ? aggs->snapshots.load() : 0) - s0;
        double us = committed ? cpu / double(committed) * 1e6 : 0;
        const char* what[] = {"none", "100 row shapes", "100 row + 100 aggregate shapes"};
        say("| " + std::string(what[phase]) + " | " + std::to_string(committed) + " | " + std::to_string(p) + " | " +
            std::to_string(s) + " | " + f1(us) + " |");
        if (phase == 0) base_us = us;
        if (phase == 1) rows_us = us;
        if (phase == 2) {
            ctx.res["aggregate_shape_us_per_tx"] = (us - rows_us) / 100;
            ctx.res["row_shape_us_per_tx"] = (rows_us - base_us) / 100;
            say("\nPer shape and transaction: a row shape " + f2((rows_us - base_us) / 100) + " µs, an aggregate shape " +
                f2((us - rows_us) / 100) + " µs (its ops, their frame and its delivery to one subscriber).\n");
        }
    }
    aggs.reset();
    rows.reset();
}

}  // namespace pglive::bench
