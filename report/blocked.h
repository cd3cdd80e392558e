// A blocked process seen from outside, the parts the watchdog of `forkhazard run` and `forkhazard inspect` share:
// which of its threads sleep in a futex wait nothing left in them can end (/proc), and a blocked thread's stack
// with what the table of waits makes of it (libdwfl).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "report/proc_files.h"
#include "report/stack_view.h"
#include "report/wait_kinds.h"

namespace fh::watchdog {

// One thread of a process, seen blocked: its wait, its voluntary switches (a thread woken and blocked again in the
// same wait has one more) and its blocked signals.
struct TaskWait {
  pid_t tid = 0;
  SyscallLine call;
  int64_t switches = -1;
  uint64_t blocked = 0;
  bool operator==(const TaskWait&) const = default;
};

// Every thread of `pid` (the main thread first) asleep (state S) in a private futex wait without a timeout;
// nullopt as soon as one is not.
std::optional<std::vector<TaskWait>> stuck_threads(pid_t pid, std::string* buffer);

// The blocked thread's stack, read once: its frames, their symbols and what the table of waits makes of them.
struct BlockedStack {
  Frames frames;
  std::vector<FrameSymbols> symbols;
  std::vector<WaitFrame> waits;
  std::string called;  // the function the report names as the call
};

// The stack of thread `tid` (stopped under our ptrace when `traced`; else only the pc /proc shows for `call`).
BlockedStack take_stack(ProcessView& view, bool traced, const SyscallLine& call, pid_t tid);

}  // namespace fh::watchdog
