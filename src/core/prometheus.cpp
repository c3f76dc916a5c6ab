// prometheus.cpp — text exposition format 0.0.4.
#include "core/prometheus.h"

#include <cmath>
#include <cstdio>

namespace pglive::prometheus {

std::string escape(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

void family(std::string& out, const std::string& name, const std::string& help, const char* type) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, double value, const std::string& labels) {
    char buf[64];
    if (std::floor(value) == value && std::fabs(value) < 1e15) snprintf(buf, sizeof buf, "%.0f", value);
    else snprintf(buf, sizeof buf, "%.9g", value);
    out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + buf + "\n";
}

void metric(std::string& out, const std::string& name, const std::string& help, const char* type, double value) {
    family(out, name, help, type);
    sample(out, name, value);
}

void labeled(std::string& out, const std::string& name, const std::string& help, const char* type,
             const std::string& label, const std::map<std::string, uint64_t>& values) {
    family(out, name, help, type);
    for (auto& [key, v] : values) sample(out, name, double(v), label + "=\"" + escape(key) + "\"");
}

void histogram(std::string& out, const std::string& name, const latency_histogram& h, const std::string& labels) {
    std::string sep = labels.empty() ? "" : labels + ",";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < latency_histogram::bounds_us.size(); ++i) {
        cumulative += h.bucket(i);
        char le[32];
        snprintf(le, sizeof le, "%g", double(latency_histogram::bounds_us[i]) / 1e6);
        sample(out, name + "_bucket", double(cumulative), sep + "le=\"" + le + "\"");
    }
    // From the buckets, not h.count(): observed concurrently, the count may trail them.
    cumulative += h.bucket(latency_histogram::bounds_us.size());
    sample(out, name + "_bucket", double(cumulative), sep + "le=\"+Inf\"");
    sample(out, name + "_sum", double(h.sum_us()) / 1e6, labels);
    sample(out, name + "_count", double(cumulative), labels);
}

}  // namespace pglive::prometheus
