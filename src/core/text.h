// text.h — small string helpers shared by every layer (error messages, log lines).
#pragma once

#include <string>
#include <string_view>

namespace pglive {

// The first line of a multi-line message (libpq's "ERROR:  …\nCONTEXT: …"), without the
// "ERROR:  " / "FATAL:  " severity prefix PostgreSQL puts in front.
inline std::string first_line(std::string_view what) {
    std::string_view s = what.substr(0, what.find('\n'));
    for (std::string_view prefix : {"ERROR:  ", "FATAL:  "})
        if (s.substr(0, prefix.size()) == prefix) s.remove_prefix(prefix.size());
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
    return std::string(s);
}

}  // namespace pglive
