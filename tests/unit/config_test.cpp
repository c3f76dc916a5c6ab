// config_test.cpp — the config table, its documented example file, and the three layers.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/config.h"

namespace pglive {
namespace {

std::string example_file() {
    std::ifstream in(std::string(PGLIVE_SOURCE_DIR) + "/config/pglive.conf");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(config, example_file_documents_every_key_with_its_default) {
    std::string text = example_file();
    ASSERT_FALSE(text.empty());
    for (auto& k : config_keys()) {
        std::string line = std::string("# ") + k.name + " = " + k.default_text;
        EXPECT_NE(text.find(line), std::string::npos) << "config/pglive.conf lacks: " << line;
    }
}

TEST(config, example_file_explains_every_key_as_the_table_does) {
    std::string text = example_file();
    ASSERT_FALSE(text.empty());
    for (auto& k : config_keys()) {
        std::string block = std::string("# ") + k.help + "\n# " + k.name + " = " + k.default_text;
        EXPECT_NE(text.find(block), std::string::npos) << "config/pglive.conf lacks, or words otherwise:\n" << block;
    }
}

TEST(config, node_timeout_bounds_how_long_a_silent_node_holds_retention) {
    config c;
    EXPECT_EQ(c.node_timeout_s, 30);
    set_config_value(c, "node_timeout_s", "5", "test");
    EXPECT_EQ(c.node_timeout_s, 5);
    EXPECT_THROW(set_config_value(c, "node_timeout_s", "2", "test"), config_error);  // beats are 1 s apart
}

TEST(config, defaults_match_the_table) {
    config c;
    for (auto& k : config_keys()) {
        config d = c;
        EXPECT_NO_THROW(set_config_value(d, k.name, k.default_text, "test")) << k.name;
    }
    EXPECT_EQ(c.listen_host(), "127.0.0.1");
    EXPECT_EQ(c.listen_port(), 8080);
}

struct bad_value {
    const char* key;
    const char* value;
    const char* expect;  // part of the message
};

TEST(config, bad_values_name_the_key_and_what_was_expected) {
    const bad_value cases[] = {
        {"poll_interval_ms", "fast", "not a whole number from 1 to 60000"},
        {"poll_interval_ms", "0", "not a whole number"},
        {"max_queue_frames", "12x", "not a whole number"},
        {"nonsense", "1", "unknown setting 'nonsense'"},
    };
    for (auto& b : cases) {
        config c;
        try {
            set_config_value(c, b.key, b.value, "--" + std::string(b.key));
            ADD_FAILURE() << b.key << "=" << b.value << " was accepted";
        } catch (const config_error& e) {
            EXPECT_NE(std::string(e.what()).find(b.expect), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(b.key), std::string::npos) << e.what();
        }
    }
    config c;
    c.wakeup = "sometimes";
    EXPECT_THROW(validate_config(c), config_error);
    c.wakeup = "poll";
    c.listen = "localhost";
    EXPECT_THROW(validate_config(c), config_error);
    c.listen = "[::1]:0";
    EXPECT_NO_THROW(validate_config(c));
    EXPECT_EQ(c.listen_host(), "::1");
}

TEST(config, file_then_environment_layers) {
    std::string path = ::testing::TempDir() + "/pglive-test.conf";
    {
        std::ofstream out(path);
        out << "# comment\nlisten = 0.0.0.0:9000\nanonymous_topics = public.*, demo.x\nwakeup = \"poll\"\n";
    }
    config c;
    load_config_file(c, path);
    EXPECT_EQ(c.listen, "0.0.0.0:9000");
    EXPECT_EQ(c.anonymous_topics, (std::vector<std::string>{"public.*", "demo.x"}));
    EXPECT_EQ(c.wakeup, "poll");
    std::string e1 = "DATABASE_URL=postgresql://u@h/d", e2 = "PGLIVE_LISTEN=127.0.0.1:7000", e3 = "HOME=/root";
    char* env[] = {e1.data(), e2.data(), e3.data(), nullptr};
    load_config_env(c, env);
    EXPECT_EQ(c.db, "postgresql://u@h/d");
    EXPECT_EQ(c.listen, "127.0.0.1:7000");
    {
        std::ofstream out(path);
        out << "listen 9000\n";
    }
    config d;
    EXPECT_THROW(load_config_file(d, path), config_error);
    std::string bad = "PGLIVE_LISTN=1";
    char* env2[] = {bad.data(), nullptr};
    EXPECT_THROW(load_config_env(d, env2), config_error);
}

// Issue 13: a server nobody can read from starts silently unless it says so.
TEST(config, warns_when_nobody_can_read) {
    config c;  // the defaults: no token_secret, no anonymous_topics
    auto w = config_warnings(c);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_NE(w[0].find("nobody can read"), std::string::npos) << w[0];
    EXPECT_NE(w[0].find("token_secret"), std::string::npos) << w[0];
    EXPECT_NE(w[0].find("anonymous_topics"), std::string::npos) << w[0];
    EXPECT_EQ(w[0].find('\n'), std::string::npos) << "one log line";

    config with_secret;
    set_config_value(with_secret, "token_secret", "s3cret", "test");
    EXPECT_TRUE(config_warnings(with_secret).empty());
    config anonymous;
    set_config_value(anonymous, "anonymous_topics", "public.*", "test");
    EXPECT_TRUE(config_warnings(anonymous).empty());
}

}  // namespace
}  // namespace pglive
