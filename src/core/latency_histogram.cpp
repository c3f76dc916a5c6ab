// latency_histogram.cpp — stage names and the wall clock the pipeline's timings read.
#include "core/latency_histogram.h"

#include <chrono>

namespace pglive {

const char* stage_name(pipeline_stage s) {
    switch (s) {
        case pipeline_stage::sequenced: return "sequenced";
        case pipeline_stage::read: return "read";
        case pipeline_stage::hub: return "hub";
        case pipeline_stage::handed: return "handed";
        case pipeline_stage::written: return "written";
    }
    return "unknown";
}

int64_t wall_now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace pglive
