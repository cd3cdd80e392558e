// JSON printer of the report model: the stable machine contract (README.md, "JSON output").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "report/merge.h"
#include "report/model.h"

namespace fh {

// Changes only when a key changes meaning; new keys are added without a change.
inline constexpr int json_version = 1;

// `text` as a quoted JSON string. Bytes that are not valid UTF-8 (paths may hold any bytes) become U+FFFD,
// so the output always parses.
std::string json_string(std::string_view text);

// {"version":1,"hazards":[...]}: one entry per merged hazard, in order, with "occurrences" and "pids" added to
// the fields of its first occurrence; without whitespace or newline.
std::string to_json(const std::vector<HazardGroup>& groups);

}  // namespace fh
