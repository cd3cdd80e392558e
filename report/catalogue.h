// `forkhazard calls`: the catalogue of calls the shim traps in a restricted child, printed from the same
// table the shim is built from (shim/interpose.def).
#pragma once

#include <string>
#include <string_view>

namespace fh {

// The catalogue as a text table: function, class, glibc lock family, why.
std::string format_catalogue();

// The catalogued calls of a glibc lock family, "setenv/unsetenv/putenv/clearenv"; empty for an unknown family.
std::string family_calls(std::string_view family);

}  // namespace fh
