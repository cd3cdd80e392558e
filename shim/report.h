// Writing raw reports (shim/protocol.h) from inside the watched process: async-signal-safe, no allocation,
// safe in a forked child whatever its vanished threads held.
#pragma once

#include "shim/core.h"

namespace fh::shim {

struct Hazard {
  const char* kind;       // protocol::kind_*
  const char* call;       // the interposed function the program called
  const void* lock;       // the address the program passed; nullptr when there is none
  const char* lock_type;  // "mutex", "condvar", "libc:env", ...; nullptr: no lock line
  bool tracked;           // a lock the held-lock stacks record: held_as says how the owner holds it
  LockType held_as;
  int owner_tid;          // parent-side tid of the owner; 0 when none
  const char* unsafe_class = nullptr;  // unsafe-call only: protocol::class_*
  const char* why = nullptr;
  uintptr_t site = 0;                  // unsafe-call only: the program's return address
  const char* inside_family = nullptr; // unsafe-call only: owner_tid was inside this glibc lock family at fork
  uintptr_t acquired_pc = 0;           // possible-deadlock only: where the owner took the lock
  bool interrupt_only = false;         // deadlock only: endless unless a SIGINT handler ends it; not acted on
  bool never_succeeds = false;         // possible-deadlock only: a timed acquisition whose holder vanished
};

// Writes one report block to stderr or to <log_path>.<pid>. errno is preserved. Returns false when it could
// not be written now: a signal handler on an alternate stack too small for even the short report (a few hundred
// bytes left); the hazard is then kept and written at the next report, exec or exit (flush_deferred), and the
// caller must not act on it (end the process) either: nothing would say why.
bool report_hazard(const Hazard& hazard);

// Writes the hazards kept by report_hazard, if any (exec, exit, the next report).
void flush_deferred();

// Ends the process with `code` by the exit_group system call: nothing of the program's runs, and not our own
// _exit wrapper either (it would write the repeat counts a second time).
[[noreturn]] void exit_now(int code);

// Ends the process with SIGABRT without running anything of the program's (no stdio flush, no handlers).
[[noreturn]] void abort_now();

// The report destination (stderr or <log_path>.<pid>), opened once per process.
int report_fd();

// Serialises whole reports between threads of one process; bounded, never blocks for long (a vanished
// reporter cannot wedge a child). Returns whether it was taken.
bool report_lock();
void report_unlock(bool taken);

}  // namespace fh::shim
