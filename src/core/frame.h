// frame.h — a serialized server→client message, built once and shared by every receiver.
#pragma once

#include <memory>
#include <string>

namespace pglive {

using frame = std::shared_ptr<const std::string>;

inline frame make_frame(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

}  // namespace pglive
