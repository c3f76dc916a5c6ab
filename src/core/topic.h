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
    // The row policy (pglive.tables.policy): filters joined by `&`, values may be `{claim}`s;
    // "" for none. core/policy.h resolves it per caller.
    std::string policy = {};
};

// A table read in one REPEATABLE READ transaction, with its hand-off positions
// (docs/DESIGN.md, "Snapshot hand-off"):
// - `read_position` (P_rr): the highest position visible to that transaction; every
//   transaction at or below it is in `rows`.
// - `position` (P*): the highest position, assigned by a sequencer run after the read, whose
//   transaction is visible in `snapshot`, so in `rows`. The load is labelled with it.
// A transaction with read_position < position <= P* is in `rows` when its xid is visible in
// `snapshot` (skip it, but keep it in history), and must be applied when it is not.
struct topic_load {
    topic_info info;
    int64_t position = 0;       // P*
    int64_t read_position = 0;  // P_rr <= P*
    pg_snapshot snapshot;
    std::vector<json> rows;
    std::string error;  // non-empty when the load failed (e.g. "no attached table public.x")
    bool transient = false;  // the database failed (connection lost, a restart): retry, keep the subscribers
};

}  // namespace pglive
