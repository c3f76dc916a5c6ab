// cli.cpp — the `pglive` command line (PROTOCOL §1): parse, dispatch, exit status.
//
// Each command declares its options (which take a value, which are switches), so a missing
// value is a usage error naming the option, and `--help`/`-h` anywhere prints that command's
// usage. A usage error is one line on stderr plus a "see `pglive CMD --help`" hint, exit 2;
// any other error one line, exit 1. No exception leaves run_cli.
#include "cli/cli.h"

#include <algorithm>
#include <csignal>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "config/config.h"
#include "core/log.h"
#include "core/text.h"
#include "demo/demo.h"
#include "server/app.h"

namespace pglive {

namespace {

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

}  // namespace

int cmd_serve(const parsed_args& p, char** envp) {
    config c;
    if (p.has("config")) load_config_file(c, p.get("config"));
    load_config_env(c, envp);
    for (auto& [k, v] : p.flags)
        if (k != "config") set_config_value(c, k, v, "--" + dashed(k));
    validate_config(c);
    app a(c);
    signal_waiter signals([&a] { a.stop(); });
    a.start();
    std::cout << "pglive: serving " << a.url() << " (" << a.topic_count() << " topics)" << std::endl;
    a.run();
    return 0;
}

int cmd_demo(const parsed_args& p) {
    demo_options o;
    if (p.has("listen")) o.listen = p.get("listen");
    if (p.has("traffic")) {
        std::string v = p.get("traffic");
        size_t used = 0;
        double rate = -1;
        try {
            rate = std::stod(v, &used);
        } catch (...) {
            used = 0;
        }
        if (used != v.size() || !(rate >= 0))
            throw usage_error("--traffic '" + v + "': expected changes per second, e.g. 5 (0: none)");
        o.traffic_per_s = rate;
    }
    std::unique_ptr<demo> d;
    signal_waiter signals([&d] {
        if (d) d->stop();
    });
    d = std::make_unique<demo>(o);
    d->run();
    return 0;
}

namespace {

int dispatch(const command& c, const parsed_args& p, char** envp) {
    if (c.name == "serve") return cmd_serve(p, envp);
    if (c.name == "install") return cmd_install(p);
    if (c.name == "attach") return cmd_attach(p);
    if (c.name == "detach") return cmd_detach(p);
    if (c.name == "status") return cmd_status(p);
    if (c.name == "token") return cmd_token(p, envp);
    return cmd_demo(p);
}

int usage_failure(const std::string& who, const std::string& what, const std::string& help) {
    std::cerr << who << ": " << first_line(what) << "\nsee `" << help << "`" << std::endl;
    return 2;
}

}  // namespace

int run_cli(int argc, char** argv, char** envp) {
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.empty()) return usage_failure("pglive", "missing command (serve, install, attach, detach, status, token or demo)", "pglive --help");
        const std::string& name = args[0];
        if (is_help(name)) {
            std::cout << top_usage;
            return 0;
        }
        if (name == "help") {  // `pglive help attach`
            if (args.size() == 1) {
                std::cout << top_usage;
                return 0;
            }
            const command* c = find_command(args[1]);
            if (!c) return usage_failure("pglive", "no command '" + args[1] + "'", "pglive --help");
            std::cout << help_of(*c);
            return 0;
        }
        if (name == "--version") {
            std::cout << "pglive " << PGLIVE_VERSION << std::endl;
            return 0;
        }
        const command* c = find_command(name);
        if (!c) {
            if (name.size() > 1 && name[0] == '-')
                return usage_failure("pglive", "unknown option " + name + " (options follow the command: pglive status --db ...)",
                                     "pglive --help");
            return usage_failure("pglive", "unknown command '" + name + "'", "pglive --help");
        }
        std::vector<std::string> rest(args.begin() + 1, args.end());
        if (std::any_of(rest.begin(), rest.end(), is_help)) {
            std::cout << help_of(*c);
            return 0;
        }
        const std::string who = "pglive " + c->name, help = "pglive " + c->name + " --help";
        try {
            parsed_args p = parse_args(*c, rest);
            return dispatch(*c, p, envp);
        } catch (const usage_error& e) {
            return usage_failure(who, e.what(), help);
        } catch (const config_error& e) {  // a bad setting: bad usage too (PROTOCOL §5)
            return usage_failure(who, e.what(), help);
        } catch (const cli_error& e) {
            std::cerr << who << ": " << first_line(e.what()) << std::endl;
            return 1;
        }
    } catch (const std::exception& e) {
        std::cerr << "pglive: " << first_line(e.what()) << std::endl;
        return 1;
    } catch (...) {
        std::cerr << "pglive: internal error (an unknown exception)" << std::endl;
        return 1;
    }
}

}  // namespace pglive
