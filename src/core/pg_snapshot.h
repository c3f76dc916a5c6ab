// pg_snapshot.h — PostgreSQL's pg_snapshot (xmin:xmax:xip,…) and xid visibility in it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pglive {

struct pg_snapshot {
    uint64_t xmin = 0;
    uint64_t xmax = 0;
    std::vector<uint64_t> xip;  // in progress when the snapshot was taken

    // Parses the text form of pg_current_snapshot(), e.g. "10:20:10,14,15".
    // Throws std::invalid_argument naming the bad text.
    static pg_snapshot parse(const std::string& text);

    // True when a transaction with this xid had committed (or aborted) before the
    // snapshot was taken, i.e. its effects are in what the snapshot reads.
    bool visible(uint64_t xid) const;
};

}  // namespace pglive
