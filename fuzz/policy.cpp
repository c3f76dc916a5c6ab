// fuzz/policy.cpp — row policies resolved with fuzzed claims and fuzzed policy text.
// Input: the whole input is a string claim, put into `tenant=eq.{t}` and `tenant=in.({t},x)`:
// it must come back as exactly one literal (never an operator, a list or a second term).
// Then line 1 is a policy and the rest a claims object (parse_exact; not JSON: no claims):
// resolve_policy never throws, and what it lets through parses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/exact_json.h"
#include "core/filter.h"
#include "core/policy.h"

using namespace pglive;

namespace {

topic_info topic(std::string policy) {
    return topic_info{"public.t", {"id"}, {"id", "tenant", "n", "flag"}, {"bigint", "text", "integer", "boolean"},
                      std::move(policy)};
}

// The claim `t` = value must be the one literal of the policy's one condition.
void literal_round_trip(const std::string& value) {
    pglive::access who;
    who.authenticated = true;
    who.claims = json{{"t", value}};
    struct probe {
        const char* policy;
        std::vector<std::string> values;
    };
    for (const probe& p : {probe{"tenant=eq.{t}", {value}}, probe{"tenant=in.({t},x)", {value, "x"}}}) {
        policy_result r = resolve_policy(topic(p.policy), who);
        if (!r.forbidden.empty() || r.filters.size() != 1) std::abort();
        row_filter f = row_filter::parse(r.filters, topic("").columns, topic("").types);
        if (f.conditions().size() != 1 || f.conditions()[0].values != p.values) std::abort();
        if (!f.matches(json{{"id", 1}, {"tenant", value}})) std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    literal_round_trip(in);
    size_t nl = in.find('\n');
    pglive::access who;
    who.authenticated = true;
    try {
        who.claims = parse_exact(nl == std::string::npos ? std::string() : in.substr(nl + 1));
    } catch (const exact_json_error&) {
        who.claims = nullptr;
    }
    topic_info info = topic(in.substr(0, nl));
    policy_result r = resolve_policy(info, who);  // never throws
    if (r.forbidden.empty()) {
        row_filter f = row_filter::parse(r.filters, info.columns, info.types);  // let through: it parses
        (void)f.matches(json{{"id", 1}, {"tenant", "a"}, {"n", 2}, {"flag", true}});
    }
    return 0;
}
