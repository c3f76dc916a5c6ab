// prometheus.h — the Prometheus text exposition format, for /metrics (one writer for every stage).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/latency_histogram.h"

namespace pglive::prometheus {

// "# HELP …\n# TYPE …\n" for a metric family.
void family(std::string& out, const std::string& name, const std::string& help, const char* type);
// One sample: `name{labels} value`; integers print without a fraction.
void sample(std::string& out, const std::string& name, double value, const std::string& labels = "");
// A family with one unlabelled sample.
void metric(std::string& out, const std::string& name, const std::string& help, const char* type, double value);
// A family with one sample per map entry, labelled `label="<key>"`.
void labeled(std::string& out, const std::string& name, const std::string& help, const char* type,
             const std::string& label, const std::map<std::string, uint64_t>& values);
// Samples of a histogram in seconds (the family line is the caller's): `_bucket` per bound and
// +Inf, `_sum`, `_count`, each with `labels` (e.g. `stage="read"`; may be empty).
void histogram(std::string& out, const std::string& name, const latency_histogram& h, const std::string& labels = "");
// A label value escaped (backslash, quote, newline).
std::string escape(const std::string& value);

}  // namespace pglive::prometheus
