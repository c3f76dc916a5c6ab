// change.cpp — names of change kinds, and the commit time read from its text.
#include "core/change.h"

#include <ctime>

namespace pglive {

const char* to_string(op_kind op) {
    switch (op) {
    case op_kind::insert: return "insert";
    case op_kind::update: return "update";
    case op_kind::remove: return "delete";
    case op_kind::truncate: return "truncate";
    case op_kind::message: return "message";
    case op_kind::control: return "control";
    }
    return "unknown";
}

int64_t commit_time_us(std::string_view ts) {
    // Fixed layout YYYY-MM-DDTHH:MM:SS[.ffffff]Z, as outbox_select_list writes it.
    auto num = [&](size_t at, size_t n, int& out) {
        if (at + n > ts.size()) return false;
        out = 0;
        for (size_t i = at; i < at + n; ++i) {
            if (ts[i] < '0' || ts[i] > '9') return false;
            out = out * 10 + (ts[i] - '0');
        }
        return true;
    };
    std::tm tm{};
    if (ts.size() < 20 || ts[4] != '-' || ts[7] != '-' || ts[10] != 'T' || ts[13] != ':' || ts[16] != ':' ||
        !num(0, 4, tm.tm_year) || !num(5, 2, tm.tm_mon) || !num(8, 2, tm.tm_mday) || !num(11, 2, tm.tm_hour) ||
        !num(14, 2, tm.tm_min) || !num(17, 2, tm.tm_sec))
        return 0;
    int64_t us = 0;
    size_t i = 19;
    if (ts[i] == '.') {
        int digits = 0;
        for (++i; i < ts.size() && ts[i] >= '0' && ts[i] <= '9'; ++i)
            if (digits < 6) us = us * 10 + (ts[i] - '0'), ++digits;
        while (digits++ < 6) us *= 10;
    }
    if (i >= ts.size() || ts[i] != 'Z') return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return int64_t(timegm(&tm)) * 1000000 + us;
}

}  // namespace pglive
