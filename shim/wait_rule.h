// When a blocked wait can end only by a signal handler: the one rule that decides whether a single-threaded
// process blocked without a timeout on a private word (a futex, a semaphore at 0) can ever go on. The shim
// applies it before sem_wait blocks, the watchdog of `forkhazard run` to a process seen blocked from outside
// (/proc/PID/status SigCgt). Header-only and constexpr: both sides and the tests share it.
#pragma once

#include <csignal>
#include <cstdint>

namespace fh {

// Bit (sig - 1) of a signal set, as /proc/PID/status prints SigCgt.
constexpr uint64_t signal_bit(int sig) { return uint64_t{1} << (sig - 1); }

// glibc installs handlers for its own signals 32 (SIGCANCEL) and 33 (SIGSETXID) in every process that ever
// had threads (nptl/nptl-init.c); they post nothing.
inline constexpr uint64_t glibc_internal_signals = signal_bit(32) | signal_bit(33);

// Signals only a terminal (a person) sends: a process only a keystroke can wake is hung as far as the program
// goes. CPython catches SIGINT in every process, so without this no Python child could ever be judged.
inline constexpr uint64_t terminal_signals = signal_bit(SIGINT) | signal_bit(SIGQUIT) | signal_bit(SIGHUP) |
                                             signal_bit(SIGTSTP) | signal_bit(SIGTTIN) | signal_bit(SIGTTOU) |
                                             signal_bit(SIGWINCH);

// Whether a handler of the process could end the wait: any caught signal but glibc's own and the terminal's.
// A handler for SIGTERM, SIGALRM, SIGCHLD, SIGIO, SIGUSR1/2 or a real-time signal may be run by a timer, a
// child or a peer of the program itself and may sem_post (async-signal-safe): such a wait is never judged.
constexpr bool handlers_may_end_wait(uint64_t caught) {
  return (caught & ~(glibc_internal_signals | terminal_signals)) != 0;
}

}  // namespace fh
