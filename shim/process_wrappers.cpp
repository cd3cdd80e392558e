// The wrappers of threads and processes: thread creation and the calls about other threads, unwind-table
// registration, fork and its raw forms, exit and exec. Each returns exactly what libc returned, errno as libc
// left it.
#include "shim/python.h"
#include "shim/runtimes.h"
#include "shim/wrapper_support.h"

using namespace fh;
using namespace fh::shim;

// ---- threads --------------------------------------------------------------------------------------------

FH_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  CallScope scope;
  if (scope.own()) return FH_REAL(pthread_create)(thread, attr, start, arg);
  if (FH_UNLIKELY(g_process.restricted)) scope.unsafe(call_pthread_create, FH_CALLER());
  else {
    // A process about to have threads: its forks may need CPython's dumper and the runtimes' lock table.
    python::resolve(libc_dlsym_default, g_process.passive || !g_options.python_stacks ? -1 : STDERR_FILENO);
    runtimes::resolve(libc_dlsym_default);
  }
  core::current_slot();  // the creator counts as a live thread from now on
  uintptr_t created[max_site_pcs];
  size_t ncreated = capture_site(created);
  ThreadSlot* s = core::thread_creating(start, arg, created, ncreated);
  if (s == nullptr) return FH_REAL(pthread_create)(thread, attr, start, arg);
  int rc = FH_REAL(pthread_create)(thread, attr, thread_trampoline, s);
  if (rc != 0) core::release_claim(s);
  return rc;
}

FH_EXPORT void pthread_exit(void* retval) {
  CallScope scope;
  FH_REAL(pthread_exit)(retval);
  __builtin_unreachable();
}

FH_EXPORT int pthread_setname_np(pthread_t thread, const char* name) {
  CallScope scope;
  int rc = FH_REAL(pthread_setname_np)(thread, name);
  if (rc == 0 && !scope.own()) {
    ThreadSlot* s = pthread_equal(thread, pthread_self()) ? core::current_slot() : core::find_slot_by_handle(thread);
    if (s != nullptr) core::set_name(s, name);
  }
  return rc;
}

// A call about another thread, in a restricted process: reported when that thread vanished at fork (glibc
// marked it finished in the child, so join returns 0 at once, as if it had run to its end).
#define FH_THREAD_CALL(ret, name, params, args)                                            \
  FH_EXPORT ret name params {                                                             \
    CallScope scope;                                                                      \
    if (FH_UNLIKELY(g_process.restricted) && !scope.own()) {                              \
      if (const ThreadSlot* gone = core::find_vanished_by_handle(thread))                 \
        scope.unsafe(call_##name, FH_CALLER(), gone);                                     \
    }                                                                                     \
    return FH_REAL(name) args;                                                            \
  }
FH_THREAD_CALL(int, pthread_join, (pthread_t thread, void** result), (thread, result))
FH_THREAD_CALL(int, pthread_timedjoin_np, (pthread_t thread, void** result, const struct timespec* t),
               (thread, result, t))
FH_THREAD_CALL(int, pthread_tryjoin_np, (pthread_t thread, void** result), (thread, result))
FH_THREAD_CALL(int, pthread_detach, (pthread_t thread), (thread))
FH_THREAD_CALL(int, pthread_cancel, (pthread_t thread), (thread))
#undef FH_THREAD_CALL

// ---- unwind tables registered at run time ---------------------------------------------------------------
// libgcc before 13 takes its object_mutex in every unwind once any object registered tables this way (LLVM ORC,
// llvmlite, some embedded runtimes), before it asks glibc's lock-free _dl_find_object. A vanished thread that
// was unwinding or registering at the fork leaves that mutex held, and a report in the child would hang in its
// own stack capture: such a child reports call sites only (ProcessState::frames_registered, capture_forbid).
#define FH_REGISTER_FRAME(name, params, args)                                \
  FH_EXPORT void name params {                                               \
    ensure_init();                                                           \
    __atomic_store_n(&g_process.frames_registered, true, __ATOMIC_RELAXED);   \
    if (auto real_fn = FH_REAL(name)) real_fn args; /* none: no libgcc_s */  \
  }
FH_REGISTER_FRAME(__register_frame_info, (const void* begin, void* ob), (begin, ob))
FH_REGISTER_FRAME(__register_frame_info_bases, (const void* begin, void* ob, void* tbase, void* dbase),
                  (begin, ob, tbase, dbase))
FH_REGISTER_FRAME(__register_frame_info_table, (void* begin, void* ob), (begin, ob))
FH_REGISTER_FRAME(__register_frame_info_table_bases, (void* begin, void* ob, void* tbase, void* dbase),
                  (begin, ob, tbase, dbase))
FH_REGISTER_FRAME(__register_frame, (void* begin), (begin))
FH_REGISTER_FRAME(__register_frame_table, (void* begin), (begin))
#undef FH_REGISTER_FRAME

// ---- process creation -----------------------------------------------------------------------------------
// vfork is deliberately not wrapped: its child borrows our stack frame and memory, so a wrapper returning in
// the child would wreck the frame the parent resumes on.

namespace {
// The fork site, captured by the wrapper (fork_prepare captures it for forks that bypass the wrapper).
void note_fork_site(const CallScope& scope) {
  if (scope.own()) return;
  uintptr_t pcs[max_site_pcs];
  size_t n = capture_site(pcs);
  core::fork_called(pcs, n);
}
}  // namespace

// Child handlers run first-registered-first: entering the scope starts the shim, whose start-up registers its
// handlers, before this registration of the program's (a library constructor may run before ours).
FH_EXPORT int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void), void* dso) {
  CallScope scope;
  return FH_REAL(__register_atfork)(prepare, parent, child, dso);
}

FH_EXPORT pid_t fork(void) {
  CallScope scope;
  note_fork_site(scope);
  pid_t pid = FH_REAL(fork)();  // runs atfork_prepare and, in the child, atfork_child
  core::fork_returned();
  return pid;
}

// ---- timers -------------------------------------------------------------------------------------------------
FH_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  if (FH_UNLIKELY(tls.capturing_python) && fd == python::capture_fd) return python::capture_write(buf, n);
  return FH_REAL(write)(fd, buf, n);
}

// In a forked child, a timer armed since the fork is its own timeout (ProcessState::timer_armed): only noted, the
// call is libc's. Not hot: a store where the call succeeded and armed something.
namespace {
inline void note_timer(bool armed) {
  if (armed && FH_UNLIKELY(g_process.forked_child)) __atomic_store_n(&g_process.timer_armed, true, __ATOMIC_RELAXED);
}
}  // namespace

FH_EXPORT unsigned alarm(unsigned seconds) {
  ensure_init();
  unsigned left = FH_REAL(alarm)(seconds);
  note_timer(seconds != 0);
  return left;
}

FH_EXPORT int setitimer(__itimer_which_t which, const struct itimerval* value, struct itimerval* old) {
  ensure_init();
  int rc = FH_REAL(setitimer)(which, value, old);
  note_timer(rc == 0 && which == ITIMER_REAL && value != nullptr &&
             (value->it_value.tv_sec != 0 || value->it_value.tv_usec != 0));
  return rc;
}

FH_EXPORT int timer_create(clockid_t clock, struct sigevent* event, timer_t* timer) {
  ensure_init();
  int rc = FH_REAL(timer_create)(clock, event, timer);
  note_timer(rc == 0);
  return rc;
}

FH_EXPORT pid_t _Fork(void) {
  CallScope scope;
  note_fork_site(scope);
  atfork_prepare();
  pid_t pid = FH_REAL(_Fork)();
  if (pid == 0) atfork_child();
  core::fork_returned();
  return pid;
}

// A process sharing our memory without being our thread (clone(CLONE_VM) without CLONE_THREAD; a vfork-like
// child, CLONE_VFORK, suspends us until it execs or exits): it may wake any private futex of ours, which the
// thread count does not show, so no wait of this process is judged endless from then on (ProcessState::vm_peers).
namespace {
void note_vm_peer(int flags) {
  if ((flags & (CLONE_VM | CLONE_THREAD | CLONE_VFORK)) == CLONE_VM)
    __atomic_fetch_add(&g_process.vm_peers, 1, __ATOMIC_RELAXED);
}
}  // namespace

// Raw forks: syscall(SYS_fork), clone without CLONE_VM. No atfork handler runs and glibc resets nothing, so
// the shim does its own prepare and child steps around the request and marks the child a raw fork.
namespace {
void raw_fork_child() {
  atfork_child();
  g_process.raw_fork = true;
}

struct CloneStart {
  int (*fn)(void*);
  void* arg;
};

// First thing in a fork-like clone child, on its new stack; `p` points into the parent's frame, of which the
// child has its own copy.
int clone_trampoline(void* p) {
  const auto* start = static_cast<const CloneStart*>(p);
  raw_fork_child();
  return start->fn(start->arg);
}
}  // namespace

// Every syscall() of the program passes here: one compare, then libc's syscall with the same six words
// (glibc's own syscall() passes six registers whatever the number takes).
FH_EXPORT long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  if (FH_LIKELY(number != SYS_fork && number != SYS_clone && number != SYS_clone3))
    return FH_REAL(syscall)(number, a1, a2, a3, a4, a5, a6);
  if (!core::is_fork_like_syscall(number, a1, a2)) {
    long rc = FH_REAL(syscall)(number, a1, a2, a3, a4, a5, a6);
    if (number == SYS_clone && rc > 0) note_vm_peer(static_cast<int>(a1));
    return rc;
  }
  CallScope scope;
  if (scope.own()) return FH_REAL(syscall)(number, a1, a2, a3, a4, a5, a6);
  note_fork_site(scope);
  atfork_prepare();
  long rc = FH_REAL(syscall)(number, a1, a2, a3, a4, a5, a6);
  if (rc == 0) raw_fork_child();
  core::fork_returned();
  return rc;
}

FH_EXPORT int clone(int (*fn)(void*), void* stack, int flags, void* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  void* parent_tid = va_arg(ap, void*);
  void* tls_arg = va_arg(ap, void*);
  void* child_tid = va_arg(ap, void*);
  va_end(ap);
  CallScope scope;
  // A null fn or stack is glibc's EINVAL, before any clone: the trampoline must not hide it.
  if ((flags & CLONE_VM) != 0 || fn == nullptr || stack == nullptr || scope.own()) {
    int rc = FH_REAL(clone)(fn, stack, flags, arg, parent_tid, tls_arg, child_tid);
    if (rc > 0) note_vm_peer(flags);  // only the parent comes back here: the child runs fn and exits in glibc
    return rc;
  }
  note_fork_site(scope);
  atfork_prepare();
  CloneStart start{fn, arg};
  int rc = FH_REAL(clone)(clone_trampoline, stack, flags, &start, parent_tid, tls_arg, child_tid);
  core::fork_returned();
  return rc;
}

// ---- exit and exec --------------------------------------------------------------------------------------

// In a restricted process exit() is reported; the atexit handlers and destructors it runs are inside the
// reported call (their unsafe calls are not reported again) but their lock calls are still judged.
FH_EXPORT void exit(int status) {
  CallScope scope;
  enter_catalogued(scope, call_exit, FH_CALLER());
  if (FH_UNLIKELY(g_process.restricted) && !scope.own()) flush_repeats();
  FH_REAL(exit)(status);
  __builtin_unreachable();
}

// The exit-handler registry: each call counted in flight in the exit family (families.def), nothing else.
FH_EXPORT int __cxa_atexit(void (*func)(void*), void* arg, void* dso_handle) {
  CallScope scope;
  scope.in_flight(Family::exit);
  return FH_REAL(__cxa_atexit)(func, arg, dso_handle);
}

FH_EXPORT int __cxa_at_quick_exit(void (*func)(void), void* dso_handle) {
  CallScope scope;
  scope.in_flight(Family::exit);
  return FH_REAL(__cxa_at_quick_exit)(func, dso_handle);
}

FH_EXPORT int on_exit(void (*func)(int, void*), void* arg) {
  CallScope scope;
  scope.in_flight(Family::exit);
  return FH_REAL(on_exit)(func, arg);
}

FH_EXPORT void __cxa_finalize(void* dso_handle) {
  CallScope scope;
  scope.in_flight(Family::exit);
  FH_REAL(__cxa_finalize)(dso_handle);
}

FH_EXPORT void _exit(int status) {
  CallScope scope;
  before_exec_or_exit();
  FH_REAL(_exit)(status);
  __builtin_unreachable();
}

FH_EXPORT void _Exit(int status) {
  CallScope scope;
  before_exec_or_exit();
  FH_REAL(_Exit)(status);
  __builtin_unreachable();
}

// A successful exec replaces the image and ends the restriction; a failed one returns and leaves it. Nothing
// else is touched: a vfork child calls these on its parent's memory.
#define FH_EXEC(name, params, args)                     \
  FH_EXPORT int name params {                           \
    CallScope scope;                                    \
    before_exec_or_exit();                              \
    return FH_REAL(name) args;                          \
  }
FH_EXEC(execve, (const char* path, char* const argv[], char* const envp[]), (path, argv, envp))
FH_EXEC(execv, (const char* path, char* const argv[]), (path, argv))
FH_EXEC(execvp, (const char* file, char* const argv[]), (file, argv))
FH_EXEC(execvpe, (const char* file, char* const argv[], char* const envp[]), (file, argv, envp))
FH_EXEC(fexecve, (int fd, char* const argv[], char* const envp[]), (fd, argv, envp))
#undef FH_EXEC

namespace {
// Counts the arguments of an execl-style call up to its terminating null pointer.
size_t count_exec_args(const char* arg0, va_list ap) {
  size_t n = 1;
  if (arg0 == nullptr) return 0;
  while (va_arg(ap, const char*) != nullptr) n++;
  return n;
}
}  // namespace

// glibc's execl* build an argv on the stack and call the v-variant: so do these.
#define FH_EXECL(name, vcall, with_env)                                           \
  FH_EXPORT int name(const char* path, const char* arg, ...) {                    \
    va_list ap;                                                                   \
    va_start(ap, arg);                                                            \
    va_list count_ap;                                                             \
    va_copy(count_ap, ap);                                                        \
    size_t n = count_exec_args(arg, count_ap);                                    \
    va_end(count_ap);                                                             \
    char* argv[n + 1];                                                            \
    argv[0] = const_cast<char*>(arg);                                             \
    for (size_t i = 1; i <= n; i++) argv[i] = va_arg(ap, char*);                  \
    argv[n] = nullptr;                                                            \
    char* const* envp = with_env ? va_arg(ap, char* const*) : nullptr;            \
    va_end(ap);                                                                   \
    (void)envp;                                                                   \
    return vcall;                                                                 \
  }
FH_EXECL(execl, execv(path, argv), false)
FH_EXECL(execlp, execvp(path, argv), false)
FH_EXECL(execle, execve(path, argv, envp), true)
#undef FH_EXECL
