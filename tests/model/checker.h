// checker.h — replays every track against the oracle, position by position.
//
// At every position P (ascending) the oracle's state advances by the transaction at P; each
// track's messages at P are applied to its client state, which must then be a state the
// subscription allows at P (oracle.h: view). Between a track's message at P1 and its next
// patch at P2, the client's state must stay allowed at every position in between: otherwise
// the server skipped a transaction that changed what the client shows. Also checked: positions
// strictly increase (a snapshot may repeat one), a resume's patches come after `since`, patches
// apply, carry operations, and none is sent for a transaction that changed nothing shown.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/clients.h"
#include "model/oracle.h"
#include "model/workload.h"

namespace pglive::model {

struct failure {
    std::string category;
    int64_t pos = 0;
    int spec = -1;
    std::string text;
};

struct check_result {
    std::vector<failure> failures;   // up to 3 different ones of each category, in full
    std::map<std::string, int> counts;  // every failure, by category
    size_t checks = 0;               // states compared
    size_t lost_messages = 0;        // messages at positions a crash took back (then a snapshot)
    size_t lost_ranges = 0;          // pglive.epochs' lost ranges
    int64_t first_pos = -1;          // the lowest position at which anything diverged
    void add(const failure& f);
    bool ok() const { return counts.empty(); }
    std::string report() const;
};

void check_tracks(check_result& out, const history& h, const std::vector<spec>& specs,
                  std::vector<std::unique_ptr<track>>& tracks, const std::map<std::string, const tx_record*>& txs);

// What a transaction did, for failure reports: its xid and the SQL its writer sent.
std::string describe_tx(const history& h, int64_t pos, const std::map<std::string, const tx_record*>& txs);

}  // namespace pglive::model
