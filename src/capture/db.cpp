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

std::unique_ptr<pqxx::connection> open_connection(const std::string& conninfo, const std::string& role) {
    std::string name = role.empty() ? "pglive" : "pglive-" + role;
    return std::make_unique<pqxx::connection>(with_application_name(conninfo, name));
}

std::string describe_conninfo(pqxx::connection_base& conn) {
    auto s = [](const char* p) { return std::string(p ? p : ""); };
    std::string host = s(conn.hostname());
    if (host.empty()) host = "local";
    return s(conn.username()) + "@" + host + ":" + s(conn.port()) + "/" + s(conn.dbname());
}

}  // namespace pglive
