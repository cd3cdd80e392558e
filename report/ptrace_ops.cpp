// What the watchdog does to a judged process (ptrace_ops.h).
#include "report/ptrace_ops.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shim/wait_rule.h"

namespace fh::watchdog {

int seize_and_stop(pid_t pid, bool* abandoned) {
  *abandoned = false;
  if (ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) != 0) return errno;
  if (ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) != 0) {
    int err = errno;
    ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
    return err;
  }
  // A sleeping task stops at once; one that does not within a second (stuck in the kernel) is given up on, and
  // stays ours until this process ends and the kernel detaches it.
  for (int waited_ms = 0;; ++waited_ms) {
    int status = 0;
    pid_t r = waitpid(pid, &status, __WALL | WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      if (waited_ms == 1000) {
        *abandoned = true;
        return 0;
      }
      usleep(1000);
      continue;
    }
    if (r != pid || !WIFSTOPPED(status)) {  // it ended meanwhile
      *abandoned = true;
      return 0;
    }
    if (status >> 16 == PTRACE_EVENT_STOP && WSTOPSIG(status) == SIGTRAP) return 0;
    // A signal arrived first (its alarm, say): let it have it, and leave the process alone.
    ptrace(PTRACE_DETACH, pid, nullptr, reinterpret_cast<void*>(static_cast<uintptr_t>(WSTOPSIG(status))));
    *abandoned = true;
    return 0;
  }
}

// Makes the stopped thread, blocked in futex(word), run exit_group(code) when it resumes: back up to its
// `syscall` instruction with the exit_group number in rax, and orig_rax = -1 so that the kernel's restart of
// the interrupted futex call does not undo it. Empty on success, else why not.
std::string inject_exit_group(pid_t pid, uint64_t word, int code) {
#if defined(__x86_64__)
  user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, pid, nullptr, &regs) != 0) return std::string("PTRACE_GETREGS: ") + strerror(errno);
  if (static_cast<long>(regs.orig_rax) != futex_syscall || regs.rdi != word)
    return "it is no longer in the futex wait";
  errno = 0;
  long text = ptrace(PTRACE_PEEKTEXT, pid, reinterpret_cast<void*>(regs.rip - 2), nullptr);
  if (errno != 0 || (text & 0xffff) != 0x050f) return "no syscall instruction before its pc";
  regs.rip -= 2;
  regs.orig_rax = ~0ull;
  regs.rax = SYS_exit_group;
  regs.rdi = static_cast<unsigned long long>(code);
  if (ptrace(PTRACE_SETREGS, pid, nullptr, &regs) != 0) return std::string("PTRACE_SETREGS: ") + strerror(errno);
  return {};
#else
  (void)pid;
  (void)word;
  (void)code;
  return "exit injection is implemented for x86_64 only";
#endif
}

std::vector<uint64_t> register_values(pid_t tid) {
#if defined(__x86_64__)
  user_regs_struct r;
  if (ptrace(PTRACE_GETREGS, tid, nullptr, &r) != 0) return {};
  return {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
#else
  (void)tid;
  return {};
#endif
}

bool abort_kills(const ProcStatus& status) {
  uint64_t bit = signal_bit(SIGABRT);
  return ((status.caught | status.blocked | status.ignored) & bit) == 0;
}

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace fh::watchdog
