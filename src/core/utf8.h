// utf8.h — strict UTF-8 validation for bytes that come from clients (percent-decoded targets,
// headers): nothing invalid may reach a JSON value, whose dump() throws on it.
#pragma once

#include <string_view>

namespace pglive {

// RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
bool valid_utf8(std::string_view s);

}  // namespace pglive
