// process.cpp — fork/exec with pipes, line readers, and a poll-with-deadline helper.
#include "support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <regex>
#include <stdexcept>

namespace pglive::test {

process::process(std::vector<std::string> argv, std::vector<std::string> env) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        for (auto& e : env) putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    readers_.emplace_back([this, fd = out[0]] { reader(fd); });
    readers_.emplace_back([this, fd = err[0]] { reader(fd); });
}

process::~process() {
    bool running;
    {
        std::lock_guard<std::mutex> g(mutex_);
        running = !status_;
    }
    if (running) {
        ::kill(pid_, SIGKILL);
        wait_exit(std::chrono::seconds(10));
    }
    for (auto& t : readers_) t.join();
}

void process::reader(int fd) {
    std::string buf;
    char chunk[4096];
    for (;;) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        buf.append(chunk, size_t(n));
        size_t nl;
        while ((nl = buf.find('\n')) != std::string::npos) {
            std::lock_guard<std::mutex> g(mutex_);
            lines_.push_back(buf.substr(0, nl));
            buf.erase(0, nl + 1);
            cv_.notify_all();
        }
    }
    close(fd);
    std::lock_guard<std::mutex> g(mutex_);
    if (!buf.empty()) lines_.push_back(buf);
    --open_streams_;
    cv_.notify_all();
}

std::optional<std::string> process::wait_for_line(const std::string& needle, std::chrono::milliseconds deadline) {
    std::unique_lock<std::mutex> g(mutex_);
    size_t seen = 0;
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        for (; seen < lines_.size(); ++seen)
            if (lines_[seen].find(needle) != std::string::npos) return lines_[seen];
        if (open_streams_ == 0) return std::nullopt;
        if (cv_.wait_until(g, until) == std::cv_status::timeout && seen == lines_.size()) return std::nullopt;
    }
}

std::optional<int> process::wait_exit(std::chrono::milliseconds deadline) {
    {
        std::lock_guard<std::mutex> g(mutex_);
        if (status_) return status_;
    }
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
            std::unique_lock<std::mutex> g(mutex_);
            status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            // Its last lines may still be in the pipes: let the readers reach end of file.
            cv_.wait_for(g, std::chrono::seconds(5), [this] { return open_streams_ == 0; });
            return status_;
        }
        if (std::chrono::steady_clock::now() > until) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling waitpid, with a deadline
    }
}

void process::signal(int sig) { ::kill(pid_, sig); }

std::string process::output() const {
    std::lock_guard<std::mutex> g(mutex_);
    std::string s;
    for (auto& l : lines_) s += l + "\n";
    return s;
}

serve_process::~serve_process() {
    if (!proc || proc->wait_exit(std::chrono::milliseconds(0))) return;
    proc->signal(SIGTERM);
    proc->wait_exit(std::chrono::seconds(10));
}

serve_process start_serve(const std::string& db, std::vector<std::string> extra_args,
                          std::chrono::milliseconds deadline) {
    // The suites read /metrics freely; its access rules have tests of their own.
    std::vector<std::string> argv = {PGLIVE_BINARY, "serve", "--db", db, "--listen", "127.0.0.1:0", "--metrics-public", "true"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    serve_process s;
    s.proc = std::make_unique<process>(argv);
    auto line = s.proc->wait_for_line("pglive: serving ", deadline);
    if (!line) throw std::runtime_error("pglive serve did not become ready; output:\n" + s.proc->output());
    std::smatch m;
    std::regex re("(http://[^ ]+):([0-9]+)");
    if (!std::regex_search(*line, m, re)) throw std::runtime_error("no URL in ready line: " + *line);
    s.url = m[1].str() + ":" + m[2].str();
    s.port = uint16_t(std::stoi(m[2].str()));
    return s;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds deadline, std::chrono::milliseconds every) {
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(every);
    }
}

}  // namespace pglive::test
