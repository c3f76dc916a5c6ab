// args.h — a command's declared options, and argv parsed against them (usage errors name the option).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pglive {

enum class arity { value, flag, optional_value };  // optional_value: a boolean setting ("--metrics-public")

struct option {
    std::string name;  // as in argv, without "--" ("token-secret")
    arity kind;
    std::string what;  // the value, for "needs a value (…)"
    bool repeatable = false;
};

struct command {
    std::string name;
    std::string synopsis;      // after "usage: "
    std::string description;   // a paragraph
    std::vector<option> options;
    std::vector<std::string> option_help;  // one per option, same order
    size_t positional = 0;     // exactly this many arguments
    std::string positional_what;  // "TABLE"
};

struct usage_error : std::runtime_error {  // exit 2
    using std::runtime_error::runtime_error;
};

// Any other failure the CLI itself detects (exit 1), said as "pglive CMD: what".
struct cli_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Flags as (name with '-' → '_', value).
struct parsed_args {
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::string>> flags;
    bool has(const std::string& name) const {
        for (auto& [k, v] : flags)
            if (k == name) return true;
        return false;
    }
    std::string get(const std::string& name) const {  // the last one given
        std::string out;
        for (auto& [k, v] : flags)
            if (k == name) out = v;
        return out;
    }
    std::vector<std::string> all(const std::string& name) const {
        std::vector<std::string> out;
        for (auto& [k, v] : flags)
            if (k == name) out.push_back(v);
        return out;
    }
};

std::string underscored(std::string s);  // "token-secret" → "token_secret"
std::string dashed(std::string s);       // "token_secret" → "token-secret"
bool is_help(const std::string& arg);    // --help or -h

// argv after the command name, read as `cmd` declares; throws usage_error naming the option.
parsed_args parse_args(const command& cmd, const std::vector<std::string>& args);
// `pglive CMD --help`: synopsis, description and one aligned line per option.
std::string help_of(const command& c);

}  // namespace pglive
