// demo.h — `pglive demo`: a private PostgreSQL, demo tables, live traffic and the dashboard.
#pragma once

#include <atomic>
#include <memory>
#include <string>

namespace pglive {

struct demo_options {
    std::string listen = "127.0.0.1:8080";
    double traffic_per_s = 5;  // demo changes per second (0: none, for tests)
};

class demo {
public:
    explicit demo(demo_options o);
    ~demo();
    // Starts everything, prints the database URL and the ready line, serves until stop().
    void run();
    void stop();  // from the signal thread

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace pglive
