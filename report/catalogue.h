// `forkhazard calls`: the catalogue of calls the shim traps in a restricted child, printed from the same
// table the shim is built from (shim/interpose.def).
#pragma once

#include <string>

namespace fh {

// The catalogue as a text table: function, class, glibc lock family, why.
std::string format_catalogue();

}  // namespace fh
