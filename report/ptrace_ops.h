// What the watchdog does to a judged process: stop it under ptrace, make it run exit_group, hold it by a pidfd.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "report/proc_files.h"

namespace fh::watchdog {

// Stops `pid` under PTRACE_SEIZE + PTRACE_INTERRUPT. Returns 0, or the errno of the refusal. *abandoned is set
// (and the process let go) when it stopped for a signal rather than our interrupt (the signal is handed back on
// detach), or ended meanwhile.
int seize_and_stop(pid_t pid, bool* abandoned);

// Makes the stopped thread, blocked in futex(word), run exit_group(code) when it resumes. Empty on success, else
// why not.
std::string inject_exit_group(pid_t pid, uint64_t word, int code);

// The general registers of the stopped thread (not its stack or instruction pointer): where a function keeps its
// pointer arguments. Empty where they cannot be read (or off x86_64).
std::vector<uint64_t> register_values(pid_t tid);

// Whether SIGABRT would end the process with its default action: no handler, not blocked, not ignored.
bool abort_kills(const ProcStatus& status);

// A file descriptor closed when it goes out of scope, unless released.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace fh::watchdog
