// cluster.h — a private, throwaway PostgreSQL (initdb + postgres in a temp dir) for demo, tests, benchmarks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pglive {

struct cluster_options {
    std::string dir_prefix = "/tmp/pglive-pg-";
    uint16_t port = 0;                  // 0: pick a free one
    std::vector<std::string> settings;  // extra `-c` settings, e.g. "fsync=off"
};

class cluster {
public:
    using options = cluster_options;

    explicit cluster(options opts = {});
    ~cluster();  // stops the server and removes the directory
    cluster(const cluster&) = delete;
    cluster& operator=(const cluster&) = delete;

    // initdb (first time only) and start; returns once it accepts connections.
    // Throws std::runtime_error with the tail of the server log on failure.
    void start();
    void stop();     // fast shutdown, waits for the server to exit
    void restart();  // stop + start, same port and data
    void kill();     // SIGKILL the postmaster (a crash); start() recovers

    std::string conninfo(const std::string& db = "postgres") const;
    uint16_t port() const { return port_; }
    const std::string& dir() const { return dir_; }
    bool running() const { return pid_ > 0; }

private:
    void initdb();
    void wait_ready();
    std::string log_tail() const;

    options opts_;
    std::string bindir_;
    std::string dir_;  // holds data/, the socket and server.log
    uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace pglive
