// dashboard_dir.cpp — an installed pglive serves the dashboard installed with it, a built one
// the source tree's (see dashboard_dir.h).
#include "config/dashboard_dir.h"

#include <filesystem>
#include <system_error>

namespace pglive {

namespace fs = std::filesystem;

std::string installed_dashboard_dir(const std::string& exe) {
    if (exe.empty()) return "";
    fs::path prefix = fs::path(exe).lexically_normal().parent_path().parent_path();
    return (prefix / "share" / "pglive" / "dashboard").string();
}

std::string pick_dashboard_dir(const std::string& configured, const std::string& exe, const std::string& built_in,
                               const std::function<bool(const std::string&)>& is_dir) {
    if (!configured.empty()) return configured;
    std::string installed = installed_dashboard_dir(exe);
    if (!installed.empty() && is_dir(installed)) return installed;
    return built_in;
}

std::string self_exe_path() {
    std::error_code ec;
    fs::path p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string() : p.string();
}

std::string dashboard_dir_for(const std::string& configured, const std::string& built_in) {
    return pick_dashboard_dir(configured, self_exe_path(), built_in, [](const std::string& dir) {
        std::error_code ec;
        return fs::is_directory(dir, ec);
    });
}

}  // namespace pglive
