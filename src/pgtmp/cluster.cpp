// cluster.cpp — start, stop and crash a private PostgreSQL in a temporary directory.
#include "pgtmp/cluster.h"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pglive {

namespace {

std::string find_bindir() {
    std::string out;
    if (FILE* p = popen("pg_config --bindir 2>/dev/null", "r")) {
        std::array<char, 512> buf{};
        while (fgets(buf.data(), int(buf.size()), p)) out += buf.data();
        pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (!out.empty() && std::filesystem::exists(out + "/initdb") && std::filesystem::exists(out + "/postgres"))
        return out;
    for (const char* d : {"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"})
        if (std::filesystem::exists(std::string(d) + "/postgres")) return d;
    throw std::runtime_error("cluster: no PostgreSQL server binaries (pg_config --bindir, /usr/lib/postgresql/15/bin)");
}

uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error(std::string("cluster: socket: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(fd);
        throw std::runtime_error(std::string("cluster: bind 127.0.0.1:0: ") + std::strerror(errno));
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

// PostgreSQL refuses to run as root: then the server runs as `postgres` (what
// `runuser -u postgres --` would do, but done in the child so that our pid is the postmaster's).
struct run_as {
    bool drop = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

run_as server_user() {
    run_as r;
    if (::geteuid() != 0) return r;
    passwd* pw = ::getpwnam("postgres");
    if (!pw) throw std::runtime_error("cluster: running as root needs a `postgres` user to run the server as");
    r.drop = true;
    r.uid = pw->pw_uid;
    r.gid = pw->pw_gid;
    return r;
}

// fork + exec with stdout/stderr appended to `log`; returns the child's pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& log, const run_as& who) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cluster: cannot open " + log + ": " + std::strerror(errno));
    if (who.drop && ::fchown(fd, who.uid, who.gid) != 0) {
        ::close(fd);
        throw std::runtime_error("cluster: cannot chown " + log + ": " + std::strerror(errno));
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fd);
        throw std::runtime_error(std::string("cluster: fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        // Only async-signal-safe calls from here on.
        ::setsid();
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        if (who.drop) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0) ::_exit(126);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(fd);
    return pid;
}

// Waits for `pid` up to `timeout`; true when it exited (status in *status).
bool wait_exit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        pid_t r = ::waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a child's exit
    }
}

}  // namespace

cluster::cluster(options opts) : opts_(std::move(opts)) {}

cluster::~cluster() {
    try {
        stop();
    } catch (...) {
    }
    if (!dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
}

void cluster::initdb() {
    std::string templ = opts_.dir_prefix + "XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data()))
        throw std::runtime_error("cluster: mkdtemp " + templ + ": " + std::strerror(errno));
    dir_ = buf.data();
    run_as who = server_user();
    if (who.drop && ::chown(dir_.c_str(), who.uid, who.gid) != 0)
        throw std::runtime_error("cluster: chown " + dir_ + ": " + std::strerror(errno));
    pid_t pid = spawn({bindir_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "postgres", "--no-sync",
                       "-E", "UTF8", "--locale=C", "--no-instructions"},
                      dir_ + "/initdb.log", who);
    int status = 0;
    if (!wait_exit(pid, std::chrono::seconds(120), &status)) {
        ::kill(pid, SIGKILL);
        wait_exit(pid, std::chrono::seconds(5), &status);
        throw std::runtime_error("cluster: initdb did not finish within 120 s");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::ifstream in(dir_ + "/initdb.log");
        std::stringstream ss;
        ss << in.rdbuf();
        throw std::runtime_error("cluster: initdb failed:\n" + ss.str());
    }
}

void cluster::start() {
    if (pid_ > 0) return;
    if (bindir_.empty()) bindir_ = find_bindir();
    if (dir_.empty()) initdb();
    run_as who = server_user();
    // A port picked free may be taken before postgres binds it: then try another.
    for (int attempt = 0;; ++attempt) {
        if (port_ == 0) port_ = opts_.port ? opts_.port : free_port();
        std::vector<std::string> args = {bindir_ + "/postgres", "-D", dir_ + "/data", "-k", dir_,
                                         "-c", "listen_addresses=127.0.0.1", "-p", std::to_string(port_)};
        for (const auto& s : opts_.settings) {
            args.push_back("-c");
            args.push_back(s);
        }
        pid_ = spawn(args, dir_ + "/server.log", who);
        try {
            wait_ready();
            return;
        } catch (const std::exception&) {
            bool port_taken = log_tail().find("could not bind") != std::string::npos ||
                              log_tail().find("could not create any TCP/IP sockets") != std::string::npos;
            if (pid_ > 0) {
                ::kill(pid_, SIGKILL);
                int status = 0;
                wait_exit(pid_, std::chrono::seconds(5), &status);
                pid_ = -1;
            }
            if (!port_taken || opts_.port != 0 || attempt >= 5) throw;
            port_ = 0;
        }
    }
}

void cluster::wait_ready() {
    const std::string ci = "host=127.0.0.1 port=" + std::to_string(port_) +
                          " user=postgres dbname=postgres connect_timeout=2 application_name=pglive-cluster";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            throw std::runtime_error("cluster: postgres exited at start-up; log tail:\n" + log_tail());
        }
        try {
            pqxx::connection probe(ci);
            return;
        } catch (const std::exception&) {
            // not accepting connections yet
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error("cluster: postgres did not accept connections within 60 s; log tail:\n" +
                                     log_tail());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling readiness with a deadline
    }
}

void cluster::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);  // fast shutdown: disconnect clients, checkpoint, exit
    int status = 0;
    if (!wait_exit(pid_, std::chrono::seconds(60), &status)) {
        ::kill(pid_, SIGKILL);
        wait_exit(pid_, std::chrono::seconds(5), &status);
    }
    pid_ = -1;
}

void cluster::restart() {
    stop();
    start();
}

void cluster::kill() {
    if (pid_ <= 0) return;
    // Immediate shutdown: like a crash (no checkpoint, recovery at the next start), but the
    // postmaster takes its backends down with it, so the next start finds no orphans.
    ::kill(pid_, SIGQUIT);
    int status = 0;
    if (!wait_exit(pid_, std::chrono::seconds(30), &status)) {
        ::kill(pid_, SIGKILL);
        wait_exit(pid_, std::chrono::seconds(5), &status);
    }
    pid_ = -1;
}

std::string cluster::conninfo(const std::string& db) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string cluster::log_tail() const {
    std::ifstream in(dir_ + "/server.log");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
}

}  // namespace pglive
