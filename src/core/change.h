// change.h — the value that crosses from capture to the hub: one committed transaction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace pglive {

using json = nlohmann::json;

enum class op_kind {
    insert,    // new_row set
    update,    // old_row and new_row set (a key change is an update whose keys differ)
    remove,    // old_row set
    truncate,  // neither: every row of the topic is gone
    message,   // new_row holds the published data (pglive.publish / POST /api/publish)
    control,   // attach/detach: the set of topics changed (new_row: {"action":…, "topic":…})
};

const char* to_string(op_kind op);

struct change {
    std::string topic;  // "schema.table", or any name for a message
    op_kind op = op_kind::insert;
    json old_row;       // null unless update/remove
    json new_row;       // null unless insert/update/message/control
};

// One committed transaction, as the outbox records it. Positions strictly increase in
// commit order and are the same for every node (docs/DESIGN.md: the sequencer).
// "2026-11-22T10:00:00.123456Z" (the outbox's commit time) → µs since the epoch; 0 when it does
// not read. Parsed once, where a transaction is decoded.
int64_t commit_time_us(std::string_view rfc3339_utc);

struct transaction {
    int64_t position = 0;
    std::string ts;     // commit time (last captured change), RFC 3339 UTC with microseconds
    uint64_t xid = 0;   // full 64-bit transaction id (xid8), for snapshot hand-off
    std::vector<change> changes;
    // Topics with a change in this transaction that could not be decoded (logged with topic and
    // position, never the value): their subscribers' views miss it (hub::on_undecodable_change).
    std::vector<std::string> undecodable = {};
    int64_t ts_us = 0;  // ts in µs since the epoch, read once at decode (0: unknown)
    // When this node's listener had sequenced and read it (wall clock µs; 0: unknown): the
    // pipeline's stage timings (core/latency_histogram.h).
    int64_t sequenced_us = 0;
    int64_t read_us = 0;
};

// The result of reading the outbox for one topic: transactions after `after`, in order.
// complete=false when retention has pruned part of the range (resume then gets a snapshot).
struct history_result {
    std::vector<transaction> transactions;
    bool complete = true;
    std::string error;
};

}  // namespace pglive
