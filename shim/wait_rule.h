// When a blocked wait can end only by a signal handler: the one rule that decides whether a single-threaded
// process blocked without a timeout on a private word (a futex, a semaphore at 0) can ever go on. The shim
// applies it before sem_wait blocks, the watchdog of `forkhazard run` to a process seen blocked from outside
// (/proc/PID/status SigCgt). Header-only and constexpr: both sides and the tests share it. It is for signal-like
// waits only: a lock acquisition (a mutex, glibc's own lock, a semaphore a vanished thread holds) can be
// interrupted by a handler, never made to succeed, and is judged whatever the handlers (README, "The rule").
#pragma once

#include <csignal>
#include <cstdint>

namespace fh {

// Bit (sig - 1) of a signal set, as /proc/PID/status prints SigCgt.
constexpr uint64_t signal_bit(int sig) { return uint64_t{1} << (sig - 1); }

// glibc installs handlers for its own signals 32 (SIGCANCEL) and 33 (SIGSETXID) in every process that ever
// had threads (nptl/nptl-init.c); they post nothing.
inline constexpr uint64_t glibc_internal_signals = signal_bit(32) | signal_bit(33);

// SIGINT, Ctrl-C's signal: CPython catches it in every process (its handler posts nothing; the interrupted call
// raises KeyboardInterrupt in the main thread).
inline constexpr uint64_t interrupt_signal = signal_bit(SIGINT);

// What could end the wait, by the process's caught signals:
//  - never: no handler but glibc's own; the wait is endless (a deadlock verdict, and the process is ended);
//  - interrupt: only a SIGINT handler; any process may send SIGINT, and the handler may post (or make the call
//    give up), so the wait is reported as endless *unless interrupted* and never ended: the program goes on into
//    it as it would natively (a Python child blocked on a lock a vanished thread held: reported, hangs as natively)
//  - handler: a handler for anything else (SIGTERM, SIGHUP, SIGALRM, SIGCHLD, SIGUSR1, a real-time signal...) that
//    a timer, a child, a peer or a person may deliver and that may sem_post (async-signal-safe): never judged.
enum class WaitEnd { never, interrupt, handler };
constexpr WaitEnd what_may_end_wait(uint64_t caught) {
  uint64_t handlers = caught & ~glibc_internal_signals;
  if (handlers == 0) return WaitEnd::never;
  return (handlers & ~interrupt_signal) == 0 ? WaitEnd::interrupt : WaitEnd::handler;
}

}  // namespace fh
