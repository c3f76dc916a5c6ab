// key.cpp — row keys as text and RFC 6901 escaping.
#include "core/key.h"

#include <stdexcept>

#include "core/exact_json.h"

namespace pglive {

namespace {
std::string scalar_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    return dump_exact(v);  // numbers keep every digit: 9007199254740993 is not …992
}
}  // namespace

std::string row_key(const json& row, const std::vector<std::string>& key_cols) {
    if (!row.is_object()) throw std::invalid_argument("row is not a JSON object");  // never the value: it may reach a log
    if (key_cols.size() == 1) {
        auto it = row.find(key_cols[0]);
        if (it == row.end()) throw std::invalid_argument("row has no key column '" + key_cols[0] + "'");
        return scalar_text(*it);
    }
    json parts = json::array();
    for (auto& col : key_cols) {
        auto it = row.find(col);
        if (it == row.end()) throw std::invalid_argument("row has no key column '" + col + "'");
        parts.push_back(*it);
    }
    return dump_exact(parts);
}

std::string pointer_escape(const std::string& token) {
    if (token.find_first_of("~/") == std::string::npos) return token;
    std::string out;
    out.reserve(token.size() + 4);
    for (char c : token) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

}  // namespace pglive
