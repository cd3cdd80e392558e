// `forkhazard inspect PID...`: a process that is already blocked, with nothing preloaded. Each thread's state and
// wait (/proc), its C stack (libdwfl, the process stopped an instant under ptrace and let go), its Python stack
// where it is a CPython 3.11 or 3.13 (python_remote.h), and the verdict by the rule `run`'s watchdog applies
// (README, "The rule"): a deadlock only where every thread waits for good and a wait is the fork's doing, read
// from the process and its parent (a mutex's __owner that is a thread of the parent, not of the process; glibc's
// own lock or libgomp's team with no thread left to hold it). It never changes the process: read-only ptrace
// (seize, interrupt, detach), no signal, no exit.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace fh::watchdog {

struct Inspection {
  enum class Status { inspected, no_such_process, not_permitted, gone } status = Status::inspected;
  bool deadlock = false;
  std::string raw;      // the deadlock's report in the shim's protocol (shim/protocol.h), when deadlock
  std::string summary;  // what was seen, for a person: one block of lines
};

// How long a process is watched for a change before its waits count as for good.
inline constexpr int inspect_look_ms = 300;

Inspection inspect_process(pid_t pid);

// The processes of this user (every process for root), other than this one, whose every thread sleeps in a
// futex wait with no timeout (a candidate for inspect_process; the two looks are its own).
std::vector<pid_t> blocked_processes();

}  // namespace fh::watchdog
