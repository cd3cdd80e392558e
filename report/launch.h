// Running a command under the shim for `forkhazard run`: shim lookup, command checks, preload, reaping.
#pragma once

#include <string>
#include <vector>

namespace fh {

namespace watchdog {
class Watchdog;
}

// The absolute path of libforkhazard.so: $FORKHAZARD_LIB, else next to this binary, else the `make install`
// layout (<bindir>/../lib/forkhazard/). Empty with *error set when none exists.
std::string find_shim_library(std::string* error);

// What execvp would run for `command` (PATH search when it has no '/'). Empty with *error set ("forkhazard: CMD:
// command not found", "...: permission denied") when it cannot be run.
std::string resolve_command(const std::string& command, std::string* error);

// A one-line warning when LD_PRELOAD cannot reach the program at `path` (setuid/setgid or file capabilities:
// the loader runs in secure mode; statically linked: no loader at all), else "". `shown` names it.
std::string unwatchable_warning(const std::string& path, const std::string& shown);

// A fresh private directory (mkdtemp, mode 0700) for the shim's raw files. Empty with *error set on failure.
std::string make_private_dir(std::string* error);

// Removes `dir` and what it holds.
void remove_private_dir(const std::string& dir);

struct WatchedRun {
  int wait_status = 0;            // of the command itself, as waitpid gives it
  bool descendants_left = false;  // some descendants were still running when we stopped waiting
  std::string error;              // set when the command could not be started
};

// Runs argv[0] (execvp) with the shim preloaded and its reports directed to <dir>/fh.<pid>, as a child
// subreaper so orphaned descendants come back to us; waits for it, then reaps other descendants for up to
// `linger_ms`. SIGINT and SIGQUIT are ignored meanwhile: the terminal sends them to the command too. With a
// `watchdog`, it polls every descendant every watchdog->poll_ms() all along, lingering included.
WatchedRun run_watched(const std::vector<std::string>& argv, const std::string& shim, const std::string& dir,
                       watchdog::Watchdog* watchdog = nullptr, int linger_ms = 2000);

// The shell's view of a wait status: the exit code, or 128+N when killed by signal N.
int shell_status(int wait_status);

}  // namespace fh
