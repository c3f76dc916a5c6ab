// cli_test.cpp — the `pglive` command line as a DBA and a frontend developer use it (issue 13):
// help, one-line usage errors and exit statuses, status as a table and as JSON, commands before
// `pglive install`, detach twice, and `pglive token` against a real `pglive serve`.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "capture/db.h"
#include "core/jwt.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_db.h"
#include "support/ws_client.h"

namespace pglive {
namespace {

using namespace std::chrono_literals;

test::test_db& db() {
    static test::test_db d;
    return d;
}
std::string conninfo(const std::string& name = "postgres") { return db().conninfo(name); }

struct cli : ::testing::Test {
    static void SetUpTestSuite() { db(); }
};

struct run_result {
    int status = -1;
    std::string out, err;  // stdout and stderr, apart
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs the real binary; stderr goes to a file (through sh), so stdout and stderr stay apart.
run_result run(std::vector<std::string> args, std::vector<std::string> env = {}) {
    static int n = 0;
    std::string err_path = ::testing::TempDir() + "/pglive-cli-" + std::to_string(getpid()) + "-" + std::to_string(++n);
    std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>'" + err_path + "'", PGLIVE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    run_result r;
    {
        test::process p(argv, std::move(env));
        r.status = p.wait_exit(60s).value_or(-1);
        r.out = p.output();
    }
    r.err = read_file(err_path);
    std::remove(err_path.c_str());
    return r;
}

std::string shown(const std::vector<std::string>& args) {
    std::string s = "pglive";
    for (auto& a : args) s += " " + a;
    return s;
}

int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------- help

TEST_F(cli, help_and_h_print_the_usage_of_each_command_and_exit_0) {
    for (std::string cmd : {"", "serve", "install", "attach", "detach", "status", "token", "demo"}) {
        for (std::string h : {"--help", "-h"}) {
            std::vector<std::string> args;
            if (!cmd.empty()) args.push_back(cmd);
            args.push_back(h);
            auto r = run(args);
            EXPECT_EQ(r.status, 0) << shown(args) << "\n" << r.err;
            EXPECT_EQ(r.err, "") << shown(args);
            EXPECT_EQ(r.out.rfind("usage: pglive", 0), 0u) << shown(args) << "\n" << r.out;
            if (!cmd.empty()) {
                EXPECT_EQ(r.out.rfind("usage: pglive " + cmd, 0), 0u) << shown(args) << "\n" << r.out;
            }
        }
    }
    // Help wins over the rest of the line (a DBA adds --help to the command that failed).
    auto r = run({"attach", "public.whatever", "--key", "-h"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("--key COL,..."), std::string::npos) << r.out;
    // serve lists every setting it takes as a flag.
    r = run({"serve", "--help"});
    EXPECT_NE(r.out.find("--poll-interval-ms"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--token-secret"), std::string::npos) << r.out;
    r = run({"help", "token"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out.rfind("usage: pglive token", 0), 0u) << r.out;
}

// ---------------------------------------------------------------- usage errors

// One line saying what is wrong, one "see `pglive CMD --help`" line, nothing on stdout, exit 2.
void expect_usage_error(const std::vector<std::string>& args, const std::string& says) {
    auto r = run(args);
    std::string cmd = args.empty() || args[0].rfind("-", 0) == 0 || args[0] == "frobnicate" ? "" : " " + args[0];
    EXPECT_EQ(r.status, 2) << shown(args) << "\n" << r.err;
    EXPECT_EQ(r.out, "") << shown(args);
    auto l = lines_of(r.err);
    ASSERT_EQ(l.size(), 2u) << shown(args) << ":\n" << r.err;
    EXPECT_EQ(l[0].rfind("pglive" + cmd + ": ", 0), 0u) << shown(args) << ": " << l[0];
    EXPECT_NE(l[0].find(says), std::string::npos) << shown(args) << ": " << l[0];
    EXPECT_EQ(l[1], "see `pglive" + cmd + " --help`") << shown(args);
}

TEST_F(cli, usage_errors_are_one_line_naming_the_argument_and_exit_2) {
    const std::string d = conninfo();
    expect_usage_error({}, "missing command");
    expect_usage_error({"frobnicate"}, "unknown command 'frobnicate'");
    expect_usage_error({"--db", d}, "unknown option --db");
    expect_usage_error({"attach"}, "missing TABLE");
    expect_usage_error({"attach", "a", "b"}, "'b'");
    expect_usage_error({"attach", "public.t", "--key"}, "--key needs a value (a column name");
    expect_usage_error({"attach", "public.t", "--key", "--db", d}, "--key needs a value");
    expect_usage_error({"attach", "public.t", "--key="}, "--key needs a value");
    expect_usage_error({"attach", "public.t", "--key", ","}, "--key needs a value");
    expect_usage_error({"attach", "public.t", "--columns", "a", "--exclude", "b"}, "--columns and --exclude");
    expect_usage_error({"attach", "public.t", "--frob", "1"}, "unknown option --frob");
    expect_usage_error({"attach", "public.t", "-k"}, "unknown option -k");
    expect_usage_error({"detach"}, "missing TABLE");
    expect_usage_error({"detach", "public.t", "--db"}, "--db needs a value");
    expect_usage_error({"install", "extra"}, "takes no argument, got 'extra'");
    expect_usage_error({"status", "--json=yes"}, "--json takes no value");
    expect_usage_error({"status", "--verbose"}, "unknown option --verbose");
    expect_usage_error({"serve", "--frob", "1"}, "unknown option --frob");
    expect_usage_error({"serve", "--listen"}, "--listen needs a value");
    expect_usage_error({"serve", "--wakeup", "sometimes", "--db", d}, "wakeup 'sometimes'");
    expect_usage_error({"serve", "--poll-interval-ms", "soon"}, "--poll-interval-ms: 'soon'");
    expect_usage_error({"token"}, "--sub USER is required");
    expect_usage_error({"token", "--sub"}, "--sub needs a value");
    expect_usage_error({"token", "--sub", "u"}, "would grant nothing");
    for (std::string ttl : {"1x", "0", "-5m", "5w", "h", "1h30", "999999999999d", "1.5h"})
        expect_usage_error({"token", "--sub", "u", "--topics", "public.*", "--ttl", ttl, "--token-secret", "s"},
                           "--ttl '" + ttl + "'");
    expect_usage_error({"token", "--sub", "u", "--topics"}, "--topics needs a value");
    expect_usage_error({"demo", "--traffic", "lots"}, "--traffic 'lots'");
}

// ---------------------------------------------------------------- before install

TEST_F(cli, commands_that_need_the_schema_say_install_it_first) {
    {
        auto conn = open_connection(conninfo(), "test");
        pqxx::nontransaction n(*conn);  // CREATE DATABASE cannot run in a transaction block
        n.exec("DROP DATABASE IF EXISTS cli_empty");
        n.exec("CREATE DATABASE cli_empty");
    }
    const std::string d = conninfo("cli_empty");
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"status", "--db", d}, {"status", "--json", "--db", d}, {"detach", "public.t", "--db", d}}) {
        auto r = run(args);
        EXPECT_EQ(r.status, 1) << shown(args);
        auto l = lines_of(r.err);
        ASSERT_EQ(l.size(), 1u) << shown(args) << ":\n" << r.err;
        EXPECT_EQ(l[0], "pglive " + args[0] + ": pglive is not installed in database cli_empty; run: pglive install");
        EXPECT_EQ(r.out, "");
    }
    // And then it works.
    auto r = run({"install", "--db", d});
    EXPECT_EQ(r.status, 0) << r.err;
    r = run({"status", "--db", d});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("No attached tables"), std::string::npos) << r.out;
}

// ---------------------------------------------------------------- detach twice

TEST_F(cli, attach_and_detach_twice_both_succeed) {
    db().sql("CREATE TABLE public.cli_twice (id int PRIMARY KEY, v text)");
    const std::string d = conninfo();
    auto r = run({"attach", "public.cli_twice", "--db", d});
    EXPECT_EQ(r.status, 0) << r.err;
    r = run({"attach", "public.cli_twice", "--db", d});
    EXPECT_EQ(r.status, 0) << r.err;
    r = run({"detach", "public.cli_twice", "--db", d});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "pglive: detached public.cli_twice\n");
    r = run({"detach", "public.cli_twice", "--db", d});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "pglive: public.cli_twice is not attached; nothing to do\n");
    EXPECT_EQ(r.err, "");
    // A table that does not exist is still an error, not a note.
    r = run({"detach", "public.cli_no_such_table", "--db", d});
    EXPECT_EQ(r.status, 1);
    auto l = lines_of(r.err);
    ASSERT_EQ(l.size(), 1u) << r.err;
    EXPECT_NE(l[0].find("no such table public.cli_no_such_table"), std::string::npos) << l[0];
}

// ---------------------------------------------------------------- status

TEST_F(cli, status_is_an_aligned_table_and_json_for_scripts) {
    db().sql("CREATE TABLE public.cli_status_users (id int PRIMARY KEY, name text, password_hash text)");
    db().sql("CREATE TABLE public.cli_status_events (tenant int, id int, what text)");
    const std::string d = conninfo();
    ASSERT_EQ(run({"attach", "public.cli_status_users", "--exclude", "password_hash", "--db", d}).status, 0);
    ASSERT_EQ(run({"attach", "public.cli_status_events", "--key", "tenant,id", "--db", d}).status, 0);
    db().sql("INSERT INTO public.cli_status_users VALUES (1, 'ann', 'x')");

    auto r = run({"status", "--db", d});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out.find('{'), std::string::npos) << "no raw JSON:\n" << r.out;
    for (auto label : {"Database:", "Wake-up mode:", "Last position:", "Capture lag:", "Outbox:", "Pruned up to:"})
        EXPECT_NE(r.out.find(label), std::string::npos) << label << "\n" << r.out;
    EXPECT_EQ(r.out.find("outbox_rows"), std::string::npos) << "internal field names:\n" << r.out;
    auto l = lines_of(r.out);
    size_t head = 0;
    while (head < l.size() && l[head].rfind("TOPIC", 0) != 0) ++head;
    ASSERT_LT(head, l.size()) << r.out;
    const std::string& h = l[head];
    size_t key_at = h.find("KEY"), cols_at = h.find("COLUMNS"), hidden_at = h.find("HIDDEN COLUMNS"),
           policy_at = h.find("POLICY");
    ASSERT_NE(hidden_at, std::string::npos) << h;
    ASSERT_NE(policy_at, std::string::npos) << h;
    bool users = false, events = false;
    for (size_t i = head + 1; i < l.size(); ++i) {
        const std::string& row = l[i];
        if (row.rfind("public.cli_status_users ", 0) == 0) {
            users = true;
            EXPECT_EQ(row.substr(key_at, 3), "id ") << row;
            EXPECT_EQ(row.substr(cols_at, 8), "id, name") << row;
            EXPECT_EQ(row.substr(hidden_at, 14), "password_hash ") << row;
            EXPECT_EQ(row.substr(policy_at), "-") << row;  // no row policy
        }
        if (row.rfind("public.cli_status_events ", 0) == 0) {
            events = true;
            EXPECT_EQ(row.substr(key_at, 10), "tenant, id") << row;
            EXPECT_EQ(row.substr(hidden_at, 2), "- ") << row;
            EXPECT_EQ(row.substr(policy_at), "-") << row;
        }
    }
    EXPECT_TRUE(users && events) << r.out;

    r = run({"status", "--json", "--db", d});
    ASSERT_EQ(r.status, 0) << r.err;
    json s = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(s.is_discarded()) << r.out;
    for (auto f : {"outbox_rows", "tx_rows", "last_position", "pruned_upto"})
        EXPECT_TRUE(s[f].is_number_integer()) << f << ": " << r.out;
    EXPECT_TRUE(s["lag_seconds"].is_number()) << r.out;
    EXPECT_TRUE(s["wakeup"] == "notify" || s["wakeup"] == "poll") << r.out;
    EXPECT_GE(s["outbox_rows"].get<int64_t>(), 1);
    bool found = false;
    for (auto& t : s["tables"])
        if (t["topic"] == "public.cli_status_users") {
            found = true;
            EXPECT_EQ(t["key"], json::array({"id"}));
            EXPECT_EQ(t["columns"], json::array({"id", "name"}));
            EXPECT_EQ(t["exclude"], json::array({"password_hash"}));
        }
    EXPECT_TRUE(found) << r.out;
}

// ---------------------------------------------------------------- tokens

std::string token_of(const run_result& r) {
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    auto l = lines_of(r.out);
    EXPECT_EQ(l.size(), 1u) << r.out;
    return l.empty() ? "" : l[0];
}

int get_status(uint16_t port, const std::string& target, const std::string& token) {
    return test::http_get("127.0.0.1", port, target, {{"Authorization", "Bearer " + token}}).status;
}

TEST_F(cli, token_claim_for_a_row_policy) {
    const std::string secret = "cli-secret-2";
    std::string t = token_of(run({"token", "--sub", "u", "--topics", "public.*", "--claim", "tenant=acme,b=c",
                                  "--claim", "org=42", "--token-secret", secret}));
    access a = verify_jwt(t, secret, now_s());
    EXPECT_EQ(a.claims["tenant"], "acme,b=c");  // everything after the first '=', as a string
    EXPECT_EQ(a.claims["org"], "42");
    for (auto bad : {"tenant", "=x", "sub=eve", "admin=true", "exp=1"}) {
        auto r = run({"token", "--sub", "u", "--topics", "*", "--claim", bad, "--token-secret", secret});
        EXPECT_EQ(r.status, 2) << bad;
        EXPECT_NE(r.err.find("--claim"), std::string::npos) << r.err;
    }
}

TEST_F(cli, token_claims_ttl_and_where_the_secret_comes_from) {
    const std::string secret = "cli-secret-1";
    int64_t before = now_s();
    std::string t = token_of(run({"token", "--sub", "alice", "--topics", "public.*", "--topics", "app.orders, app.users",
                                  "--publish", "--ttl", "2d", "--token-secret", secret}));
    access a = verify_jwt(t, secret, now_s());
    EXPECT_EQ(a.user, "alice");
    EXPECT_EQ(a.topics, (std::vector<std::string>{"public.*", "app.orders", "app.users"}));
    EXPECT_TRUE(a.publish);
    EXPECT_FALSE(a.admin);
    ASSERT_TRUE(a.expires.has_value());
    EXPECT_GE(*a.expires, before + 2 * 86400);
    EXPECT_LE(*a.expires, now_s() + 2 * 86400);
    for (auto [ttl, seconds] : std::vector<std::pair<std::string, int64_t>>{
             {"90s", 90}, {"15m", 900}, {"1h", 3600}, {"1h30m", 5400}, {"120", 120}}) {
        int64_t at = now_s();
        access b = verify_jwt(token_of(run({"token", "--sub", "u", "--admin", "--ttl", ttl, "--token-secret", secret})),
                              secret, now_s());
        EXPECT_TRUE(b.admin);
        EXPECT_GE(*b.expires, at + seconds) << ttl;
        EXPECT_LE(*b.expires, now_s() + seconds) << ttl;
    }
    // The default: one hour.
    int64_t at = now_s();
    access c = verify_jwt(token_of(run({"token", "--sub", "u", "--topics", "*", "--token-secret", secret})), secret, now_s());
    EXPECT_GE(*c.expires, at + 3600);
    EXPECT_LE(*c.expires, now_s() + 3600);

    // The same layers as serve: the config file, then PGLIVE_TOKEN_SECRET, then the flag.
    std::string conf = ::testing::TempDir() + "/pglive-cli-token.conf";
    {
        std::ofstream out(conf);
        out << "# serve's config\ntoken_secret = from-file\nlisten = 127.0.0.1:0\n";
    }
    EXPECT_NO_THROW(verify_jwt(token_of(run({"token", "--sub", "u", "--topics", "*", "--config", conf})), "from-file", now_s()));
    EXPECT_NO_THROW(verify_jwt(token_of(run({"token", "--sub", "u", "--topics", "*"}, {"PGLIVE_TOKEN_SECRET=from-env"})),
                               "from-env", now_s()));
    EXPECT_NO_THROW(verify_jwt(token_of(run({"token", "--sub", "u", "--topics", "*", "--config", conf},
                                            {"PGLIVE_TOKEN_SECRET=from-env"})),
                               "from-env", now_s()));
    EXPECT_NO_THROW(verify_jwt(token_of(run({"token", "--sub", "u", "--topics", "*", "--config", conf,
                                             "--token-secret", "from-flag"},
                                            {"PGLIVE_TOKEN_SECRET=from-env"})),
                               "from-flag", now_s()));
    std::remove(conf.c_str());

    // No secret anywhere: a clear error, exit 1.
    auto r = run({"token", "--sub", "u", "--topics", "*"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out, "");
    auto l = lines_of(r.err);
    ASSERT_EQ(l.size(), 1u) << r.err;
    EXPECT_EQ(l[0].rfind("pglive token: no token secret configured", 0), 0u) << l[0];
    EXPECT_NE(l[0].find("token_secret"), std::string::npos) << l[0];
    EXPECT_NE(l[0].find("PGLIVE_TOKEN_SECRET"), std::string::npos) << l[0];
}

TEST_F(cli, a_token_from_pglive_token_is_accepted_by_serve_until_it_expires) {
    db().sql("CREATE TABLE public.cli_tok (id int PRIMARY KEY, v text); INSERT INTO public.cli_tok VALUES (1, 'a')");
    db().sql("SELECT pglive.attach('public.cli_tok')");
    const std::string secret = "cli-serve-secret";
    auto s = test::start_serve(db().serve_conninfo(), {"--token-secret", secret});
    const std::string target = "/api/topics/public.cli_tok/rows";

    std::string reader = token_of(run({"token", "--sub", "alice", "--topics", "public.cli_*", "--token-secret", secret}));
    EXPECT_EQ(get_status(s.port, target, reader), 200);
    auto topics = test::http_get("127.0.0.1", s.port, "/api/topics", {{"Authorization", "Bearer " + reader}});
    EXPECT_NE(topics.body.find("public.cli_tok"), std::string::npos) << topics.body;
    EXPECT_EQ(test::http_get("127.0.0.1", s.port, target).status, 403) << "no anonymous access configured";

    // Over WebSocket, as pglive.js sends it.
    {
        test::ws_client ws("127.0.0.1", s.port, "/ws");
        ws.send(json{{"op", "auth"}, {"ref", "a"}, {"token", reader}});
        auto m = ws.read(10s);
        ASSERT_TRUE(m.has_value());
        EXPECT_EQ((*m)["type"], "authenticated") << m->dump();
        EXPECT_EQ((*m)["user"], "alice") << m->dump();
        ws.send(json{{"op", "subscribe"}, {"ref", "1"}, {"topic", "public.cli_tok"}});
        m = ws.read(10s);
        ASSERT_TRUE(m.has_value());
        EXPECT_EQ((*m)["type"], "subscribed") << m->dump();
        m = ws.read(10s);
        ASSERT_TRUE(m.has_value());
        EXPECT_EQ((*m)["type"], "snapshot") << m->dump();
        EXPECT_EQ((*m)["rows"]["1"]["v"], "a") << m->dump();
    }

    // Rights: --publish may publish, a reader may not.
    auto publish = [&](const std::string& token) {
        return test::http_post("127.0.0.1", s.port, "/api/publish", json{{"topic", "cli_alerts"}, {"data", 1}}.dump(),
                               {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}})
            .status;
    };
    EXPECT_EQ(publish(reader), 403);
    EXPECT_EQ(publish(token_of(run({"token", "--sub", "svc", "--publish", "--token-secret", secret}))), 200);
    EXPECT_EQ(get_status(s.port, "/api/admin/status", reader), 403);
    EXPECT_EQ(get_status(s.port, "/api/admin/status",
                         token_of(run({"token", "--sub", "dba", "--admin", "--token-secret", secret}))),
              200);

    // Signed with another secret: refused.
    std::string forged = token_of(run({"token", "--sub", "alice", "--topics", "*", "--token-secret", "not-the-secret"}));
    EXPECT_EQ(get_status(s.port, target, forged), 401);

    // Expired: accepted, then refused once its second has passed.
    std::string brief = token_of(run({"token", "--sub", "alice", "--topics", "*", "--ttl", "1s", "--token-secret", secret}));
    int64_t exp = *verify_jwt(brief, secret, now_s() - 5).expires;
    bool refused = test::eventually([&] { return get_status(s.port, target, brief) == 401; }, 15s, 50ms);
    EXPECT_TRUE(refused) << "a token past its exp is refused";
    EXPECT_GE(now_s(), exp) << "and not before";
    auto body = test::http_get("127.0.0.1", s.port, target, {{"Authorization", "Bearer " + brief}}).body;
    EXPECT_NE(body.find("expired"), std::string::npos) << body;
}

// ---------------------------------------------------------------- serve's start-up warning

TEST_F(cli, serve_warns_when_nobody_can_read) {
    {
        auto s = test::start_serve(db().serve_conninfo(), {});
        EXPECT_TRUE(s.proc->wait_for_line("nobody can read", 10s)) << s.proc->output();
        auto l = lines_of(s.proc->output());
        int warnings = 0;
        for (auto& line : l)
            if (line.find("nobody can read") != std::string::npos) {
                ++warnings;
                EXPECT_NE(line.find("WARN"), std::string::npos) << line;
                EXPECT_NE(line.find("token_secret"), std::string::npos) << line;
                EXPECT_NE(line.find("anonymous_topics"), std::string::npos) << line;
            }
        EXPECT_EQ(warnings, 1) << s.proc->output();
    }
    for (std::vector<std::string> extra : std::vector<std::vector<std::string>>{
             {"--token-secret", "x"}, {"--anonymous-topics", "public.*"}}) {
        auto s = test::start_serve(db().serve_conninfo(), extra);
        EXPECT_EQ(s.proc->output().find("nobody can read"), std::string::npos) << s.proc->output();
    }
}

}  // namespace
}  // namespace pglive
