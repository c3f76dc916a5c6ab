// outbox.h — reading sequenced transactions out of pglive.outbox and decoding them into `transaction`s.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "core/change.h"

namespace pglive {

// The columns every outbox read selects, in this order (decode_transactions relies on it):
// position, xid, ts, topic, op, old_rows, new_rows, key (the topic's key as a json array, for pairing).
extern const char* const outbox_select_list;

// Groups rows (ordered by position, seq) into transactions. An update statement's old and new
// rows are paired by key: a key in both is an update, old-only a remove, new-only an insert
// (so a key change is remove + add); an update that changed no exposed column is dropped.
// Numbers keep PostgreSQL's literal (core/exact_json.h). A change that cannot be decoded never
// throws: it is left out and its topic listed in transaction::undecodable, and logged (once, by
// the listener's read: report=false for re-reads such as history) without its value.
// Rows before `first_row` are skipped (sequence_and_read's header).
std::vector<transaction> decode_transactions(const pqxx::result& rows, bool report = true, size_t first_row = 0);

// Runs pglive.sequence() in its own READ COMMITTED transaction; returns how many it sequenced.
int64_t run_sequencer(pqxx::connection_base& conn);

// run_sequencer, and in the same round trip what retention has removed (pglive.state.pruned_upto).
struct sequencer_run {
    int64_t sequenced = 0;
    int64_t pruned_upto = 0;
    int64_t epoch = 0;  // pglive.state.epoch as the statement's snapshot saw it: may predate this run's epoch start
};

// One row of pglive.epochs: positions in (durable_before, base) are lost (a crash may have
// discarded the sequencer commits that handed them out).
struct epoch_info {
    int64_t epoch = 0;
    int64_t base = 0;
    int64_t durable_before = 0;
};
// pglive.epochs_after(after), in epoch order.
std::vector<epoch_info> read_epochs_after(pqxx::connection_base& conn, int64_t after);
sequencer_run run_sequencer_reading_pruned(pqxx::connection_base& conn);

// Whole transactions with position > after, at most max_tx of them, on the connection's
// prepared statement "pglive_read_batch" (prepare_outbox_reads must have run on it). When the
// batch is not empty, *pruned_upto (if given) is pglive.state.pruned_upto as the same
// statement saw it: above `after`, retention removed transactions the batch does not hold.
void prepare_outbox_reads(pqxx::connection_base& conn);
// *epoch (when given and the batch is not empty): pglive.state.epoch under the batch's own
// snapshot, so a batch holding a new epoch's positions always reports that epoch.
std::vector<transaction> read_batch(pqxx::connection_base& conn, int64_t after, int max_tx,
                                    int64_t* pruned_upto = nullptr, int64_t* epoch = nullptr);

// The listener's pass in one round trip (pglive.sequence_read): sequence(), what retention
// removed and the epoch as a statement after the run saw them (`run`: its `sequenced` is not
// reported, 0), then the first batch as read_batch returns it (`batch_pruned_upto` and
// `batch_epoch` under the batch's own snapshot, when it is not empty). With release_doorbell
// (or a doze that was granted: `doorbell`), the session's doorbell lock was released if and only
// if the batch is not empty.
struct sequenced_batch {
    sequencer_run run;
    bool doorbell = false;  // the caller held the doorbell while the batch was read (released if it is not empty)
    std::vector<transaction> batch;
    int64_t batch_pruned_upto = 0;
    int64_t batch_epoch = 0;
};
// True when the database has pglive.sequence_read (a schema older than this binary has not).
bool has_sequence_read(pqxx::connection_base& conn);
// True when its four-argument form (doze_ms) is there too.
bool has_dozing_sequence_read(pqxx::connection_base& conn);
// pglive.sequence_read on the connection's prepared statements (prepare_outbox_reads must have
// run on it): the four-argument form (has_dozing_sequence_read) when `dozing_form` or doze_ms
// is given (which takes the doorbell first), else the three-argument one.
sequenced_batch sequence_and_read(pqxx::connection_base& conn, int64_t after, int max_tx, bool release_doorbell,
                                  bool dozing_form = false, std::optional<int> doze_ms = std::nullopt);

}  // namespace pglive
