// The `forkhazard` command line: `run`, `report`, `--help`. main() (report/main.cpp) only calls cli_main.
#pragma once

namespace fh {

// Exit statuses of the CLI besides the watched command's own.
inline constexpr int exit_hazard = 66;  // a hazard was reported (the shim's default exitcode too)
inline constexpr int exit_usage = 2;    // bad command line, or nothing could be started
inline constexpr int exit_not_found = 127;  // the command cannot be found or executed (as a shell does)

int cli_main(int argc, char** argv);

}  // namespace fh
