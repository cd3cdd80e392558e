// Human report of the merged hazards (stderr), in the manner of TSan and lockdep: what happened, where, and a hint.
#pragma once

#include <string>
#include <vector>

#include "report/merge.h"
#include "report/model.h"

namespace fh {

struct TextStyle {
  std::string strip_prefix;  // removed from the front of source paths (the working directory + "/"), if present
  bool color = false;        // ANSI colours as the sanitizers use them: red/magenta headline, dim modules, green hint
};

// --color=auto: on when stderr is a terminal and NO_COLOR (`no_color`, may be null) is unset or empty
// (https://no-color.org).
bool auto_color(bool is_terminal, const char* no_color);

// One hazard, between separator lines, each line ending in '\n'.
std::string format_hazard(const Hazard& hazard, const TextStyle& style = {});

// Every group once, in order, with "(N occurrences in processes ...)" when it merged several; empty when none.
std::string format_text(const std::vector<HazardGroup>& groups, const TextStyle& style = {});

}  // namespace fh
