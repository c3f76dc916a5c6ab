// demo.cpp — `pglive demo`: everything on a private PostgreSQL that is removed on exit.
#include "demo/demo.h"

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include <openssl/rand.h>

#include "capture/admin.h"
#include "pgtmp/cluster.h"
#include "capture/db.h"
#include "core/jwt.h"
#include "core/log.h"
#include "server/app.h"

namespace pglive {

namespace {

const char* demo_schema = R"SQL(
CREATE TABLE IF NOT EXISTS public.orders (
    id serial PRIMARY KEY,
    customer text NOT NULL,
    status text NOT NULL DEFAULT 'open',
    amount numeric(10,2) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.metrics (
    host text NOT NULL,
    name text NOT NULL,
    value double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, name)
);
INSERT INTO public.orders (customer, status, amount)
SELECT (ARRAY['acme','globex','initech','umbrella','hooli','stark'])[1 + i % 6],
       (ARRAY['open','open','paid','shipped'])[1 + i % 4], round((10 + random() * 490)::numeric, 2)
FROM generate_series(1, 12) AS i
WHERE NOT EXISTS (SELECT 1 FROM public.orders);
INSERT INTO public.metrics (host, name, value)
SELECT h, n, round((random() * 100)::numeric, 1)
FROM unnest(ARRAY['web-1','web-2','db-1']) AS h, unnest(ARRAY['cpu','mem','rps']) AS n
ON CONFLICT DO NOTHING;
)SQL";

std::string random_secret() {
    unsigned char buf[24];
    RAND_bytes(buf, sizeof buf);
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (unsigned char b : buf) {
        s += hex[b >> 4];
        s += hex[b & 15];
    }
    return s;
}

}  // namespace

struct demo::impl {
    demo_options opt;
    std::unique_ptr<cluster> pg;
    std::unique_ptr<app> server;
    std::thread traffic;
    std::mutex mutex_;
    std::condition_variable cv;
    bool stopping = false;  // guarded by mutex_

    explicit impl(demo_options o) : opt(std::move(o)) {}

    // A few changes a second, so the dashboard moves: orders come in, get paid, ship, go.
    void run_traffic(const std::string& db) {
        std::mt19937 rng(std::random_device{}());
        auto pick = [&](int n) { return int(rng() % unsigned(n)); };
        std::unique_ptr<pqxx::connection> conn;
        auto period = std::chrono::duration<double>(1.0 / opt.traffic_per_s);
        for (;;) {
            {
                std::unique_lock<std::mutex> g(mutex_);
                if (cv.wait_for(g, period, [this] { return stopping; })) return;
            }
            try {
                if (!conn) conn = open_connection(db, "demo-traffic");
                pqxx::work w(*conn);
                int r = pick(100);
                if (r < 30) {
                    static const char* customers[] = {"acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne"};
                    w.exec_params("INSERT INTO public.orders (customer, amount) VALUES ($1, $2)", customers[pick(7)],
                                  std::to_string(10 + pick(49000) / 100.0));
                } else if (r < 60) {
                    w.exec(
                        "UPDATE public.orders SET status = CASE status WHEN 'open' THEN 'paid' WHEN 'paid' THEN "
                        "'shipped' ELSE status END, updated_at = now() WHERE id = (SELECT id FROM public.orders WHERE "
                        "status <> 'shipped' ORDER BY random() LIMIT 1)");
                } else if (r < 70) {
                    w.exec("DELETE FROM public.orders WHERE id = (SELECT id FROM public.orders WHERE status = "
                           "'shipped' ORDER BY id LIMIT 1) AND (SELECT count(*) FROM public.orders) > 8");
                } else {
                    w.exec("UPDATE public.metrics SET value = round((random() * 100)::numeric, 1), updated_at = now() "
                           "WHERE (host, name) = (SELECT host, name FROM public.metrics ORDER BY random() LIMIT 1)");
                }
                w.commit();
            } catch (const std::exception& e) {
                log_warn(std::string("demo traffic: ") + e.what());
                conn.reset();
            }
        }
    }
};

demo::demo(demo_options o) : impl_(std::make_unique<impl>(std::move(o))) {}

demo::~demo() {
    stop();
    if (impl_->traffic.joinable()) impl_->traffic.join();
}

void demo::run() {
    auto& m = *impl_;
    log_info("demo: starting a private PostgreSQL");
    m.pg = std::make_unique<cluster>(cluster::options{});
    m.pg->start();
    std::string db = m.pg->conninfo();
    {
        auto conn = open_connection(db, "admin");
        install_schema(*conn);
        pqxx::work w(*conn);
        w.exec(demo_schema);
        w.commit();
        attach(*conn, "public.orders", {}, {}, {});
        attach(*conn, "public.metrics", {}, {}, {});
    }
    config c;
    c.db = db;
    c.listen = m.opt.listen;
    c.anonymous_topics = {"*"};  // the demo lets anyone read; `serve` reads nothing anonymously by default
    c.token_secret = random_secret();
    c.metrics_public = true;  // the demo's /metrics is open to look at
    validate_config(c);
    m.server = std::make_unique<app>(c);
    {
        std::lock_guard<std::mutex> g(m.mutex_);
        if (m.stopping) return;
    }
    m.server->start();
    std::string admin_token =
        sign_jwt(json{{"sub", "demo-admin"}, {"topics", {"*"}}, {"publish", true}, {"admin", true}}, c.token_secret);
    // The dashboard's ?agg= opens a card's aggregate panel with those picks (dashboard/aggregates.js):
    // the demo's dashboard address opens with the orders counted and summed by status. (The admin
    // view's address stays as it was; the picks, once opened, are remembered by the browser.)
    const std::string aggregates = "agg=public.orders&group=status&aggregate=count,sum:amount&order=count.desc&limit=5";
    std::cout << "pglive: database " << db << "\n"
              << "pglive: try  psql '" << db << "' -c \"INSERT INTO orders (customer, amount) VALUES ('you', 42)\""
              << "  (the orders card lists the newest first: the row appears at its top)\n"
              << "pglive: dashboard " << m.server->url() << "/?" << aggregates
              << "  (with the orders counted and summed by status, live)\n"
              << "pglive: admin view " << m.server->url() << "/?token=" << admin_token << "\n"
              << "pglive: serving " << m.server->url() << " (" << m.server->topic_count() << " topics)" << std::endl;
    if (m.opt.traffic_per_s > 0) m.traffic = std::thread([&m, db] { m.run_traffic(db); });
    m.server->run();
    stop();
    if (m.traffic.joinable()) m.traffic.join();
    m.server.reset();
    m.pg.reset();  // stops PostgreSQL and removes its directory
    log_info("demo: stopped, private PostgreSQL removed");
}

void demo::stop() {
    auto& m = *impl_;
    {
        std::lock_guard<std::mutex> g(m.mutex_);
        m.stopping = true;
    }
    m.cv.notify_all();
    if (m.server) m.server->stop();
}

}  // namespace pglive
