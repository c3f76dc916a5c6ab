// log.h — leveled log lines on stderr: "2026-11-22T10:00:00.123Z LEVEL message".
#pragma once

#include <string>

namespace pglive {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };

void set_log_level(log_level level);
log_level parse_log_level(const std::string& text);  // throws std::invalid_argument naming the value
bool log_enabled(log_level level);
void log_line(log_level level, const std::string& message);

inline void log_debug(const std::string& m) { if (log_enabled(log_level::debug)) log_line(log_level::debug, m); }
inline void log_info(const std::string& m) { log_line(log_level::info, m); }
inline void log_warn(const std::string& m) { log_line(log_level::warn, m); }
inline void log_error(const std::string& m) { log_line(log_level::error, m); }

}  // namespace pglive
