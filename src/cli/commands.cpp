// commands.cpp — the `pglive` commands: their synopsis, description and options (the --help text).
#include "cli/commands.h"

#include "config/config.h"

namespace pglive {

const char* const top_usage =
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

namespace {

const char* db_help = "libpq URI or key=value string (default: DATABASE_URL, else libpq's PG* variables)";

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
            if (!k.default_text.empty()) h += " [default: " + k.default_text + "]";
            c.option_help.push_back(h);
        }
        cs.push_back(std::move(c));
    }
    cs.push_back({"install", "pglive install [--db CONNINFO]",
                  "Installs or upgrades the pglive SQL schema (idempotent). Needs CREATE on the database.",
                  {{"db", arity::value, "a libpq URI or key=value string"}},
                  {db_help}, 0, ""});
    cs.push_back({"attach",
                  "pglive attach TABLE [--db CONNINFO] [--key COL,...] [--columns COL,...|--exclude COL,...] "
                  "[--policy FILTER|--no-policy]",
                  "Captures TABLE's changes (TABLE may be schema-qualified; its topic is schema.table) and installs the\n"
                  "schema when it is missing. Attaching again changes the settings given and keeps the others.",
                  {{"db", arity::value, "a libpq URI or key=value string"},
                   {"key", arity::value, "a column name, or several separated by commas"},
                   {"columns", arity::value, "column names separated by commas"},
                   {"exclude", arity::value, "column names separated by commas"},
                   {"policy", arity::value, "a filter like tenant_id=eq.{tenant}", true},
                   {"no-policy", arity::flag, ""}},
                  {db_help, "the row key (default: the primary key; needed for a table without one)",
                   "stream only these columns (the key is always streamed)",
                   "never stream these columns (e.g. password_hash)",
                   "a row policy (tenant_id=eq.{tenant}: {claim} is the reader's token claim); repeat to AND",
                   "remove the row policy"},
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
                  "                    [--claim NAME=VALUE ...] [--config FILE] [--token-secret SECRET]",
                  "Prints a token (an HS256 JWT) signed with the token_secret `pglive serve` reads: from the config\n"
                  "file, PGLIVE_TOKEN_SECRET or --token-secret (later wins). Pass it to pglive.js (connect({token}))\n"
                  "or as Authorization: Bearer TOKEN.",
                  {{"sub", arity::value, "the user id"},
                   {"topics", arity::value, "a topic pattern such as public.*", true},
                   {"publish", arity::flag, ""},
                   {"admin", arity::flag, ""},
                   {"metrics", arity::flag, ""},
                   {"ttl", arity::value, "a duration such as 90s, 15m, 1h or 30d"},
                   {"claim", arity::value, "NAME=VALUE, e.g. tenant=acme", true},
                   {"config", arity::value, "a file of key = value lines"},
                   {"token-secret", arity::value, "the HS256 secret"}},
                  {"the token's sub, the user id (POST /api/publish {\"user\":USER} reaches it)",
                   "topics the token may read: public.orders, public.* or *; repeat it, or separate with commas",
                   "may call POST /api/publish",
                   "may use the admin API and the dashboard's admin view (attach, detach, status)",
                   "may read GET /metrics",
                   "how long the token is valid: a number with s, m, h or d (1h30m works too) [default: 1h]",
                   "a string claim for row policies (attach --policy 'tenant_id=eq.{tenant}'); repeatable",
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

}  // namespace

const std::vector<command>& commands() {
    static const std::vector<command> cs = make_commands();
    return cs;
}

const command* find_command(const std::string& name) {
    for (auto& c : commands())
        if (c.name == name) return &c;
    return nullptr;
}

}  // namespace pglive
