// pg_errors.h — a PostgreSQL error turned into one clear line naming the operation (and, for a
// missing privilege, which privilege).
#pragma once

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "core/exact_json.h"
#include "core/text.h"

namespace pglive {

// One clear line (no such table, no key → mention --key, missing privilege → which one).
struct admin_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Runs f, translating database errors for `doing` (e.g. "attach public.orders").
template <class F>
auto translated(const std::string& doing, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const pqxx::sql_error& e) {
        std::string msg = first_line(e.what());
        // libpqxx 6.4 leaves sqlstate() empty on insufficient_privilege: test the type too.
        if (e.sqlstate() == "42501" || dynamic_cast<const pqxx::insufficient_privilege*>(&e)) {
            std::string need;
            if (msg.find("schema pglive") != std::string::npos || msg.find("pglive.") != std::string::npos)
                need = "the role needs USAGE on schema pglive and INSERT/UPDATE/DELETE/SELECT on its tables and "
                       "sequences (or be the owner of schema pglive)";
            else if (msg.find("for table") != std::string::npos || msg.find("must be owner") != std::string::npos)
                need = "creating capture triggers needs ownership of the table or its TRIGGER privilege";
            else if (msg.find("database") != std::string::npos)
                need = "installing the schema needs CREATE on the database";
            else
                need = "check the role's privileges";
            throw admin_error(doing + ": " + msg + " (" + need + ")");
        }
        if (msg.rfind(doing, 0) == 0 || msg.rfind("attach", 0) == 0 || msg.rfind("detach", 0) == 0 ||
            msg.rfind("publish", 0) == 0 || msg.rfind("wakeup", 0) == 0)
            throw admin_error(msg);
        throw admin_error(doing + ": " + msg);
    } catch (const pqxx::broken_connection& e) {
        throw admin_error(doing + ": database connection lost: " + first_line(e.what()));
    }
}

// A text[] column read as to_jsonb(…)::text; empty when SQL NULL.
inline std::vector<std::string> strings_of(const pqxx::field& f) {
    if (f.is_null()) return {};
    return json::parse(f.c_str()).get<std::vector<std::string>>();
}

}  // namespace pglive
