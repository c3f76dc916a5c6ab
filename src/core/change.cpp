// change.cpp — names of change kinds, for logs and metrics.
#include "core/change.h"

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

}  // namespace pglive
