// dashboard_dir.h — where the dashboard's files are served from when dashboard_dir is not set.
#pragma once

#include <functional>
#include <string>

namespace pglive {

// The dashboard as installed beside a binary at EXE: EXE's directory's parent, then
// share/pglive/dashboard (/usr/bin/pglive -> /usr/share/pglive/dashboard). "" if EXE is "".
std::string installed_dashboard_dir(const std::string& exe);

// The directory to serve: CONFIGURED if set; else the one installed beside EXE if IS_DIR says it
// exists; else BUILT_IN (the source tree's dashboard/, compiled in). Pure given IS_DIR.
std::string pick_dashboard_dir(const std::string& configured, const std::string& exe, const std::string& built_in,
                               const std::function<bool(const std::string&)>& is_dir);

// The running binary's path (/proc/self/exe, symlinks resolved); "" if it cannot be read.
std::string self_exe_path();

// pick_dashboard_dir for this process, on the real file system.
std::string dashboard_dir_for(const std::string& configured, const std::string& built_in);

}  // namespace pglive
