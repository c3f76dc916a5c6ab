// hub_reads.h — the hub's reads: the attached topics, a topic's rows (a load), a topic's history.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "core/change.h"
#include "core/topic.h"

namespace pglive {

// The attached tables with their keys, exposed columns and column types (a domain's base type).
std::vector<topic_info> list_topics(pqxx::connection_base& conn);

// A topic's rows, the highest position and the snapshot, read in one REPEATABLE READ READ
// ONLY transaction. `error` is set (not thrown) when the topic is not attached.
topic_load load_topic(pqxx::connection_base& conn, const std::string& topic);

// The transactions touching `topic` with after < position <= upto (upto < 0: no upper bound),
// at most max_tx, each holding only that topic's changes. complete=false when retention has
// removed transactions after `after`, or when more than max_tx transactions are in the range
// (the first max_tx are returned).
history_result read_history(pqxx::connection_base& conn, const std::string& topic, int64_t after, int64_t upto,
                            int max_tx);

}  // namespace pglive
