// args.cpp — argv read against a command's declared options; a command's --help text.
#include "cli/args.h"

#include <algorithm>
#include <sstream>

namespace pglive {

std::string underscored(std::string s) {
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}
std::string dashed(std::string s) {
    std::replace(s.begin(), s.end(), '_', '-');
    return s;
}

bool is_help(const std::string& a) { return a == "--help" || a == "-h"; }

namespace {
bool looks_like_option(const std::string& a) { return a.rfind("--", 0) == 0 || is_help(a); }
}  // namespace

parsed_args parse_args(const command& cmd, const std::vector<std::string>& args) {
    parsed_args p;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.rfind("--", 0) != 0) {
            if (a.size() > 1 && a[0] == '-') throw usage_error("unknown option " + a);
            p.positional.push_back(a);
            continue;
        }
        std::string name = a.substr(2), value;
        bool inline_value = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            inline_value = true;
        }
        auto o = std::find_if(cmd.options.begin(), cmd.options.end(),
                              [&](const option& x) { return underscored(x.name) == underscored(name); });
        if (o == cmd.options.end()) {
            if (cmd.name == "serve")
                throw usage_error("unknown option --" + name + " (not a key of config/pglive.conf)");
            throw usage_error("unknown option --" + name);
        }
        std::string shown = "--" + o->name;
        switch (o->kind) {
        case arity::flag:
            if (inline_value) throw usage_error(shown + " takes no value");
            value = "true";
            break;
        case arity::value:
            if (!inline_value) {
                if (i + 1 >= args.size() || looks_like_option(args[i + 1]))
                    throw usage_error(shown + " needs a value (" + o->what + ")");
                value = args[++i];
            }
            if (value.empty()) throw usage_error(shown + " needs a value (" + o->what + "), not an empty one");
            break;
        case arity::optional_value:
            if (!inline_value) value = i + 1 < args.size() && !looks_like_option(args[i + 1]) ? args[++i] : "true";
            break;
        }
        p.flags.emplace_back(underscored(o->name), value);
    }
    if (p.positional.size() > cmd.positional) {
        if (cmd.positional == 0) throw usage_error("takes no argument, got '" + p.positional[0] + "'");
        throw usage_error("takes one " + cmd.positional_what + ", got also '" + p.positional[cmd.positional] + "'");
    }
    if (p.positional.size() < cmd.positional)
        throw usage_error("missing " + cmd.positional_what + " (e.g. pglive " + cmd.name + " public.orders)");
    return p;
}

std::string help_of(const command& c) {
    std::ostringstream o;
    o << "usage: " << c.synopsis << "\n\n" << c.description << "\n\n";
    std::vector<std::string> left;
    size_t width = 0;
    for (auto& opt : c.options) {
        std::string l = "--" + opt.name;
        if (opt.kind == arity::value) {
            static const std::vector<std::pair<std::string, std::string>> metas = {
                {"db", "CONNINFO"}, {"config", "FILE"}, {"listen", "HOST:PORT"}, {"metrics-listen", "HOST:PORT"},
                {"key", "COL,..."}, {"columns", "COL,..."}, {"exclude", "COL,..."}, {"sub", "USER"},
                {"topics", "PATTERN"}, {"ttl", "DURATION"}, {"token-secret", "SECRET"}, {"traffic", "N"},
                {"policy", "FILTER"}, {"claim", "NAME=VALUE"}};
            std::string meta = "VALUE";
            for (auto& [n, m] : metas)
                if (n == opt.name) meta = m;
            l += " " + meta;
        } else if (opt.kind == arity::optional_value) {
            l += " [true|false]";
        }
        width = std::max(width, l.size());
        left.push_back(l);
    }
    for (size_t i = 0; i < c.options.size(); ++i)
        o << "  " << left[i] << std::string(width - left[i].size() + 2, ' ') << c.option_help[i] << "\n";
    o << "  " << "-h, --help" << std::string(width > 10 ? width - 10 + 2 : 2, ' ') << "this help\n";
    return o.str();
}

}  // namespace pglive
