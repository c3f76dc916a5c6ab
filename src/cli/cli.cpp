// cli.cpp — the `pglive` command line (PROTOCOL §1): parse, dispatch, exit status.
//
// Each command declares its options (which take a value, which are switches), so a missing
// value is a usage error naming the option, and `--help`/`-h` anywhere prints that command's
// usage. A usage error is one line on stderr plus a "see `pglive CMD --help`" hint, exit 2;
// any other error one line, exit 1. No exception leaves run_cli.
#include "cli/cli.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "capture/admin.h"
#include "capture/db.h"
#include "config/config.h"
#include "core/jwt.h"
#include "core/log.h"
#include "demo/demo.h"
#include "server/app.h"

namespace pglive {

namespace {

const char* top_usage =
    "usage: pglive COMMAND [OPTIONS]      (pglive COMMAND --help: that command's options)\n"
    "\n"
    "  serve    serve the attached tables' topics over WebSocket, SSE and long-poll, and the dashboard\n"
    "  install  install or upgrade the pglive SQL schema in a database (idempotent)\n"
    "  attach   capture a table's changes; its topic is schema.table (again: change its settings)\n"
    "  detach   stop capturing a table (a table that is not attached: nothing to do)\n"
    "  status   attached tables, outbox size, capture lag (--json for scripts)\n"
    "  token    print a signed token (JWT) for a frontend, a publisher or an admin\n"
    "  demo     a private PostgreSQL with demo tables, live traffic and the dashboard\n"
    "\n"
    "  pglive --help | --version\n"
    "\n"
    "CONNINFO is a libpq URI or key=value string (default: DATABASE_URL, else libpq's PG* variables).\n"
    "Exit status: 0 success, 1 error, 2 bad usage. The contract: docs/PROTOCOL.md.\n";

const char* db_help = "libpq URI or key=value string (default: DATABASE_URL, else libpq's PG* variables)";

enum class arity { value, flag, optional_value };  // optional_value: a boolean setting ("--metrics-public")

struct option {
    std::string name;  // as in argv, without "--" ("token-secret")
    arity kind;
    std::string what;  // the value, for "needs a value (…)"
    bool repeatable = false;
};

struct command {
    std::string name;
    std::string synopsis;      // after "usage: "
    std::string description;   // a paragraph
    std::vector<option> options;
    std::vector<std::string> option_help;  // one per option, same order
    size_t positional = 0;     // exactly this many arguments
    std::string positional_what;  // "TABLE"
};

struct usage_error : std::runtime_error {  // exit 2
    using std::runtime_error::runtime_error;
};

// Any other failure the CLI itself detects (exit 1), said as "pglive CMD: what".
struct cli_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Flags as (name with '-' → '_', value).
struct parsed_args {
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::string>> flags;
    bool has(const std::string& name) const {
        for (auto& [k, v] : flags)
            if (k == name) return true;
        return false;
    }
    std::string get(const std::string& name) const {  // the last one given
        std::string out;
        for (auto& [k, v] : flags)
            if (k == name) out = v;
        return out;
    }
    std::vector<std::string> all(const std::string& name) const {
        std::vector<std::string> out;
        for (auto& [k, v] : flags)
            if (k == name) out.push_back(v);
        return out;
    }
};

std::string underscored(std::string s) {
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}
std::string dashed(std::string s) {
    std::replace(s.begin(), s.end(), '_', '-');
    return s;
}

bool is_help(const std::string& a) { return a == "--help" || a == "-h"; }
bool looks_like_option(const std::string& a) { return a.rfind("--", 0) == 0 || is_help(a); }

parsed_args parse_args(const command& cmd, const std::vector<std::string>& args) {
    parsed_args p;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.rfind("--", 0) != 0) {
            if (a.size() > 1 && a[0] == '-') throw usage_error("unknown option " + a);
            p.positional.push_back(a);
            continue;
        }
        std::string name = a.substr(2), value;
        bool inline_value = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            inline_value = true;
        }
        auto o = std::find_if(cmd.options.begin(), cmd.options.end(),
                              [&](const option& x) { return underscored(x.name) == underscored(name); });
        if (o == cmd.options.end()) {
            if (cmd.name == "serve")
                throw usage_error("unknown option --" + name + " (not a key of config/pglive.conf)");
            throw usage_error("unknown option --" + name);
        }
        std::string shown = "--" + o->name;
        switch (o->kind) {
        case arity::flag:
            if (inline_value) throw usage_error(shown + " takes no value");
            value = "true";
            break;
        case arity::value:
            if (!inline_value) {
                if (i + 1 >= args.size() || looks_like_option(args[i + 1]))
                    throw usage_error(shown + " needs a value (" + o->what + ")");
                value = args[++i];
            }
            if (value.empty()) throw usage_error(shown + " needs a value (" + o->what + "), not an empty one");
            break;
        case arity::optional_value:
            if (!inline_value) value = i + 1 < args.size() && !looks_like_option(args[i + 1]) ? args[++i] : "true";
            break;
        }
        p.flags.emplace_back(underscored(o->name), value);
    }
    if (p.positional.size() > cmd.positional) {
        if (cmd.positional == 0) throw usage_error("takes no argument, got '" + p.positional[0] + "'");
        throw usage_error("takes one " + cmd.positional_what + ", got also '" + p.positional[cmd.positional] + "'");
    }
    if (p.positional.size() < cmd.positional)
        throw usage_error("missing " + cmd.positional_what + " (e.g. pglive " + cmd.name + " public.orders)");
    return p;
}

// The commands and their options.
std::vector<command> make_commands() {
    std::vector<command> cs;
    {
        command c{"serve", "pglive serve [--config FILE] [--db CONNINFO] [--listen HOST:PORT] [--token-secret SECRET] [--KEY VALUE ...]",
                  "Serves the attached tables' topics over WebSocket (/ws), SSE (/sse) and long-poll (/poll), the HTTP API\n"
                  "(/api/...) and the dashboard (/); prints \"pglive: serving URL (N topics)\" when ready. Settings come\n"
                  "from the config file, then PGLIVE_<KEY> variables, then these flags (later wins); every key of\n"
                  "config/pglive.conf is a flag, '_' written '-' (--poll-interval-ms 50). Needs `pglive install` first.",
                  {}, {}, 0, ""};
        c.options.push_back({"config", arity::value, "a file of key = value lines"});
        c.option_help.push_back("a file of key = value lines (config/pglive.conf documents every key)");
        for (auto& k : config_keys()) {
            bool boolean = std::string(k.name) == "metrics_public";
            c.options.push_back({dashed(k.name), boolean ? arity::optional_value : arity::value,
                                 std::string("see ") + k.name + " in config/pglive.conf"});
            std::string h = k.help;
            if (*k.default_text) h += " [default: " + std::string(k.default_text) + "]";
            c.option_help.push_back(h);
        }
        cs.push_back(std::move(c));
    }
    cs.push_back({"install", "pglive install [--db CONNINFO]",
                  "Installs or upgrades the pglive SQL schema (idempotent). Needs CREATE on the database.",
                  {{"db", arity::value, "a libpq URI or key=value string"}},
                  {db_help}, 0, ""});
    cs.push_back({"attach", "pglive attach TABLE [--db CONNINFO] [--key COL,...] [--columns COL,...|--exclude COL,...]",
                  "Captures TABLE's changes (TABLE may be schema-qualified; its topic is schema.table) and installs the\n"
                  "schema when it is missing. Attaching again changes the settings given and keeps the others.",
                  {{"db", arity::value, "a libpq URI or key=value string"},
                   {"key", arity::value, "a column name, or several separated by commas"},
                   {"columns", arity::value, "column names separated by commas"},
                   {"exclude", arity::value, "column names separated by commas"}},
                  {db_help, "the row key (default: the primary key; needed for a table without one)",
                   "stream only these columns (the key is always streamed)",
                   "never stream these columns (e.g. password_hash)"},
                  1, "TABLE"});
    cs.push_back({"detach", "pglive detach TABLE [--db CONNINFO]",
                  "Stops capturing TABLE; its subscribers get an unknown_topic error. A table that is not attached\n"
                  "is left as it is (exit 0, with a note).",
                  {{"db", arity::value, "a libpq URI or key=value string"}},
                  {db_help}, 1, "TABLE"});
    cs.push_back({"status", "pglive status [--db CONNINFO] [--json]",
                  "Shows the attached tables, the outbox's size, the last position and the capture lag.",
                  {{"db", arity::value, "a libpq URI or key=value string"}, {"json", arity::flag, ""}},
                  {db_help, "print one JSON object instead (fields: docs/PROTOCOL.md section 1)"}, 0, ""});
    cs.push_back({"token", "pglive token --sub USER [--topics PATTERN ...] [--publish] [--admin] [--metrics] [--ttl 1h]\n"
                  "                    [--config FILE] [--token-secret SECRET]",
                  "Prints a token (an HS256 JWT) signed with the token_secret `pglive serve` reads: from the config\n"
                  "file, PGLIVE_TOKEN_SECRET or --token-secret (later wins). Pass it to pglive.js (connect({token}))\n"
                  "or as Authorization: Bearer TOKEN.",
                  {{"sub", arity::value, "the user id"},
                   {"topics", arity::value, "a topic pattern such as public.*", true},
                   {"publish", arity::flag, ""},
                   {"admin", arity::flag, ""},
                   {"metrics", arity::flag, ""},
                   {"ttl", arity::value, "a duration such as 90s, 15m, 1h or 30d"},
                   {"config", arity::value, "a file of key = value lines"},
                   {"token-secret", arity::value, "the HS256 secret"}},
                  {"the token's sub, the user id (POST /api/publish {\"user\":USER} reaches it)",
                   "topics the token may read: public.orders, public.* or *; repeat it, or separate with commas",
                   "may call POST /api/publish",
                   "may use the admin API and the dashboard's admin view (attach, detach, status)",
                   "may read GET /metrics",
                   "how long the token is valid: a number with s, m, h or d (1h30m works too) [default: 1h]",
                   "the config file serve reads (for its token_secret)",
                   "the secret itself (visible in ps: prefer the config file or PGLIVE_TOKEN_SECRET)"},
                  0, ""});
    cs.push_back({"demo", "pglive demo [--listen HOST:PORT] [--traffic N]",
                  "Starts a private PostgreSQL in a temporary directory, attaches two demo tables, writes live\n"
                  "traffic and serves the dashboard; Ctrl-C stops it and removes the cluster.",
                  {{"listen", arity::value, "HOST:PORT"}, {"traffic", arity::value, "changes per second, e.g. 5"}},
                  {"HOST:PORT to serve on [default: 127.0.0.1:8080]", "demo changes per second (0: none) [default: 5]"},
                  0, ""});
    return cs;
}

const std::vector<command>& commands() {
    static const std::vector<command> cs = make_commands();
    return cs;
}

const command* find_command(const std::string& name) {
    for (auto& c : commands())
        if (c.name == name) return &c;
    return nullptr;
}

std::string help_of(const command& c) {
    std::ostringstream o;
    o << "usage: " << c.synopsis << "\n\n" << c.description << "\n\n";
    std::vector<std::string> left;
    size_t width = 0;
    for (auto& opt : c.options) {
        std::string l = "--" + opt.name;
        if (opt.kind == arity::value) {
            static const std::vector<std::pair<std::string, std::string>> metas = {
                {"db", "CONNINFO"}, {"config", "FILE"}, {"listen", "HOST:PORT"}, {"metrics-listen", "HOST:PORT"},
                {"key", "COL,..."}, {"columns", "COL,..."}, {"exclude", "COL,..."}, {"sub", "USER"},
                {"topics", "PATTERN"}, {"ttl", "DURATION"}, {"token-secret", "SECRET"}, {"traffic", "N"}};
            std::string meta = "VALUE";
            for (auto& [n, m] : metas)
                if (n == opt.name) meta = m;
            l += " " + meta;
        } else if (opt.kind == arity::optional_value) {
            l += " [true|false]";
        }
        width = std::max(width, l.size());
        left.push_back(l);
    }
    for (size_t i = 0; i < c.options.size(); ++i)
        o << "  " << left[i] << std::string(width - left[i].size() + 2, ' ') << c.option_help[i] << "\n";
    o << "  " << "-h, --help" << std::string(width > 10 ? width - 10 + 2 : 2, ' ') << "this help\n";
    return o.str();
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

// The database for admin commands: --db, else DATABASE_URL, else "" (libpq's PG* variables).
std::string db_of(const parsed_args& p) {
    if (p.has("db")) return p.get("db");
    if (const char* env = std::getenv("DATABASE_URL")) return env;
    return "";
}

// Commands that need the schema say so in our words, not PostgreSQL's "relation does not exist".
void require_installed(pqxx::connection_base& conn) {
    if (!schema_installed(conn))
        throw cli_error(std::string("pglive is not installed in database ") + conn.dbname() +
                                 "; run: pglive install");
}

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

int cmd_install(const parsed_args& p) {
    auto conn = open_connection(db_of(p), "admin");
    install_schema(*conn);
    std::cout << "pglive: schema installed in " << describe_conninfo(*conn) << std::endl;
    return 0;
}

std::string joined(const std::vector<std::string>& v, const char* sep = ",") {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

int cmd_attach(const parsed_args& p) {
    auto key = split_list(p.get("key"));
    auto columns = split_list(p.get("columns"));
    auto exclude = split_list(p.get("exclude"));
    if (p.has("key") && key.empty()) throw usage_error("--key needs a value (a column name)");
    if (!columns.empty() && !exclude.empty()) throw usage_error("--columns and --exclude cannot be used together");
    auto conn = open_connection(db_of(p), "admin");
    topic_info t = attach(*conn, p.positional[0], key, columns, exclude);
    std::cout << "pglive: attached " << t.topic << " (key " << joined(t.key) << "; columns " << joined(t.columns) << ")"
              << std::endl;
    return 0;
}

int cmd_detach(const parsed_args& p) {
    const std::string& table = p.positional[0];
    auto conn = open_connection(db_of(p), "admin");
    require_installed(*conn);
    try {
        detach(*conn, table);
    } catch (const admin_error&) {
        // Like attach twice: a table that exists and is not attached is already where detach
        // would leave it. (Checked after the failure, so a concurrent detach also ends here.)
        bool not_attached = false;
        try {
            pqxx::nontransaction n(*conn);
            not_attached = n.exec_params("select to_regclass($1) is not null and not exists "
                                         "(select 1 from pglive.tables where relid = to_regclass($1))",
                                         table)[0][0]
                               .as<bool>();
        } catch (const std::exception&) {
            // e.g. no right to read pglive.tables: detach's own error says more
        }
        if (!not_attached) throw;
        std::cout << "pglive: " << table << " is not attached; nothing to do" << std::endl;
        return 0;
    }
    std::cout << "pglive: detached " << table << std::endl;
    return 0;
}

// Width of a UTF-8 string in code points (topic names may hold any character).
size_t text_width(const std::string& s) {
    size_t n = 0;
    for (unsigned char ch : s)
        if ((ch & 0xC0) != 0x80) ++n;
    return n;
}

std::string padded(const std::string& s, size_t width) {
    size_t w = text_width(s);
    return s + std::string(width > w ? width - w : 0, ' ');
}

int cmd_status(const parsed_args& p) {
    auto conn = open_connection(db_of(p), "admin");
    require_installed(*conn);
    json s = status(*conn);
    if (p.has("json")) {
        std::cout << s.dump() << std::endl;
        return 0;
    }
    char lag[64];
    std::snprintf(lag, sizeof lag, "%.3f s", s.value("lag_seconds", 0.0));
    std::vector<std::pair<std::string, std::string>> summary = {
        {"Database", describe_conninfo(*conn)},
        {"Wake-up mode", s.value("wakeup", "")},
        {"Last position", std::to_string(s.value("last_position", int64_t(0)))},
        {"Capture lag", lag},
        {"Outbox", std::to_string(s.value("outbox_rows", int64_t(0))) + " rows (captured statements), " +
                       std::to_string(s.value("tx_rows", int64_t(0))) + " transactions"},
        {"Pruned up to", "position " + std::to_string(s.value("pruned_upto", int64_t(0)))},
    };
    std::ostringstream o;
    for (auto& [k, v] : summary) o << padded(k + ":", 15) << v << "\n";
    o << "\n";
    const json& tables = s["tables"];
    if (tables.empty()) {
        o << "No attached tables (pglive attach TABLE attaches one).\n";
    } else {
        std::vector<std::vector<std::string>> rows = {{"TOPIC", "KEY", "COLUMNS", "HIDDEN COLUMNS"}};
        for (auto& t : tables) {
            auto list = [&](const char* f) {
                return t.contains(f) ? joined(t[f].get<std::vector<std::string>>(), ", ") : std::string();
            };
            std::string hidden = list("exclude");
            rows.push_back({t.value("topic", ""), list("key"), list("columns"), hidden.empty() ? "-" : hidden});
        }
        std::vector<size_t> width(rows[0].size(), 0);
        for (auto& r : rows)
            for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], text_width(r[i]));
        for (auto& r : rows) {
            std::string line;
            for (size_t i = 0; i < r.size(); ++i) line += i + 1 < r.size() ? padded(r[i], width[i] + 2) : r[i];
            o << line << "\n";
        }
    }
    std::cout << o.str() << std::flush;
    return 0;
}

// "90s", "15m", "1h", "30d", "1h30m", or plain seconds ("3600"). 0 when malformed.
int64_t parse_duration(const std::string& text) {
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos)
        return text.size() <= 9 ? std::stoll(text) : 0;
    int64_t total = 0;
    size_t i = 0;
    while (i < text.size()) {
        size_t j = i;
        while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
        if (j == i || j - i > 9 || j == text.size()) return 0;
        int64_t n = std::stoll(text.substr(i, j - i));
        switch (text[j]) {
        case 's': break;
        case 'm': n *= 60; break;
        case 'h': n *= 3600; break;
        case 'd': n *= 86400; break;
        default: return 0;
        }
        total += n;
        if (total > int64_t(100) * 365 * 86400) return 0;
        i = j + 1;
    }
    return total;
}

// "public.orders, public.users" → two patterns; a comma inside "quoted" identifiers stays.
std::vector<std::string> split_patterns(const std::string& text) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    auto flush = [&] {
        auto b = cur.find_first_not_of(" \t"), e = cur.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
        cur.clear();
    };
    for (char ch : text) {
        if (ch == '"') quoted = !quoted;
        if (ch == ',' && !quoted) flush();
        else cur += ch;
    }
    flush();
    return out;
}

int cmd_token(const parsed_args& p, char** envp) {
    if (!p.has("sub")) throw usage_error("--sub USER is required (the token's user id)");
    std::vector<std::string> topics;
    for (auto& t : p.all("topics"))
        for (auto& pattern : split_patterns(t)) topics.push_back(pattern);
    if (topics.empty() && !p.has("publish") && !p.has("admin") && !p.has("metrics"))
        throw usage_error("the token would grant nothing: give --topics PATTERN (e.g. 'public.*'), --publish, --admin or --metrics");
    int64_t ttl = 3600;
    if (p.has("ttl")) {
        ttl = parse_duration(p.get("ttl"));
        if (ttl <= 0)
            throw usage_error("--ttl '" + p.get("ttl") + "': expected a duration such as 90s, 15m, 1h or 30d");
    }
    // The same layers as serve: file, environment, flag.
    config c;
    if (p.has("config")) load_config_file(c, p.get("config"));
    load_config_env(c, envp);
    if (p.has("token_secret")) c.token_secret = p.get("token_secret");
    if (c.token_secret.empty())
        throw cli_error("no token secret configured: set token_secret in the config file (--config FILE), "
                                 "PGLIVE_TOKEN_SECRET or --token-secret, the same one serve uses");
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    json claims = {{"sub", p.get("sub")}, {"topics", topics}, {"iat", now}, {"exp", now + ttl}};
    if (p.has("publish")) claims["publish"] = true;
    if (p.has("admin")) claims["admin"] = true;
    if (p.has("metrics")) claims["metrics"] = true;
    std::cout << sign_jwt(claims, c.token_secret) << std::endl;
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

int dispatch(const command& c, const parsed_args& p, char** envp) {
    if (c.name == "serve") return cmd_serve(p, envp);
    if (c.name == "install") return cmd_install(p);
    if (c.name == "attach") return cmd_attach(p);
    if (c.name == "detach") return cmd_detach(p);
    if (c.name == "status") return cmd_status(p);
    if (c.name == "token") return cmd_token(p, envp);
    return cmd_demo(p);
}

std::string first_line_of(std::string msg) {
    auto nl = msg.find('\n');
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    while (!msg.empty() && (msg.back() == ' ' || msg.back() == '\r')) msg.pop_back();
    return msg;
}

int usage_failure(const std::string& who, const std::string& what, const std::string& help) {
    std::cerr << who << ": " << first_line_of(what) << "\nsee `" << help << "`" << std::endl;
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
            std::cerr << who << ": " << first_line_of(e.what()) << std::endl;
            return 1;
        }
    } catch (const std::exception& e) {
        std::cerr << "pglive: " << first_line_of(e.what()) << std::endl;
        return 1;
    } catch (...) {
        std::cerr << "pglive: internal error (an unknown exception)" << std::endl;
        return 1;
    }
}

}  // namespace pglive
