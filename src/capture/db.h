// db.h — opening pglive's database connections (named in pg_stat_activity) and describing them for logs.
#pragma once

#include <memory>
#include <string>

#include <pqxx/pqxx>

namespace pglive {

// Connects with application_name "pglive-<role>" ("pglive" for role ""), whatever the
// conninfo form (URI or key=value; the name given here wins over one in the conninfo).
// Unless the conninfo sets them: connect_timeout=10, TCP keepalives (30 s idle, 3 x 10 s) and
// tcp_user_timeout=60000, so a vanished host is an error within about a minute.
// Throws pqxx::broken_connection when the database cannot be reached.
std::unique_ptr<pqxx::connection> open_connection(const std::string& conninfo, const std::string& role);

// The conninfo with application_name set, as open_connection uses it.
std::string with_application_name(const std::string& conninfo, const std::string& name);

// "user@host:port/db" for logs; never a password.
std::string describe_conninfo(pqxx::connection_base& conn);

}  // namespace pglive
