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

// The threads of `pid`, the main one first.
std::vector<pid_t> task_ids(pid_t pid);

// The name of thread `tid` of `pid` (/proc/PID/task/TID/comm), "" when it cannot be read.
std::string task_comm(pid_t pid, pid_t tid, std::string* buffer);

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

// The first part of the rule for a mutex wait (the word is the mutex's __lock; glibc keeps the holder's tid in
// __owner, the parent-side tid after a fork), in a process whose threads `tids` are all blocked: "" with *owner
// set when the owner is no thread of the process (0: none written, a thread between the lock word and __owner,
// which none of these can be unless a signal handler interrupted one there: one that vanished at fork()); else
// why it is not the fork's doing.
std::string mutex_owner_outside(pid_t pid, uint64_t word, pid_t waiter, const std::vector<pid_t>& tids,
                                bool any_in_handler, int* owner);

// Another of `kinds` (the process's blocked threads' waits, `self` the judged one's index) waits in libgomp's
// team too: the team may be the process's own. Empty when none.
std::string team_of_its_own(const std::vector<std::pair<pid_t, WaitKind>>& kinds, size_t self);

// The same two parts of the rule for `threads` (anything with .tid, .kind, .word), judging threads[i].
template <class Threads>
std::string team_of_its_own(const Threads& threads, size_t i) {
  std::vector<std::pair<pid_t, WaitKind>> kinds;
  for (const auto& w : threads) kinds.emplace_back(w.tid, w.kind);
  return team_of_its_own(kinds, i);
}
template <class Threads>
std::string mutex_owner_outside(pid_t pid, const Threads& threads, size_t i, bool any_in_handler, int* owner) {
  std::vector<pid_t> tids;
  for (const auto& w : threads) tids.push_back(w.tid);
  return mutex_owner_outside(pid, threads[i].word, threads[i].tid, tids, any_in_handler, owner);
}

}  // namespace fh::watchdog
