// Offline symbolization for the CLI (never linked into the shim): PC -> function, file, line, inlined frames,
// through elfutils libdw, from a recorded module map (path, load bias, build-id).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fh {

// One module as the raw report recorded it: [lo, hi) in the reporting process, file address = pc - bias.
struct ModuleInfo {
  std::string path;
  uint64_t lo = 0, hi = 0, bias = 0;
  std::string build_id;  // lowercase hex, empty if the module had none
};

// One source-level frame. A machine frame yields several when calls were inlined: innermost first, the last
// one is the real (outermost) function.
struct SourceFrame {
  std::string function;  // demangled; empty when unknown
  std::string file;      // empty when unknown
  int line = 0;          // 0 when unknown
  bool inlined = false;  // true for all but the last SourceFrame of a machine frame
};

class Symbolizer {
 public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Symbolizes `pc` inside `module`. Return addresses (every frame the shim records) are looked up at pc-1 so
  // that a call at the end of a function is attributed to it. Returns an empty vector when nothing is known.
  // A missing file or a build-id that differs from the recorded one adds one warning per module and yields
  // nothing for its PCs (the caller falls back to module+offset).
  std::vector<SourceFrame> symbolize(const ModuleInfo& module, uint64_t pc, bool is_return_address = true);

  // Human-readable problems met so far ("forkhazard: /lib/x.so: build-id differs from the report's ..."),
  // each once, in the order found.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct Module;  // a libdw session for one (path, bias); defined in symbolize.cpp
  // Opens `module`'s file into `slot` (its build-id checked); false, with a warning, when it cannot be used.
  bool open_module(const ModuleInfo& module, Module& slot);
  std::map<std::pair<std::string, uint64_t>, std::unique_ptr<Module>> modules_;
  std::vector<std::string> warnings_;
};

}  // namespace fh
