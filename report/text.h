// Human report of the model (stderr), in the manner of TSan and lockdep: what happened, where, and a hint.
#pragma once

#include <string>
#include <vector>

#include "report/model.h"

namespace fh {

struct TextStyle {
  std::string strip_prefix;  // removed from the front of source paths (the working directory + "/"), if present
};

// One hazard, between separator lines, each line ending in '\n'.
std::string format_hazard(const Hazard& hazard, const TextStyle& style = {});

// Every hazard of every report, in order; empty when there is none.
std::string format_text(const std::vector<Report>& reports, const TextStyle& style = {});

// The closing line, counting hazards by kind ("forkhazard: reported 1 deadlock, 3 unsafe calls\n"); empty when
// there is none.
std::string format_summary(const std::vector<Report>& reports);

}  // namespace fh
