// utf8.cpp — strict UTF-8 validation (RFC 3629, Table 3-7 of the Unicode standard).
#include "core/utf8.h"

namespace pglive {

bool valid_utf8(std::string_view s) {
    auto at = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    for (size_t i = 0; i < s.size();) {
        unsigned char c = at(i);
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c == 0xE0) n = 2, lo = 0xA0;
        else if (c == 0xED) n = 2, hi = 0x9F;  // no surrogates
        else if (c >= 0xE1 && c <= 0xEF) n = 2;
        else if (c == 0xF0) n = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) n = 3;
        else if (c == 0xF4) n = 3, hi = 0x8F;  // nothing above U+10FFFF
        else return false;                      // continuation byte, C0/C1 overlongs, F5..FF
        if (i + n >= s.size()) return false;  // truncated sequence
        if (at(i + 1) < lo || at(i + 1) > hi) return false;
        for (size_t k = 2; k <= n; ++k)
            if (at(i + k) < 0x80 || at(i + k) > 0xBF) return false;
        i += n + 1;
    }
    return true;
}

}  // namespace pglive
