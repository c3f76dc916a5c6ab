// nchan.h — the reference point for fan-out: nginx with the Nchan module (Debian's nginx-light and
// libnginx-mod-nchan), run from a temporary directory, and HTTP publishers for it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "support/process.h"

namespace pglive::bench {

// nginx -c <tmp>/nginx.conf -p <tmp>/ in the foreground (daemon off, a master and `workers`
// worker processes), listening on a free 127.0.0.1 port: WebSocket subscribers at /sub/<id>,
// publishers (HTTP POST) at /pub/<id>.
class nchan_server {
public:
    // Why this cannot run (nginx or the Nchan module missing), or empty.
    static std::string missing();
    explicit nchan_server(int workers);
    ~nchan_server();  // SIGTERM, then waits (SIGKILL after 10 s)
    nchan_server(const nchan_server&) = delete;
    nchan_server& operator=(const nchan_server&) = delete;

    uint16_t port() const { return port_; }
    pid_t pid() const { return proc_->pid(); }
    double cpu_s() const;  // the master's and its workers' utime + stime
    std::string dir() const { return dir_; }

private:
    std::string dir_;
    uint16_t port_ = 0;
    std::unique_ptr<test::process> proc_;
};

// `threads` publishers, each on one keep-alive connection, POSTing `body(n)` (n: a counter
// shared by all) to /pub/<channel> for `secs`; returns the messages accepted (2xx).
int64_t publish_for(uint16_t port, const std::string& channel, int threads, double secs,
                    const std::function<std::string(int64_t)>& body);

}  // namespace pglive::bench
