// fuzz/filter.cpp — subscription filters and window orders from client text.
// Input: line 1 is an order ("amount.desc,id"), every further line a filter expression
// ("status=in.(open,\"late\")"). Only filter_error may be thrown by parsing; evaluating on
// rows with extreme values never throws, and `before` is a strict weak order (irreflexive,
// asymmetric, transitive) — hub.cpp's partial_sort relies on it.
// Parsed with the columns' PostgreSQL types, and failing that without types (any column).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "core/filter.h"
#include "core/utf8.h"

using namespace pglive;

namespace {

const std::vector<std::string> columns = {"id", "status", "amount", "flag", "note", "deleted_at"};
const std::vector<std::string> types = {"bigint", "text", "numeric", "boolean", "jsonb", "timestamp with time zone"};

const std::vector<json>& rows() {
    static const std::vector<json> r = [] {
        std::vector<json> v;
        for (const char* text : {
                 R"({"id":1,"status":"open","amount":1e308,"flag":true,"note":"a\u0000b","deleted_at":null})",
                 R"({"id":-9223372036854775808,"status":"","amount":-1e308,"flag":false,"note":"\u00fcn\u00ef \u20ac \ud834\udd1e","deleted_at":"2026-01-01"})",
                 R"({"id":18446744073709551615,"status":"late","amount":5e-324,"flag":null,"note":[1,[2,{"x":null}]],"deleted_at":{}})",
                 R"({})",
                 R"({"id":"x","status":12,"amount":"12","flag":"true","note":true,"deleted_at":0})",
                 R"({"id":0.5,"status":"open","amount":-0.0,"flag":true,"note":"","deleted_at":false})",
                 R"({"id":2,"status":"open","amount":9007199254740993,"flag":true,"note":"z","deleted_at":null})",
             })
            v.push_back(json::parse(text));
        return v;
    }();
    return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> lines;
    for (size_t at = 0;;) {
        size_t nl = in.find('\n', at);
        lines.push_back(in.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
        if (nl == std::string::npos) break;
        at = nl + 1;
    }
    std::string order_text = lines[0];
    std::vector<std::string> exprs(lines.begin() + 1, lines.end());

    row_filter f;
    try {
        f = row_filter::parse(exprs, columns, types);
    } catch (const filter_error&) {
        try {
            f = row_filter::parse(exprs, {});  // no column list: any column name
        } catch (const filter_error&) {
        }
    }
    row_order o;
    try {
        o = row_order::parse(order_text, columns, types);
    } catch (const filter_error&) {
        try {
            o = row_order::parse(order_text, {});
        } catch (const filter_error&) {
        }
    }

    // The server only ever parses valid UTF-8 (a JSON string, or a checked query): then the
    // canonical texts, which key shared subscription shapes, are built without throwing.
    bool text = valid_utf8(in);
    if (text) {
        (void)f.canonical();
        (void)o.canonical();
    }

    for (auto& r : rows()) (void)f.matches(r);

    // Row keys as hub.cpp has them: decimal ints, text, and one from the input.
    std::vector<std::string> keys = {"1", "2", "10", "1a", "-5", "007", "", "[7,\"eu\"]", "999999999999999999"};
    if (!exprs.empty()) keys.push_back(exprs[0]);
    std::vector<std::pair<const json*, const std::string*>> items;
    for (size_t i = 0; i < rows().size(); ++i)
        for (size_t k : {i, i + 4}) items.emplace_back(&rows()[i], &keys[k % keys.size()]);
    size_t n = items.size();
    std::vector<char> lt(n * n);
    for (size_t a = 0; a < n; ++a)
        for (size_t b = 0; b < n; ++b)
            lt[a * n + b] = o.before(*items[a].first, *items[a].second, *items[b].first, *items[b].second);
    for (size_t a = 0; a < n; ++a) {
        if (lt[a * n + a]) std::abort();  // irreflexive
        for (size_t b = 0; b < n; ++b) {
            if (lt[a * n + b] && lt[b * n + a]) std::abort();  // asymmetric
            if (!lt[a * n + b]) continue;
            for (size_t c = 0; c < n; ++c)
                if (lt[b * n + c] && !lt[a * n + c]) std::abort();  // transitive
        }
    }
    return 0;
}
