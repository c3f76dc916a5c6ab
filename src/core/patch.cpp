// patch.cpp — RFC 6902 operations for one row's move between two views.
#include "core/patch.h"

#include "core/key.h"

namespace pglive {

namespace {
json op(const char* name, std::string path) { return json{{"op", name}, {"path", std::move(path)}}; }
json op(const char* name, std::string path, const json& value) {
    return json{{"op", name}, {"path", std::move(path)}, {"value", value}};
}
}  // namespace

void append_row_ops(json& ops, const std::string& key_before, const json& before, const std::string& key_after,
                    const json& after) {
    bool had = !before.is_null(), has = !after.is_null();
    if (!had && !has) return;
    std::string path_before = "/" + pointer_escape(key_before);
    if (had && has && key_before != key_after) {
        ops.push_back(op("remove", path_before));
        ops.push_back(op("add", "/" + pointer_escape(key_after), after));
        return;
    }
    if (!had) {
        ops.push_back(op("add", "/" + pointer_escape(key_after), after));
        return;
    }
    if (!has) {
        ops.push_back(op("remove", path_before));
        return;
    }
    if (before == after) return;
    if (!before.is_object() || !after.is_object()) {
        ops.push_back(op("replace", path_before, after));
        return;
    }
    // Column by column: only what changed travels.
    for (auto& [col, value] : after.items()) {
        auto old = before.find(col);
        if (old == before.end()) ops.push_back(op("add", path_before + "/" + pointer_escape(col), value));
        else if (*old != value) ops.push_back(op("replace", path_before + "/" + pointer_escape(col), value));
    }
    for (auto& [col, value] : before.items())
        if (!after.contains(col)) ops.push_back(op("remove", path_before + "/" + pointer_escape(col)));
}

}  // namespace pglive
