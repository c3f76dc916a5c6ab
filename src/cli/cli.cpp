// cli.cpp — the `pglive` command line (PROTOCOL §1): parse, dispatch, exit status.
#include "cli/cli.h"

#include <csignal>
#include <iostream>
#include <thread>

#include "capture/admin.h"
#include "capture/db.h"
#include "config/config.h"
#include "core/log.h"
#include "demo/demo.h"
#include "server/app.h"

namespace pglive {

namespace {

const char* usage_text =
    "usage:\n"
    "  pglive serve  [--config FILE] [--db CONNINFO] [--listen HOST:PORT] [--token-secret SECRET] [--KEY VALUE…]\n"
    "  pglive install [--db CONNINFO]\n"
    "  pglive attach TABLE [--db CONNINFO] [--key COL,...] [--columns COL,...|--exclude COL,...]\n"
    "  pglive detach TABLE [--db CONNINFO]\n"
    "  pglive status [--db CONNINFO] [--json]\n"
    "  pglive demo   [--listen HOST:PORT] [--traffic N]\n"
    "  pglive --help | --version\n"
    "\n"
    "CONNINFO is a libpq URI or key=value string (default: DATABASE_URL, else libpq's PG* variables).\n"
    "serve accepts every key of config/pglive.conf as a flag (--poll-interval-ms 50); see docs/PROTOCOL.md.\n";

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Flags as (name without dashes, '-' → '_', value); "--flag=value" and "--flag value".
struct parsed_args {
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::string>> flags;
};

parsed_args parse_args(const std::vector<std::string>& args) {
    parsed_args p;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.rfind("--", 0) != 0) {
            p.positional.push_back(a);
            continue;
        }
        std::string name = a.substr(2), value;
        auto eq = name.find('=');
        if (eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
            value = args[++i];
        } else {
            value = "true";  // a switch, e.g. status --json
        }
        for (auto& ch : name)
            if (ch == '-') ch = '_';
        p.flags.emplace_back(name, value);
    }
    return p;
}

// The database for admin commands: --db, else DATABASE_URL, else "" (libpq's PG* variables).
std::string db_of(const parsed_args& p, const std::vector<std::string>& allowed) {
    std::string db;
    if (const char* env = std::getenv("DATABASE_URL")) db = env;
    for (auto& [k, v] : p.flags) {
        if (k == "db") db = v;
        else if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
            throw usage_error("unknown option --" + k);
    }
    return db;
}

std::string flag(const parsed_args& p, const std::string& name) {
    for (auto& [k, v] : p.flags)
        if (k == name) return v;
    return "";
}

// SIGINT/SIGTERM are blocked in every thread and taken by one waiting thread, so the
// handler may do real work (stop the app) instead of only setting a flag.
class signal_waiter {
public:
    template <class F>
    explicit signal_waiter(F on_signal) {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &set_, nullptr);
        thread_ = std::thread([this, on_signal] {
            int sig = 0;
            sigwait(&set_, &sig);
            if (sig != SIGUSR1) {
                log_info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
                on_signal();
            }
        });
    }
    ~signal_waiter() {
        pthread_kill(thread_.native_handle(), SIGUSR1);  // wakes sigwait when no signal came
        thread_.join();
    }

private:
    sigset_t set_;
    std::thread thread_;
};

int cmd_serve(const parsed_args& p, char** envp) {
    if (!p.positional.empty()) throw usage_error("serve takes no argument '" + p.positional[0] + "'");
    config c;
    std::string file = flag(p, "config");
    if (!file.empty()) load_config_file(c, file);
    load_config_env(c, envp);
    for (auto& [k, v] : p.flags)
        if (k != "config") set_config_value(c, k, v, "--" + k);
    validate_config(c);
    app a(c);
    signal_waiter signals([&a] { a.stop(); });
    a.start();
    std::cout << "pglive: serving " << a.url() << " (" << a.topic_count() << " topics)" << std::endl;
    a.run();
    return 0;
}

int cmd_install(const parsed_args& p) {
    std::string db = db_of(p, {});
    auto conn = open_connection(db, "admin");
    install_schema(*conn);
    std::cout << "pglive: schema installed in " << describe_conninfo(*conn) << std::endl;
    return 0;
}

int cmd_attach(const parsed_args& p) {
    if (p.positional.size() != 1) throw usage_error("attach needs exactly one TABLE");
    std::string db = db_of(p, {"key", "columns", "exclude"});
    auto key = split_list(flag(p, "key"));
    auto columns = split_list(flag(p, "columns"));
    auto exclude = split_list(flag(p, "exclude"));
    if (!columns.empty() && !exclude.empty()) throw usage_error("--columns and --exclude cannot be used together");
    auto conn = open_connection(db, "admin");
    topic_info t = attach(*conn, p.positional[0], key, columns, exclude);
    std::string keys, cols;
    for (auto& k : t.key) keys += (keys.empty() ? "" : ",") + k;
    for (auto& k : t.columns) cols += (cols.empty() ? "" : ",") + k;
    std::cout << "pglive: attached " << t.topic << " (key " << keys << "; columns " << cols << ")" << std::endl;
    return 0;
}

int cmd_detach(const parsed_args& p) {
    if (p.positional.size() != 1) throw usage_error("detach needs exactly one TABLE");
    std::string db = db_of(p, {});
    auto conn = open_connection(db, "admin");
    detach(*conn, p.positional[0]);
    std::cout << "pglive: detached " << p.positional[0] << std::endl;
    return 0;
}

int cmd_status(const parsed_args& p) {
    if (!p.positional.empty()) throw usage_error("status takes no argument '" + p.positional[0] + "'");
    std::string db = db_of(p, {"json"});
    auto conn = open_connection(db, "admin");
    json s = status(*conn);
    if (flag(p, "json") == "true") {
        std::cout << s.dump(2) << std::endl;
        return 0;
    }
    std::cout << "database: " << describe_conninfo(*conn) << "\n";
    for (auto& [k, v] : s.items())
        if (k != "tables") std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    std::cout << "attached tables:" << (s.value("tables", json::array()).empty() ? " none" : "") << "\n";
    for (auto& t : s.value("tables", json::array())) std::cout << "  " << t.dump() << "\n";
    std::cout.flush();
    return 0;
}

int cmd_demo(const parsed_args& p) {
    if (!p.positional.empty()) throw usage_error("demo takes no argument '" + p.positional[0] + "'");
    demo_options o;
    for (auto& [k, v] : p.flags) {
        if (k == "listen") o.listen = v;
        else if (k == "traffic") {
            try {
                o.traffic_per_s = std::stod(v);
            } catch (...) {
                throw usage_error("--traffic '" + v + "': expected changes per second, e.g. 5 (0: none)");
            }
        } else
            throw usage_error("unknown option --" + k + " for demo");
    }
    int status = 0;
    std::unique_ptr<demo> d;
    signal_waiter signals([&d] {
        if (d) d->stop();
    });
    d = std::make_unique<demo>(o);
    d->run();
    return status;
}

}  // namespace

int run_cli(int argc, char** argv, char** envp) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::cerr << usage_text;
        return 2;
    }
    std::string cmd = args[0];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::cout << usage_text;
        return 0;
    }
    if (cmd == "--version") {
        std::cout << "pglive " << PGLIVE_VERSION << std::endl;
        return 0;
    }
    try {
        parsed_args p = parse_args({args.begin() + 1, args.end()});
        if (cmd == "serve") return cmd_serve(p, envp);
        if (cmd == "install") return cmd_install(p);
        if (cmd == "attach") return cmd_attach(p);
        if (cmd == "detach") return cmd_detach(p);
        if (cmd == "status") return cmd_status(p);
        if (cmd == "demo") return cmd_demo(p);
        throw usage_error("unknown command '" + cmd + "'");
    } catch (const usage_error& e) {
        std::cerr << "pglive: " << e.what() << "\n" << usage_text;
        return 2;
    } catch (const config_error& e) {
        std::cerr << "pglive: " << e.what() << std::endl;
        return 2;
    } catch (const std::exception& e) {
        std::string msg = e.what();
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        auto nl = msg.find('\n');
        std::cerr << "pglive: " << (nl == std::string::npos ? msg : msg.substr(0, nl)) << std::endl;
        return 1;
    }
}

}  // namespace pglive
