// `forkhazard calls`: the catalogue of calls the shim traps in a restricted child, printed from the same
// table the shim is built from (shim/interpose.def).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fh {

// The catalogue as a text table: function, class, glibc lock family, why.
std::string format_catalogue();

// A catalogued call's glibc lock family: its name ("none" when it has none) and its index among the shim's
// per-thread in-flight counters (ThreadSlot::inside, indexed by shim/unsafe.h's Family).
struct CallFamily {
  std::string_view name;
  int index;
};

// The family of `call` when it is catalogued (an FH_UNSAFE row of shim/interpose.def), else nullopt.
std::optional<CallFamily> catalogued_family(std::string_view call);

// The catalogued calls of a glibc lock family, "setenv/unsetenv/putenv/clearenv"; empty for an unknown family.
std::string family_calls(std::string_view family);

}  // namespace fh
