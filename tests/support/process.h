// process.h — runs a real program (the pglive binary) for end-to-end tests: its output lines,
// waiting for one with a deadline, signals, exit status.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pglive::test {

class process {
public:
    // Starts `argv` (argv[0] is the path) with extra environment `env` ("K=V"), stdout and
    // stderr read line by line into one log.
    process(std::vector<std::string> argv, std::vector<std::string> env = {});
    ~process();  // SIGKILL if still running

    // Waits until an output line contains `needle`; returns it, or nullopt at the deadline.
    std::optional<std::string> wait_for_line(const std::string& needle, std::chrono::milliseconds deadline);
    // Waits for exit; returns the exit status (128+signal when killed), or nullopt at the deadline.
    std::optional<int> wait_exit(std::chrono::milliseconds deadline);
    void signal(int sig);
    pid_t pid() const { return pid_; }
    std::string output() const;  // everything read so far

private:
    void reader(int fd);
    pid_t pid_ = -1;
    std::vector<std::thread> readers_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::string> lines_;  // guarded by mutex_
    std::optional<int> status_;       // guarded by mutex_
    int open_streams_ = 2;            // guarded by mutex_
};

// A running `pglive serve`: started, ready line read, port parsed.
struct serve_process {
    std::unique_ptr<process> proc;
    uint16_t port = 0;
    std::string url;

    serve_process() = default;
    serve_process(serve_process&&) = default;
    serve_process& operator=(serve_process&&) = default;
    // Stops it as an operator would (SIGTERM), so that it leaves pglive.nodes and holds no
    // retention afterwards (a killed node holds it for node_timeout_s); SIGKILL after 10 s.
    ~serve_process();
};
serve_process start_serve(const std::string& db, std::vector<std::string> extra_args = {},
                          std::chrono::milliseconds deadline = std::chrono::seconds(30));

// Polls `pred` until it is true or the deadline passes.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
                std::chrono::milliseconds every = std::chrono::milliseconds(10));

}  // namespace pglive::test
