// admin.h — the DBA's operations on a connection: install, attach, detach, status, publish, retention.
//
// Used by the CLI and tests directly, and by db_worker on its own thread.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "core/change.h"
#include "capture/pg_errors.h"
#include "core/topic.h"

namespace pglive {

void install_schema(pqxx::connection_base& conn);  // idempotent: also upgrades
bool schema_installed(pqxx::connection_base& conn);

// Empty vectors mean "not given": key defaults to the primary key, columns/exclude to none.
// `policy`: nullopt keeps the table's row policy, "" clears it, else filters joined by `&`
// (docs/PROTOCOL.md §2). Installs the schema when it is missing. Re-attaching keeps what is not given.
topic_info attach(pqxx::connection_base& conn, const std::string& table, const std::vector<std::string>& key = {},
                  const std::vector<std::string>& columns = {}, const std::vector<std::string>& exclude = {},
                  const std::optional<std::string>& policy = std::nullopt);
void detach(pqxx::connection_base& conn, const std::string& table);

// {"tables":[{"topic","key","columns","exclude"?,"policy"?}], "outbox_rows", "tx_rows", "last_position",
//  "lag_seconds" (now - oldest unsequenced change, 0 when none), "wakeup", "pruned_upto"}
json status(pqxx::connection_base& conn);
void set_wakeup(pqxx::connection_base& conn, const std::string& mode);  // "notify" | "poll"
void publish(pqxx::connection_base& conn, const std::string& topic, const json& data);

// Retention: drops sequenced transactions older than age_seconds and beyond the newest
// max_count (a value <= 0 disables that bound), never past the delivered position of a node
// that beat within node_timeout_s (<= 0: every registered node holds). Returns how many
// transactions it removed.
int64_t prune(pqxx::connection_base& conn, int64_t age_seconds, int64_t max_count, int64_t node_timeout_s = 30);

// A serving node's heartbeat: it has delivered every position up to `delivered` (pglive.nodes).
void beat(pqxx::connection_base& conn, const std::string& node_id, int64_t delivered);
void leave(pqxx::connection_base& conn, const std::string& node_id);  // a clean stop: no longer holds

}  // namespace pglive
