// pg_snapshot.cpp — parse pg_snapshot text and decide xid visibility.
#include "core/pg_snapshot.h"

#include <algorithm>
#include <stdexcept>

namespace pglive {

namespace {
uint64_t parse_xid(const std::string& text, size_t& at) {
    size_t start = at;
    uint64_t v = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        v = v * 10 + uint64_t(text[at] - '0');
        ++at;
    }
    if (at == start) throw std::invalid_argument("bad pg_snapshot text: '" + text + "'");
    return v;
}
}  // namespace

pg_snapshot pg_snapshot::parse(const std::string& text) {
    pg_snapshot s;
    size_t at = 0;
    s.xmin = parse_xid(text, at);
    if (at >= text.size() || text[at++] != ':') throw std::invalid_argument("bad pg_snapshot text: '" + text + "'");
    s.xmax = parse_xid(text, at);
    if (at >= text.size() || text[at++] != ':') throw std::invalid_argument("bad pg_snapshot text: '" + text + "'");
    while (at < text.size()) {
        s.xip.push_back(parse_xid(text, at));
        if (at < text.size() && text[at++] != ',') throw std::invalid_argument("bad pg_snapshot text: '" + text + "'");
    }
    std::sort(s.xip.begin(), s.xip.end());
    return s;
}

bool pg_snapshot::visible(uint64_t xid) const {
    if (xid < xmin) return true;
    if (xid >= xmax) return false;
    return !std::binary_search(xip.begin(), xip.end(), xid);
}

}  // namespace pglive
