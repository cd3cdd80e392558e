// What this process's kernel state says, read with plain system calls and no lock (core.h): its thread count, its
// signal dispositions, its own memory read safely, whether a tid lives, what a clone request makes.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "shim/core.h"
#include "shim/core_internal.h"
#include "symbols/safe_io.h"
#include "shim/wait_rule.h"

namespace fh::shim::core {

namespace {
// The leading fields of struct clone_args (linux/sched.h), which every version of clone3 starts with.
struct clone_args_prefix {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};
}  // namespace

// Threads the kernel lists that we never registered (raw clone(), or made before the shim could see them).
// Threads that passed our exit hook are still listed for a moment after pthread_join returns: they are known.
int count_unknown_threads() {
  if (kernel_thread_count() <= 1) return 0;
  int fd = sys::open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  int unknown = 0;
  char buf[2048];
  while (true) {
    long n = sys::call(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      off += d->d_reclen;
      long tid;
      if (!safe_parse_int(d->d_name, safe_strlen(d->d_name), &tid) || tid == tls.tid) continue;
      if (!tid_known(static_cast<int>(tid))) unknown++;
    }
  }
  sys::close(fd);
  return unknown;
}

// /proc/self/stat field 20 is the kernel's thread count: one read, no directory walk, in the common case.
int kernel_thread_count() {
  int fd = sys::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n = sys::read(fd, buf, sizeof buf - 1);
  sys::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  char* p = buf + n;
  while (p > buf && *p != ')') p--;
  int field = 2;
  for (; *p != '\0'; p++) {
    if (*p != ' ') continue;
    field++;
    if (field == 20) {
      long v = 0;
      for (p++; *p >= '0' && *p <= '9'; p++) v = v * 10 + (*p - '0');
      return static_cast<int>(v);
    }
  }
  return -1;
}

uint64_t caught_signals() {
  int saved = errno;
  uint64_t caught = 0;
  for (int sig = 1; sig <= 64; sig++) {
    struct sigaction sa;
    if (sigaction(sig, nullptr, &sa) != 0) continue;
    bool handler = (sa.sa_flags & SA_SIGINFO) != 0 ? sa.sa_sigaction != nullptr
                                                  : sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
    if (handler) caught |= signal_bit(sig);
  }
  errno = saved;
  return caught;
}

bool read_own_memory(void* dst, const void* src, size_t n, bool plain_read_if_refused) {
  int saved = errno;
  struct iovec local = {dst, n};
  struct iovec remote = {const_cast<void*>(src), n};
  long got = sys::call(SYS_process_vm_readv, g_process.pid > 0 ? g_process.pid : sys::call(SYS_getpid), &local, 1UL,
                     &remote, 1UL, 0UL);
  bool ok = got == static_cast<long>(n);
  if (got < 0 && errno != EFAULT && plain_read_if_refused) {
    __builtin_memcpy(dst, src, n);
    ok = true;
  }
  errno = saved;
  return ok;
}

bool is_fork_like_syscall(long number, long arg1, long arg2) {
  switch (number) {
    case SYS_fork: return true;
    case SYS_clone: return (arg1 & CLONE_VM) == 0 && arg2 == 0;  // flags, new stack
#ifdef SYS_clone3
    case SYS_clone3: {
      // The kernel rejects a size below its first layout (EINVAL) and an unreadable pointer (EFAULT): so
      // does this test, without touching memory the program may not own.
      struct clone_args_prefix args;
      if (arg1 == 0 || static_cast<unsigned long>(arg2) < sizeof args) return false;
      if (!read_own_memory(&args, reinterpret_cast<const void*>(arg1), sizeof args, true)) return false;
      return (args.flags & CLONE_VM) == 0 && args.stack == 0;
    }
#endif
    default: return false;
  }
}

bool tid_alive(int tid) {
  int saved = errno;
  long r = sys::call(SYS_tgkill, g_process.pid, tid, 0);
  bool alive = r == 0 || errno != ESRCH;
  errno = saved;
  return alive;
}

bool own_timer_armed() {
  int saved = errno;
  struct itimerval real;
  bool armed = getitimer(ITIMER_REAL, &real) == 0 && (real.it_value.tv_sec != 0 || real.it_value.tv_usec != 0);
  if (!armed) {
    int fd = sys::open("/proc/self/timers", O_RDONLY | O_CLOEXEC);
    char c;
    if (fd >= 0) {
      armed = sys::read(fd, &c, 1) == 1;  // any line: a POSIX timer exists
      sys::close(fd);
    }
  }
  errno = saved;
  return armed;
}

}  // namespace fh::shim::core
