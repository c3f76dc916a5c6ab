// golden.h — reads a golden table of tests/data (a JSON array of cases) for the unit suites.
#pragma once

#include <fstream>
#include <stdexcept>
#include <string>

#include "core/exact_json.h"

namespace pglive::test {

// The cases of tests/data/<file>; a missing or unreadable file throws (the test fails naming it).
inline json golden_cases(const std::string& file) {
    std::ifstream in(std::string(PGLIVE_TEST_DATA) + "/" + file);
    if (!in) throw std::runtime_error("tests/data/" + file + " is missing");
    return json::parse(in);
}

}  // namespace pglive::test
