// Resolves the raw PCs of reports into frames: module and offset from the report's own module map, then
// function, file, line and inlined calls from fh::Symbolizer.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "report/model.h"
#include "symbols/symbolize.h"

namespace fh {

// The module of `report` holding `pc` (lo <= pc < hi), or null.
const ModuleInfo* find_module(const Report& report, uint64_t pc);

class FrameResolver {
 public:
  explicit FrameResolver(Symbolizer& symbolizer) : symbolizer_(symbolizer) {}

  // Resolves every stack and call site of `report` in place; call once per report (frames are expanded, not
  // re-resolvable).
  // A PC outside every module keeps only its pc; one whose module yields nothing gets module and offset.
  void resolve(Report& report);

 private:
  void resolve(const Report& report, Stack& stack);

  Symbolizer& symbolizer_;
  // Children of one fork share stacks: each (module file, bias, pc) is symbolized once.
  std::map<std::tuple<std::string, uint64_t, uint64_t>, std::vector<SourceFrame>> cache_;
};

}  // namespace fh
