// fuzz/outbox_rows.cpp — what capture and the hub do with a captured statement's rows, short
// of the pqxx::result that decode_transactions reads (it cannot be built offline): the row
// text parsed as outbox.cpp's parse_field does, row keys (key.h), and the patch between an old
// and a new row (patch.h), dumped as it is sent. Input: old_rows text, '\n', new_rows text.
// Only exact_json_error may be thrown, on text that is not JSON; row_key's documented
// invalid_argument only for a row without its key columns. The ops, applied to the state
// before, give the state after.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/exact_json.h"
#include "core/key.h"
#include "core/patch.h"

using namespace pglive;

namespace {

// outbox.cpp parse_field: exact numbers (a numeric of 10^400 parses; nlohmann alone threw
// out_of_range 406 on it). Only exact_json_error on text that is not JSON.
std::optional<json> parse(const std::string& text) {
    try {
        return parse_exact(text);
    } catch (const exact_json_error&) {
        return std::nullopt;
    }
}

std::optional<std::string> key_of(const json& row, const std::vector<std::string>& cols) {
    bool has_all = row.is_object();
    for (auto& c : cols) has_all = has_all && row.contains(c);
    try {
        std::string k = row_key(row, cols);
        if (!has_all) std::abort();
        return k;
    } catch (const std::invalid_argument&) {
        if (has_all) std::abort();
        return std::nullopt;
    }
}

void diff(const std::string& kb, const json& before, const std::string& ka, const json& after) {
    json ops = json::array();
    append_row_ops(ops, kb, before, ka, after);
    (void)dump_exact(ops);  // what goes on the wire
    json state = json::object(), want = json::object();
    if (!before.is_null()) state[kb] = before;
    if (!after.is_null()) want[ka] = after;
    if (state.patch(ops) != want) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    size_t nl = in.find('\n');
    auto old_rows = parse(in.substr(0, nl));
    auto new_rows = nl == std::string::npos ? std::optional<json>(json()) : parse(in.substr(nl + 1));
    if (!old_rows || !new_rows) return 0;
    auto as_list = [](const json& v) { return v.is_array() ? v : json::array({v}); };
    json olds = as_list(*old_rows), news = as_list(*new_rows);
    for (const std::vector<std::string>& cols :
         {std::vector<std::string>{"id"}, std::vector<std::string>{"id", "region"}}) {
        for (size_t i = 0; i < olds.size() || i < news.size(); ++i) {
            const json& o = i < olds.size() ? olds[i] : json();
            const json& n = i < news.size() ? news[i] : json();
            auto ko = o.is_null() ? std::optional<std::string>("") : key_of(o, cols);
            auto kn = n.is_null() ? std::optional<std::string>("") : key_of(n, cols);
            if (!ko || !kn) continue;  // the hub never holds a row without its key
            diff(*ko, o, *kn, n);      // update (or a key change)
            if (!o.is_null()) diff(*ko, o, *ko, json());  // delete
            if (!n.is_null()) diff(*kn, json(), *kn, n);  // insert
        }
    }
    return 0;
}
