// Merging the hazards of all processes of a run: the same kind, call and stack signature is one hazard with
// an occurrence count and the pids involved (a forking server reports the same bug from every child).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report/model.h"

namespace fh {

struct HazardGroup {
  // The first occurrence (symbolized); for unsafe calls `count` sums all of them; `overflow` holds the largest
  // of each count any of them reported.
  Hazard hazard;
  int64_t occurrences = 1;     // hazards merged into this one
  std::vector<int64_t> pids;   // processes that reported it, in order of appearance, without duplicates
};

// The signature: kind, call, lock type, and the (module, offset) of every machine frame of the stack (and of
// the call site for unsafe calls). Addresses are not compared: processes exec'd separately have other layouts.
std::string hazard_signature(const Hazard& hazard);

// Groups in order of first appearance.
std::vector<HazardGroup> merge_hazards(const std::vector<Report>& reports);

// "forkhazard: 2 deadlocks, 3 unsafe calls in 4 processes\n"; "forkhazard: no hazards\n" when empty.
std::string format_summary(const std::vector<HazardGroup>& groups);

}  // namespace fh
