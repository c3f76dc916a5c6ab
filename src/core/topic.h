// topic.h — what pglive knows of an attached table (pglive.tables), and a loaded snapshot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/pg_snapshot.h"

namespace pglive {

struct topic_info {
    std::string topic;                 // "schema.table"
    std::vector<std::string> key;      // key columns, in order
    std::vector<std::string> columns;  // exposed columns, in table order
    // Each column's PostgreSQL type (format_type of a domain's base type, e.g. "bigint",
    // "numeric", "timestamp with time zone"), same order as columns; filters and orders compare
    // by it (filter.h value_kind). May be empty (then values compare by their JSON type).
    std::vector<std::string> types = {};
};

// A table read in one REPEATABLE READ transaction: its rows, the highest position visible
// to that transaction, and the transaction's snapshot. A transaction with a position above
// `position` whose xid is visible in `snapshot` is already in `rows` and must be skipped.
struct topic_load {
    topic_info info;
    int64_t position = 0;
    pg_snapshot snapshot;
    std::vector<json> rows;
    std::string error;  // non-empty when the load failed (e.g. "no attached table public.x")
};

}  // namespace pglive
