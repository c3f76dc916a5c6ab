// log.cpp — one mutex-free write(2) per line, so lines from threads never interleave.
#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <stdexcept>

namespace pglive {

namespace {
std::atomic<int> current_level{int(log_level::info)};
const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
}  // namespace

void set_log_level(log_level level) { current_level = int(level); }

log_level parse_log_level(const std::string& text) {
    if (text == "debug") return log_level::debug;
    if (text == "info") return log_level::info;
    if (text == "warn") return log_level::warn;
    if (text == "error") return log_level::error;
    throw std::invalid_argument("log_level '" + text + "': expected debug, info, warn or error");
}

bool log_enabled(log_level level) { return int(level) >= current_level.load(std::memory_order_relaxed); }

void log_line(log_level level, const std::string& message) {
    if (!log_enabled(level)) return;
    auto now = std::chrono::system_clock::now();
    auto secs = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[40];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string line = std::string(stamp) + "." + (ms < 100 ? (ms < 10 ? "00" : "0") : "") + std::to_string(ms) +
                       "Z " + names[int(level)] + " " + message + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
}

}  // namespace pglive
