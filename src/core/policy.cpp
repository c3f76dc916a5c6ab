// policy.cpp — row policies resolved per caller: terms split, claims substituted as literals, the result checked.
#include "core/policy.h"

#include <optional>

#include "core/exact_json.h"
#include "core/filter.h"

namespace pglive {

namespace {

// "{tenant}" → "tenant"; anything else is a literal ("").
std::string claim_name(const std::string& value) {
    if (value.size() < 3 || value.front() != '{' || value.back() != '}') return "";
    std::string name = value.substr(1, value.size() - 2);
    return name.find_first_of("{}") == std::string::npos ? name : "";
}

struct claim_lookup {
    const topic_info& info;
    const access& who;
    std::string forbidden;

    // The claim's value as literal text, or nullopt (forbidden says why).
    std::optional<std::string> text(const std::string& name) {
        const json* v = nullptr;
        if (who.claims.is_object())
            if (auto it = who.claims.find(name); it != who.claims.end()) v = &*it;
        if (!v) {
            forbidden = "the row policy of " + info.topic + " needs the token claim '" + name + "'" +
                        (who.authenticated ? ", which this token lacks" : "; anonymous access has no claims");
            return std::nullopt;
        }
        if (v->is_string()) return v->get<std::string>();
        if (v->is_boolean()) return std::string(v->get<bool>() ? "true" : "false");
        if (is_exact_number(*v) || v->is_number_integer()) return number_text(*v);
        if (v->is_number_float()) return v->dump();  // a claim not read by verify_jwt (parse_exact there)
        const char* kind = v->is_object() ? "an object" : v->is_array() ? "an array" : v->is_null() ? "null" : "binary";
        forbidden = "token claim '" + name + "' is " + kind + "; the row policy of " + info.topic +
                    " needs a string, number or boolean";
        return std::nullopt;
    }
};

// A literal as one element of an in list: quoted, so that no comma, parenthesis or quote in it is syntax.
std::string quoted_element(const std::string& v) {
    std::string out = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

// The raw elements of "(a,{t},\"b,c\")", quotes and escapes kept (filter.cpp parse_list reads them).
std::vector<std::string> raw_elements(const std::string& list) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (size_t i = 1; i + 1 < list.size(); ++i) {
        char c = list[i];
        if (quoted && c == '\\' && i + 2 < list.size()) {
            out.back() += c;
            out.back() += list[++i];
            continue;
        }
        if (c == '"') quoted = !quoted;
        if (c == ',' && !quoted) out.emplace_back();
        else out.back() += c;
    }
    return out;
}

// One term with its claims in place; nullopt when a claim forbids (lookup.forbidden says why).
std::optional<std::string> resolved_term(const std::string& term, claim_lookup& lookup) {
    auto eq = term.find('=');
    auto dot = eq == std::string::npos ? eq : term.find('.', eq + 1);
    if (dot == std::string::npos) return term;  // malformed: row_filter::parse says so
    std::string head = term.substr(0, dot + 1), op = term.substr(eq + 1, dot - eq - 1), value = term.substr(dot + 1);
    if (op == "in" && value.size() >= 2 && value.front() == '(' && value.back() == ')') {
        std::string list;
        for (auto& e : raw_elements(value)) {
            std::string name = claim_name(e);
            std::optional<std::string> v = e;
            if (!name.empty() && !(v = lookup.text(name))) return std::nullopt;
            list += (list.empty() ? "" : ",") + (name.empty() ? e : quoted_element(*v));
        }
        return head + "(" + list + ")";
    }
    std::string name = claim_name(value);
    if (name.empty() || op == "is") return term;  // a literal (is takes no claim: the parser refuses it)
    auto v = lookup.text(name);
    if (!v) return std::nullopt;
    return head + *v;  // the value is everything after the operator's dot: no syntax in it
}

}  // namespace

std::vector<std::string> policy_terms(const std::string& policy) {
    std::vector<std::string> out;
    if (policy.empty()) return out;
    size_t at = 0;
    for (;;) {
        size_t amp = policy.find('&', at);
        out.push_back(policy.substr(at, amp == std::string::npos ? std::string::npos : amp - at));
        if (amp == std::string::npos) return out;
        at = amp + 1;
    }
}

policy_result resolve_policy(const topic_info& info, const access& who) {
    policy_result r;
    if (info.policy.empty() || who.admin) return r;
    claim_lookup lookup{info, who, ""};
    for (auto& term : policy_terms(info.policy)) {
        auto t = resolved_term(term, lookup);
        if (!t) {
            r.filters.clear();
            r.forbidden = lookup.forbidden;
            return r;
        }
        r.filters.push_back(std::move(*t));
    }
    try {
        row_filter::parse(r.filters, info.columns, info.types);
    } catch (const filter_error& e) {
        r.filters.clear();
        r.forbidden = "the row policy of " + info.topic + " does not apply to this token: " + e.what();
    }
    return r;
}

}  // namespace pglive
