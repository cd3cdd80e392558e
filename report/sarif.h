// SARIF 2.1.0 output for code-scanning viewers: one rule per hazard kind, one result per merged hazard located
// at the innermost frame in the program's own code, the full stack as a code flow.
#pragma once

#include <string>
#include <vector>

#include "report/merge.h"

namespace fh {

// `strip_prefix` (the working directory + "/") is removed from source paths so locations are relative to the
// source root (uriBaseId "%SRCROOT%"), as viewers expect.
std::string to_sarif(const std::vector<HazardGroup>& groups, const std::string& strip_prefix);

}  // namespace fh
