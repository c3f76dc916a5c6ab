// policy.h — a topic's row policy (pglive.attach's `policy`) resolved for one caller: its claims put in as literals.
#pragma once

#include <string>
#include <vector>

#include "core/jwt.h"
#include "core/topic.h"

namespace pglive {

// What a caller reads of a topic under its policy (docs/PROTOCOL.md §2, "Row policies").
struct policy_result {
    // Filters in the subscription syntax (filter.h), claims in place: ANDed into every read.
    std::vector<std::string> filters;
    // Non-empty: the caller reads nothing of the topic (error `forbidden`), and why, naming
    // the claim (missing, or an object, array or null) or the policy that no longer applies.
    std::string forbidden;
};

// The policy's terms: its text split at `&` ("" → none).
std::vector<std::string> policy_terms(const std::string& policy);

// Admin callers and topics without a policy: no filters. Otherwise each term whose value (or,
// for `in`, list element) is `{name}` gets the claim `name` of `who.claims` as a literal:
// a string as is, a number as its decimal literal, a boolean as true/false — never read as
// filter syntax (a claim "a,b" is one value, also inside an in list). The result is checked
// against the topic's columns and types (row_filter::parse): a policy that does not apply, or a
// claim that does not read as its column's type, forbids rather than widens.
policy_result resolve_policy(const topic_info& info, const access& who);

}  // namespace pglive
