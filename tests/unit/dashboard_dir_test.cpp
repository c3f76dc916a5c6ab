// dashboard_dir_test.cpp — which dashboard directory pglive serves when none is configured.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <set>

#include "config/dashboard_dir.h"

namespace pglive {
namespace {

namespace fs = std::filesystem;

TEST(dashboard_dir, installed_dir_is_share_pglive_dashboard_beside_bin) {
    EXPECT_EQ(installed_dashboard_dir("/usr/bin/pglive"), "/usr/share/pglive/dashboard");
    EXPECT_EQ(installed_dashboard_dir("/opt/x/bin/pglive"), "/opt/x/share/pglive/dashboard");
    EXPECT_EQ(installed_dashboard_dir("/tmp/root/usr/local/bin/pglive"), "/tmp/root/usr/local/share/pglive/dashboard");
    EXPECT_EQ(installed_dashboard_dir("/usr/./bin/../bin/pglive"), "/usr/share/pglive/dashboard");
    EXPECT_EQ(installed_dashboard_dir(""), "");
}

TEST(dashboard_dir, configured_wins_over_everything) {
    std::set<std::string> asked;
    auto is_dir = [&](const std::string& d) { asked.insert(d); return true; };
    EXPECT_EQ(pick_dashboard_dir("/srv/dash", "/usr/bin/pglive", "/src/dashboard", is_dir), "/srv/dash");
    EXPECT_TRUE(asked.empty());  // not even looked for
}

TEST(dashboard_dir, installed_beside_the_binary_when_it_exists) {
    auto is_dir = [](const std::string& d) { return d == "/usr/share/pglive/dashboard"; };
    EXPECT_EQ(pick_dashboard_dir("", "/usr/bin/pglive", "/src/dashboard", is_dir), "/usr/share/pglive/dashboard");
}

TEST(dashboard_dir, built_in_when_nothing_is_installed_beside_the_binary) {
    auto none = [](const std::string&) { return false; };
    EXPECT_EQ(pick_dashboard_dir("", "/work/build/pglive", "/work/dashboard", none), "/work/dashboard");
    auto any = [](const std::string&) { return true; };
    EXPECT_EQ(pick_dashboard_dir("", "", "/work/dashboard", any), "/work/dashboard");  // /proc/self/exe unreadable
}

TEST(dashboard_dir, self_exe_is_this_test_binary) {
    std::string exe = self_exe_path();
    ASSERT_FALSE(exe.empty());
    EXPECT_TRUE(fs::path(exe).is_absolute());
    EXPECT_EQ(fs::path(exe).filename(), "unit_tests");
}

// The real file system: a fake prefix with bin/ and share/pglive/dashboard/, then without it.
TEST(dashboard_dir, real_directories_decide) {
    fs::path root = fs::temp_directory_path() / ("pglive-dashdir-" + std::to_string(::getpid()));
    fs::create_directories(root / "bin");
    fs::create_directories(root / "share/pglive/dashboard");
    auto real = [](const std::string& d) { return fs::is_directory(d); };
    std::string exe = (root / "bin/pglive").string();
    EXPECT_EQ(pick_dashboard_dir("", exe, "/built/in", real), (root / "share/pglive/dashboard").string());
    fs::remove_all(root / "share");
    EXPECT_EQ(pick_dashboard_dir("", exe, "/built/in", real), "/built/in");
    fs::remove_all(root);
}

}  // namespace
}  // namespace pglive
