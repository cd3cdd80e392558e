// What a blocked futex wait is, told from the stack that waits: the one table of the functions and modules glibc
// and the runtimes wait in. The watchdog of `forkhazard
// run` reads it to decide whether a wait it sees from outside is the fork's doing (README, "The rule").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fh::watchdog {

enum class WaitKind {
  unknown,        // nothing in the table: a program's own futex, a runtime we do not know
  internal_lock,  // glibc's own lock (__libc_lock, _IO_lock: tz, env, random, stdio lists...; __libc_rwlock: locale)
  mutex,          // a pthread mutex (also ld.so's recursive locks, taken through glibc's own pointer)
  rwlock,         // a pthread rwlock
  team_barrier,   // libgomp's thread team: its pool threads are what the wait needs
  condvar,        // a condition variable (a signal wait: only a signal can end it)
  semaphore,      // a semaphore (a lock or a signal: the shim knows which, from outside we do not)
  static_init,    // a C++ function-local static under construction
};
const char* wait_kind_name(WaitKind kind);

// A lock acquisition: only the lock's holder releases it, so a signal handler can at most make the call give up,
// never make it succeed (README, "The rule"): glibc's own lock, a mutex, an rwlock, libgomp's team (its threads
// are what it waits for). The handler rule applies to the other waits only.
constexpr bool is_lock_wait(WaitKind kind) {
  return kind == WaitKind::internal_lock || kind == WaitKind::mutex || kind == WaitKind::rwlock ||
         kind == WaitKind::team_barrier;
}

// One frame as the table reads it: its symbol, the names its module exports for it, and its module's path.
struct WaitFrame {
  std::string symbol;
  std::vector<std::string> exported;
  std::string module;
  bool interrupted = false;  // a frame a signal interrupted (libdwfl: an activation that is not the innermost)
};

// The kind of the innermost frame the table knows (a function by name or export, or a runtime's module), else
// unknown.
WaitKind classify_wait(const std::vector<WaitFrame>& frames);

// A signal handler's frame is on the stack (glibc's __restore_rt trampoline, or a frame a signal interrupted):
// the thread may be re-entering
// code it had interrupted, holding the very lock it now waits on.
bool in_signal_handler(const std::vector<WaitFrame>& frames);

// The frame is inside pthread rwlock code (the table's rwlock functions, by name or export).
bool in_rwlock_code(const WaitFrame& frame);

}  // namespace fh::watchdog
