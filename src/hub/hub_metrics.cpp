// hub_metrics.cpp — the latency histogram: commit time read back from the transaction's ts.
#include "hub/hub_metrics.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace pglive {

namespace {

// "2026-11-22T10:00:00.123456Z" → µs since the epoch; 0 when unreadable.
int64_t parse_ts_us(const std::string& ts) {
    std::tm tm{};
    int us = 0;
    if (ts.size() < 20 || sscanf(ts.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                                 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    if (ts[19] == '.') {
        int digits = 0;
        for (size_t i = 20; i < ts.size() && isdigit(static_cast<unsigned char>(ts[i])) && digits < 6; ++i, ++digits)
            us = us * 10 + (ts[i] - '0');
        while (digits++ < 6) us *= 10;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return int64_t(timegm(&tm)) * 1000000 + us;
}

}  // namespace

void hub_stats::observe_latency(const std::string& ts, int64_t now_us) {
    int64_t commit = parse_ts_us(ts);
    if (commit == 0) return;
    double seconds = double(now_us - commit) / 1e6;
    size_t i = 0;
    while (i < std::size(latency_buckets) && seconds > latency_buckets[i]) ++i;
    if (i < std::size(latency_buckets)) ++latency_counts[i];
    ++latency_count;
    latency_sum += seconds;
}

}  // namespace pglive
