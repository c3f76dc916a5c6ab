// admin_commands.cpp — install, attach, detach and status: the DBA's commands on a database.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "capture/admin.h"
#include "capture/db.h"
#include "cli/commands.h"
#include "config/config.h"

namespace pglive {

namespace {

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

std::string joined(const std::vector<std::string>& v, const char* sep = ",") {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
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

}  // namespace

int cmd_install(const parsed_args& p) {
    auto conn = open_connection(db_of(p), "admin");
    install_schema(*conn);
    std::cout << "pglive: schema installed in " << describe_conninfo(*conn) << std::endl;
    return 0;
}

int cmd_attach(const parsed_args& p) {
    auto key = split_list(p.get("key"));
    auto columns = split_list(p.get("columns"));
    auto exclude = split_list(p.get("exclude"));
    if (p.has("key") && key.empty()) throw usage_error("--key needs a value (a column name)");
    if (!columns.empty() && !exclude.empty()) throw usage_error("--columns and --exclude cannot be used together");
    std::optional<std::string> policy;  // not given: kept
    if (p.has("policy") && p.has("no_policy")) throw usage_error("--policy and --no-policy cannot be used together");
    if (p.has("no_policy")) policy = "";
    for (auto& f : p.all("policy")) {  // repeated: ANDed, as one text joined by &
        if (f.empty()) throw usage_error("--policy needs a filter like tenant_id=eq.{tenant} (--no-policy clears it)");
        policy = policy ? *policy + "&" + f : f;
    }
    auto conn = open_connection(db_of(p), "admin");
    topic_info t = attach(*conn, p.positional[0], key, columns, exclude, policy);
    std::cout << "pglive: attached " << t.topic << " (key " << joined(t.key) << "; columns " << joined(t.columns)
              << (t.policy.empty() ? "" : "; policy " + t.policy) << ")" << std::endl;
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
        std::vector<std::vector<std::string>> rows = {{"TOPIC", "KEY", "COLUMNS", "HIDDEN COLUMNS", "POLICY"}};
        for (auto& t : tables) {
            auto list = [&](const char* f) {
                return t.contains(f) ? joined(t[f].get<std::vector<std::string>>(), ", ") : std::string();
            };
            std::string hidden = list("exclude");
            rows.push_back({t.value("topic", ""), list("key"), list("columns"), hidden.empty() ? "-" : hidden,
                            t.value("policy", "-")});
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

}  // namespace pglive
