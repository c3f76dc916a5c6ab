// db.cpp — connection opening with application_name, and log-safe connection descriptions.
#include "capture/db.h"

namespace pglive {

std::string with_application_name(const std::string& conninfo, const std::string& name) {
    bool uri = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
    if (uri) {
        // libpq takes the last occurrence of a parameter, so appending overrides the user's.
        char sep = conninfo.find('?') == std::string::npos ? '?' : '&';
        return conninfo + sep + "application_name=" + name;
    }
    std::string out = conninfo;
    if (!out.empty()) out += ' ';
    return out + "application_name=" + name;
}

namespace {

// Adds `key=value` unless the conninfo already sets key (the user's choice wins).
std::string with_default(const std::string& conninfo, const std::string& key, const std::string& value) {
    if (conninfo.find(key + "=") != std::string::npos) return conninfo;
    bool uri = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
    if (uri) return conninfo + (conninfo.find('?') == std::string::npos ? '?' : '&') + key + "=" + value;
    return conninfo + (conninfo.empty() ? "" : " ") + key + "=" + value;
}

}  // namespace

std::unique_ptr<pqxx::connection> open_connection(const std::string& conninfo, const std::string& role) {
    std::string name = role.empty() ? "pglive" : "pglive-" + role;
    // A database host that vanishes (no RST) must surface as an error within seconds, not after
    // TCP's retransmission timeout: pg_eventserv's silent death came from waiting forever.
    std::string ci = with_default(conninfo, "connect_timeout", "10");
    ci = with_default(ci, "keepalives_idle", "30");
    ci = with_default(ci, "keepalives_interval", "10");
    ci = with_default(ci, "keepalives_count", "3");
    ci = with_default(ci, "tcp_user_timeout", "60000");
    return std::make_unique<pqxx::connection>(with_application_name(ci, name));
}

std::string describe_conninfo(pqxx::connection_base& conn) {
    auto s = [](const char* p) { return std::string(p ? p : ""); };
    std::string host = s(conn.hostname());
    if (host.empty()) host = "local";
    return s(conn.username()) + "@" + host + ":" + s(conn.port()) + "/" + s(conn.dbname());
}

}  // namespace pglive
