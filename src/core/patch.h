// patch.h — RFC 6902 operations that move a subscription's state (row key → row) forward.
#pragma once

#include <string>

#include "core/change.h"

namespace pglive {

// Appends to `ops` (a JSON array) the operations that turn the state entry for a row that
// was `before` into `after`. Either may be null, meaning "not in this subscription's view":
//   null → row      : add /<key> (whole row)
//   row  → null     : remove /<key>
//   row  → row      : replace /<key>/<col> for each changed column (add/remove for a
//                     column that appeared/disappeared); nothing when equal;
//                     a key change (key_before != key_after) is remove + add.
void append_row_ops(json& ops, const std::string& key_before, const json& before,
                    const std::string& key_after, const json& after);

}  // namespace pglive
