// The interposers: each resolves, guards against re-entry, calls the real function and tells the core what
// happened. Every wrapper returns exactly what libc returned and leaves errno as libc left it.
#include <sched.h>
#include <sys/syscall.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "shim/core.h"
#include "shim/glibc_locks.h"
#include "shim/libc_decls.h"
#include "shim/options.h"
#include "shim/protocol.h"
#include "shim/report.h"
#include "shim/safe_io.h"
#include "shim/unsafe.h"
#include "symbols/capture.h"
#include "symbols/modules.h"

#define FH_EXPORT extern "C" __attribute__((visibility("default")))
#define FH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FH_LIKELY(x) __builtin_expect(!!(x), 1)
#define FH_CALLER() reinterpret_cast<uintptr_t>(__builtin_return_address(0))

namespace fh {
namespace real {
#define FH_INTERPOSE(name, kind, why) decltype(&::name) name;
#include "shim/interpose.def"
}  // namespace real

namespace {

// ---- start-up -------------------------------------------------------------------------------------------

std::atomic<int> g_init_state{0};  // 0 not started, 1 running, 2 done
bool g_ready = false;
__thread bool tls_in_init __attribute__((tls_model("initial-exec")));

[[noreturn]] void die_unresolved(const char* name) {
  SafeWriter(STDERR_FILENO).str("forkhazard: cannot find the real ").str(name)
      .str(" (dlsym RTLD_NEXT failed); the shim cannot run in this process\n");
  abort();
}

// libc's dlsym, found with dlvsym: the shim exports a dlsym of its own, so a plain call would come back here.
// Called through this pointer from the shim, RTLD_NEXT means "after the shim".
decltype(&::dlsym) g_libc_dlsym;

void* find_next(const char* name) {
  void* p = g_libc_dlsym != nullptr ? g_libc_dlsym(RTLD_NEXT, name) : nullptr;
  if (p != nullptr) return p;
  // A C program that dlopens a C++ library RTLD_LOCAL: its __cxa_guard_* references reach our exports, but the
  // runtime is not in the global scope where RTLD_NEXT looks.
  for (const char* lib : {"libstdc++.so.6", "libc++abi.so.1"}) {
    void* handle = real::dlopen != nullptr ? real::dlopen(lib, RTLD_LAZY | RTLD_NOLOAD) : nullptr;
    if (handle != nullptr && (p = g_libc_dlsym(handle, name)) != nullptr) return p;
  }
  return nullptr;
}

void resolve_all() {
  g_libc_dlsym = reinterpret_cast<decltype(g_libc_dlsym)>(dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34"));
  if (g_libc_dlsym == nullptr)
    g_libc_dlsym = reinterpret_cast<decltype(g_libc_dlsym)>(dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5"));
  real::dlopen = reinterpret_cast<decltype(real::dlopen)>(g_libc_dlsym(RTLD_NEXT, "dlopen"));
#define FH_INTERPOSE(name, kind, why) \
  if (real::name == nullptr) real::name = reinterpret_cast<decltype(real::name)>(g_libc_dlsym(RTLD_NEXT, #name));
#define FH_INTERPOSE_VERSIONED(name, version, kind, why)                                 \
  real::name = reinterpret_cast<decltype(real::name)>(dlvsym(RTLD_NEXT, #name, version)); \
  if (real::name == nullptr) real::name = reinterpret_cast<decltype(real::name)>(g_libc_dlsym(RTLD_NEXT, #name));
#include "shim/interpose.def"
}

// A function that was not there at start-up (a runtime loaded later): look again, or stop with its name.
template <class F>
F resolve_late(F* slot, const char* name) {
  *slot = reinterpret_cast<F>(find_next(name));
  if (*slot == nullptr) die_unresolved(name);
  return *slot;
}

void find_own_range(const ModuleEntry& m, void* ctx) {
  auto self = reinterpret_cast<uintptr_t>(ctx);
  if (self >= m.lo && self < m.hi) capture_set_own_range(m.lo, m.hi);
}

void atfork_prepare() {
  int saved = errno;
  tls.guard++;
  core::fork_prepare();
  tls.guard--;
  errno = saved;
}

void atfork_child() {
  int saved = errno;
  core::fork_child();
  reset_call_sites();
  errno = saved;
}

void init_slow() {
  int expected = 0;
  if (g_init_state.compare_exchange_strong(expected, 1)) {
    int saved = errno;
    tls_in_init = true;
    tls.guard++;
    resolve_all();
    options_set_defaults(&g_options);
    options_parse(getenv("FORKHAZARD_OPTIONS"), &g_options, STDERR_FILENO);
    if (g_options.help) options_print_help(STDERR_FILENO);
    for_each_module(find_own_range, reinterpret_cast<void*>(&init_slow));
    // Registered before anyone else's handlers where possible: prepare handlers run last-registered-first and
    // child handlers first-registered-first, so ours runs closest to the fork on both sides.
    pthread_atfork(atfork_prepare, nullptr, atfork_child);
    core::init();
    tls.guard--;
    tls_in_init = false;
    __atomic_store_n(&g_ready, true, __ATOMIC_RELEASE);
    g_init_state.store(2, std::memory_order_release);
    errno = saved;
    return;
  }
  if (tls_in_init) return;  // a call made by our own start-up (dlsym's calloc): bootstrap paths serve it
  while (g_init_state.load(std::memory_order_acquire) != 2) sched_yield();
}

inline void ensure_init() {
  if (FH_UNLIKELY(!__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE))) init_slow();
}

__attribute__((constructor)) void shim_constructor() { ensure_init(); }

#define FH_REAL(name) (FH_UNLIKELY(real::name == nullptr) ? resolve_late(&real::name, #name) : real::name)

// ---- restricted-child and in-flight scopes for catalogued calls -----------------------------------------

// In a restricted process: the program's call is reported (or judged a deadlock) once, and whatever the real
// function calls inside (printf -> malloc) passes through unreported.
class ChildCall {
 public:
  ChildCall(CallId id, uintptr_t site) : active_(tls.guard == 0) {
    if (active_) {
      on_unsafe_call(id, site);
      tls.guard++;
    }
  }
  ~ChildCall() {
    if (active_) tls.guard--;
  }
  ChildCall(const ChildCall&) = delete;
  ChildCall& operator=(const ChildCall&) = delete;

 private:
  bool active_;
};

// In any process: this thread is inside a glibc lock family while the real call runs. A fork that freezes it
// there leaves that lock locked in the child forever. Plain per-thread counters: only this thread writes them,
// and the child reads the frozen copy. Nothing at all for calls without a family.
template <Family F>
class InFlight {
 public:
  InFlight() {
    if constexpr (F != Family::none) {
      slot_ = core::current_slot();
      if (slot_ != nullptr) slot_->inside[static_cast<size_t>(F)]++;
    }
  }
  ~InFlight() {
    if constexpr (F != Family::none) {
      if (slot_ != nullptr) slot_->inside[static_cast<size_t>(F)]--;
    }
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  ThreadSlot* slot_ = nullptr;
};

// ---- bootstrap allocator: serves allocations made before dlsym has found malloc -----------------------

alignas(16) char g_pool[256 * 1024];
std::atomic<size_t> g_pool_used{0};

bool in_pool(const void* p) {
  auto a = static_cast<const char*>(p);
  return a >= g_pool && a < g_pool + sizeof g_pool;
}

void* pool_alloc(size_t n) {
  size_t need = (n + 16 + 15) & ~size_t{15};
  size_t off = g_pool_used.fetch_add(need);
  if (off + need > sizeof g_pool) return nullptr;
  char* block = g_pool + off;
  memcpy(block, &n, sizeof n);
  return block + 16;
}

size_t pool_size(const void* p) {
  size_t n;
  memcpy(&n, static_cast<const char*>(p) - 16, sizeof n);
  return n;
}

// ---- lock bookkeeping ----------------------------------------------------------------------------------

__attribute__((noinline)) void note_acquired_deep(const void* addr, LockType type, uintptr_t caller) {
  uintptr_t pcs[max_acq_pcs];
  int saved = errno;
  tls.guard++;
  size_t n = capture_stack(pcs, static_cast<size_t>(g_options.lock_stack_depth));
  tls.guard--;
  errno = saved;
  if (n == 0) {
    pcs[0] = caller;
    n = 1;
  }
  core::lock_acquired(addr, type, pcs, n);
}

inline __attribute__((always_inline)) void note_acquired(const void* addr, LockType type, uintptr_t caller) {
  if (FH_UNLIKELY(g_options.lock_stack_depth > 1)) return note_acquired_deep(addr, type, caller);
  core::lock_acquired(addr, type, &caller, 1);
}

void deadlock(const char* call, const void* lock, LockType held_as, int owner) {
  report_hazard(Hazard{protocol::kind_deadlock, call, lock, lock_type_name(held_as), true, held_as, owner});
  act_on_deadlock();
}

void deadlock_untracked(const char* call, const void* lock, const char* type, int owner) {
  report_hazard(Hazard{protocol::kind_deadlock, call, lock, type, false, LockType::mutex, owner});
  act_on_deadlock();
}

// sem_wait and friends in a restricted, single-threaded process on a private semaphore at 0 whose taker
// vanished at fork: nothing left can post it (CPython's threading.Lock is such a semaphore). A semaphore some
// signal handler posts is never taken by a vanished thread, so it is not judged.
void check_semaphore(sem_t* sem, const char* call) {
  if (!g_process.restricted || live_threads() > 1 || !glibc::sem_private(sem) || glibc::sem_value(sem) != 0) return;
  if (const ThreadSlot* taker = core::vanished_holding(sem, LockType::semaphore))
    deadlock(call, sem, LockType::semaphore, taker->tid);
}

void check_mutex(const pthread_mutex_t* m, const char* call) {
  int owner;
  if (core::mutex_blocks_forever(m, &owner)) deadlock(call, m, LockType::mutex, owner);
}

void check_rwlock(const pthread_rwlock_t* rw, bool write, const char* call) {
  int owner;
  LockType held_as;
  if (core::rwlock_blocks_forever(rw, write, &owner, &held_as)) deadlock(call, rw, held_as, owner);
}

bool acquired(int rc) { return rc == 0 || rc == EOWNERDEAD; }

size_t capture_site(uintptr_t* pcs) {
  int saved = errno;
  tls.guard++;
  size_t depth = static_cast<size_t>(g_options.stack_depth) < max_site_pcs ? static_cast<size_t>(g_options.stack_depth)
                                                                          : max_site_pcs;
  size_t n = capture_stack(pcs, depth);
  tls.guard--;
  errno = saved;
  return n;
}

void* thread_trampoline(void* p) {
  auto* s = static_cast<ThreadSlot*>(p);
  void* (*start)(void*) = s->start;
  void* arg = s->arg;
  core::thread_started(s);
  return start(arg);
}

void cond_wait_cancelled(void* m) {
  // Cancellation re-takes the mutex before the cleanup handlers run (nptl/pthread_cond_wait.c).
  if (tls.slot != nullptr) tls.slot->waiting_cond = nullptr;
  core::lock_acquired(m, LockType::mutex, nullptr, 0);
}

void set_waiting_cond(const void* c) {
  if (ThreadSlot* s = core::current_slot()) s->waiting_cond = c;
}

// Writes this process's repeat counts before its image or its life ends. Not from a vfork child: it runs on
// its parent's memory and must leave the shim's state untouched (it is the only process whose pid differs
// from the cached one without a fork handler having run).
void before_exec_or_exit() {
  if (FH_UNLIKELY(g_process.restricted) && syscall(SYS_getpid) == g_process.pid) flush_repeats();
}

}  // namespace
}  // namespace fh

using namespace fh;

// ---- threads --------------------------------------------------------------------------------------------

FH_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  ensure_init();
  if (tls.guard > 0) return FH_REAL(pthread_create)(thread, attr, start, arg);
  if (FH_UNLIKELY(g_process.restricted)) on_unsafe_call(call_pthread_create, FH_CALLER());
  core::current_slot();  // the creator counts as a live thread from now on
  ThreadSlot* s = core::claim_slot();
  if (s == nullptr) return FH_REAL(pthread_create)(thread, attr, start, arg);
  s->start = start;
  s->arg = arg;
  s->ncreated = static_cast<uint32_t>(capture_site(s->created));
  int rc = FH_REAL(pthread_create)(thread, attr, thread_trampoline, s);
  if (rc != 0) core::release_claim(s);
  return rc;
}

FH_EXPORT void pthread_exit(void* retval) {
  ensure_init();
  FH_REAL(pthread_exit)(retval);
  __builtin_unreachable();
}

FH_EXPORT int pthread_setname_np(pthread_t thread, const char* name) {
  ensure_init();
  int rc = FH_REAL(pthread_setname_np)(thread, name);
  if (rc == 0 && tls.guard == 0) {
    ThreadSlot* s = pthread_equal(thread, pthread_self()) ? core::current_slot() : core::find_slot_by_handle(thread);
    if (s != nullptr) core::set_name(s, name);
  }
  return rc;
}

// ---- mutexes --------------------------------------------------------------------------------------------

FH_EXPORT int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) {
  ensure_init();
  int rc = FH_REAL(pthread_mutex_init)(m, attr);
  if (rc == 0 && tls.guard == 0) {
    int saved = errno;
    int robust = PTHREAD_MUTEX_STALLED, pshared = PTHREAD_PROCESS_PRIVATE;
    if (attr != nullptr) {
      pthread_mutexattr_getrobust(attr, &robust);
      pthread_mutexattr_getpshared(attr, &pshared);
    }
    core::note_mutex_init(m, robust == PTHREAD_MUTEX_ROBUST && pshared == PTHREAD_PROCESS_PRIVATE);
    errno = saved;
  }
  return rc;
}

FH_EXPORT int pthread_mutex_destroy(pthread_mutex_t* m) {
  ensure_init();
  int rc = FH_REAL(pthread_mutex_destroy)(m);
  if (rc == 0 && tls.guard == 0) core::note_mutex_init(m, false);
  return rc;
}

FH_EXPORT int pthread_mutex_lock(pthread_mutex_t* m) {
  ensure_init();
  if (tls.guard > 0) return FH_REAL(pthread_mutex_lock)(m);
  if (FH_UNLIKELY(g_process.forked_child)) check_mutex(m, "pthread_mutex_lock");
  int rc = FH_REAL(pthread_mutex_lock)(m);
  if (acquired(rc)) note_acquired(m, LockType::mutex, FH_CALLER());
  return rc;
}

FH_EXPORT int pthread_mutex_trylock(pthread_mutex_t* m) {
  ensure_init();
  int rc = FH_REAL(pthread_mutex_trylock)(m);
  if (acquired(rc) && tls.guard == 0) note_acquired(m, LockType::mutex, FH_CALLER());
  return rc;
}

FH_EXPORT int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* abstime) {
  ensure_init();
  if (tls.guard > 0) return FH_REAL(pthread_mutex_timedlock)(m, abstime);
  if (FH_UNLIKELY(g_process.forked_child)) check_mutex(m, "pthread_mutex_timedlock");
  int rc = FH_REAL(pthread_mutex_timedlock)(m, abstime);
  if (acquired(rc)) note_acquired(m, LockType::mutex, FH_CALLER());
  return rc;
}

FH_EXPORT int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock, const struct timespec* abstime) {
  ensure_init();
  if (tls.guard > 0) return FH_REAL(pthread_mutex_clocklock)(m, clock, abstime);
  if (FH_UNLIKELY(g_process.forked_child)) check_mutex(m, "pthread_mutex_clocklock");
  int rc = FH_REAL(pthread_mutex_clocklock)(m, clock, abstime);
  if (acquired(rc)) note_acquired(m, LockType::mutex, FH_CALLER());
  return rc;
}

FH_EXPORT int pthread_mutex_unlock(pthread_mutex_t* m) {
  ensure_init();
  int rc = FH_REAL(pthread_mutex_unlock)(m);
  if (rc == 0 && tls.guard == 0) core::lock_released(m, LockFamily::mutex);
  return rc;
}

// ---- rwlocks --------------------------------------------------------------------------------------------

FH_EXPORT int pthread_rwlock_init(pthread_rwlock_t* rw, const pthread_rwlockattr_t* attr) {
  ensure_init();
  return FH_REAL(pthread_rwlock_init)(rw, attr);
}

#define FH_RWLOCK_BLOCKING(name, write, params, args)                                   \
  FH_EXPORT int name params {                                                          \
    ensure_init();                                                                     \
    if (tls.guard > 0) return FH_REAL(name) args;                                      \
    if (FH_UNLIKELY(g_process.forked_child)) check_rwlock(rw, write, #name);           \
    int rc = FH_REAL(name) args;                                                       \
    if (rc == 0) note_acquired(rw, write ? LockType::rwlock_write : LockType::rwlock_read, FH_CALLER()); \
    return rc;                                                                         \
  }
FH_RWLOCK_BLOCKING(pthread_rwlock_rdlock, false, (pthread_rwlock_t* rw), (rw))
FH_RWLOCK_BLOCKING(pthread_rwlock_wrlock, true, (pthread_rwlock_t* rw), (rw))
FH_RWLOCK_BLOCKING(pthread_rwlock_timedrdlock, false, (pthread_rwlock_t* rw, const struct timespec* t), (rw, t))
FH_RWLOCK_BLOCKING(pthread_rwlock_timedwrlock, true, (pthread_rwlock_t* rw, const struct timespec* t), (rw, t))
FH_RWLOCK_BLOCKING(pthread_rwlock_clockrdlock, false, (pthread_rwlock_t* rw, clockid_t c, const struct timespec* t),
                   (rw, c, t))
FH_RWLOCK_BLOCKING(pthread_rwlock_clockwrlock, true, (pthread_rwlock_t* rw, clockid_t c, const struct timespec* t),
                   (rw, c, t))
#undef FH_RWLOCK_BLOCKING

FH_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t* rw) {
  ensure_init();
  int rc = FH_REAL(pthread_rwlock_tryrdlock)(rw);
  if (rc == 0 && tls.guard == 0) note_acquired(rw, LockType::rwlock_read, FH_CALLER());
  return rc;
}

FH_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t* rw) {
  ensure_init();
  int rc = FH_REAL(pthread_rwlock_trywrlock)(rw);
  if (rc == 0 && tls.guard == 0) note_acquired(rw, LockType::rwlock_write, FH_CALLER());
  return rc;
}

FH_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t* rw) {
  ensure_init();
  int rc = FH_REAL(pthread_rwlock_unlock)(rw);
  if (rc == 0 && tls.guard == 0) core::lock_released(rw, LockFamily::rwlock);
  return rc;
}

// ---- semaphores -----------------------------------------------------------------------------------------

FH_EXPORT int sem_init(sem_t* s, int pshared, unsigned value) {
  ensure_init();
  return FH_REAL(sem_init)(s, pshared, value);
}

#define FH_SEM_WAIT(name, params, args)                                           \
  FH_EXPORT int name params {                                                    \
    ensure_init();                                                               \
    if (FH_UNLIKELY(g_process.restricted) && tls.guard == 0 && !FH_IS_TRY(name)) check_semaphore(s, #name); \
    int rc = FH_REAL(name) args;                                                 \
    if (rc == 0 && tls.guard == 0) note_acquired(s, LockType::semaphore, FH_CALLER()); \
    return rc;                                                                   \
  }
#define FH_IS_TRY(name) (sizeof(#name) == sizeof("sem_trywait") && #name[4] == 't' && #name[5] == 'r')
FH_SEM_WAIT(sem_wait, (sem_t* s), (s))
FH_SEM_WAIT(sem_trywait, (sem_t* s), (s))
FH_SEM_WAIT(sem_timedwait, (sem_t* s, const struct timespec* t), (s, t))
FH_SEM_WAIT(sem_clockwait, (sem_t* s, clockid_t c, const struct timespec* t), (s, c, t))
#undef FH_SEM_WAIT
#undef FH_IS_TRY

FH_EXPORT int sem_post(sem_t* s) {
  ensure_init();
  int rc = FH_REAL(sem_post)(s);
  if (rc == 0 && tls.guard == 0) core::lock_released(s, LockFamily::semaphore);
  return rc;
}

// ---- condition variables --------------------------------------------------------------------------------
// glibc unlocks the mutex inside the wait and re-locks it on every return (signal, timeout, spurious wakeup,
// cancellation) without going through our wrappers: mark it released before and held again after.

#define FH_COND_WAIT(name, params, args)                          \
  FH_EXPORT int name params {                                    \
    ensure_init();                                               \
    if (tls.guard > 0) return FH_REAL(name) args;                \
    core::lock_released(m, LockFamily::mutex);                   \
    set_waiting_cond(c);                                         \
    int rc;                                                      \
    pthread_cleanup_push(cond_wait_cancelled, m);                \
    rc = FH_REAL(name) args;                                     \
    pthread_cleanup_pop(0);                                      \
    int saved = errno;                                           \
    set_waiting_cond(nullptr);                                   \
    note_acquired(m, LockType::mutex, FH_CALLER());              \
    errno = saved;                                               \
    return rc;                                                   \
  }
FH_COND_WAIT(pthread_cond_wait, (pthread_cond_t* c, pthread_mutex_t* m), (c, m))
FH_COND_WAIT(pthread_cond_timedwait, (pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* t), (c, m, t))
FH_COND_WAIT(pthread_cond_clockwait,
             (pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock, const struct timespec* t), (c, m, clock, t))
#undef FH_COND_WAIT

// glibc's pthread_cond_destroy waits until every waiter has left; a waiter that vanished at fork never does.
FH_EXPORT int pthread_cond_destroy(pthread_cond_t* c) {
  ensure_init();
  if (FH_UNLIKELY(g_process.forked_child) && tls.guard == 0) {
    if (const ThreadSlot* waiter = core::vanished_waiting_on(c))
      deadlock_untracked("pthread_cond_destroy", c, protocol::type_condvar, waiter->tid);
  }
  return FH_REAL(pthread_cond_destroy)(c);
}

// ---- function-local statics (Itanium C++ ABI guards) ----------------------------------------------------
// __cxa_guard_acquire waits for the thread constructing the static; one that vanished at fork never finishes.

FH_EXPORT int __cxa_guard_acquire(int64_t* guard) {
  ensure_init();
  if (tls.guard > 0) return FH_REAL(__cxa_guard_acquire)(guard);
  if (FH_UNLIKELY(g_process.forked_child) && *reinterpret_cast<volatile char*>(guard) == 0) {
    if (const ThreadSlot* builder = core::vanished_constructing(guard))
      deadlock_untracked("__cxa_guard_acquire", guard, protocol::type_static_init, builder->tid);
  }
  int rc = FH_REAL(__cxa_guard_acquire)(guard);
  if (rc == 1) {
    ThreadSlot* s = core::current_slot();
    if (s != nullptr && s->nconstructing < max_constructing) {
      s->constructing[s->nconstructing] = guard;
      __atomic_signal_fence(__ATOMIC_RELEASE);
      s->nconstructing++;
    }
  }
  return rc;
}

namespace {
void construction_done(const void* guard) {
  ThreadSlot* s = tls.slot;
  if (s == nullptr) return;
  for (uint32_t i = s->nconstructing; i-- > 0;) {
    if (s->constructing[i] != guard) continue;
    for (uint32_t j = i; j + 1 < s->nconstructing; j++) s->constructing[j] = s->constructing[j + 1];
    s->nconstructing--;
    return;
  }
}
}  // namespace

FH_EXPORT void __cxa_guard_release(int64_t* guard) {
  ensure_init();
  construction_done(guard);
  FH_REAL(__cxa_guard_release)(guard);
}

FH_EXPORT void __cxa_guard_abort(int64_t* guard) {
  ensure_init();
  construction_done(guard);
  FH_REAL(__cxa_guard_abort)(guard);
}

// ---- process creation -----------------------------------------------------------------------------------
// vfork is deliberately not wrapped: its child borrows our stack frame and memory, so a wrapper returning in
// the child would wreck the frame the parent resumes on.

FH_EXPORT pid_t fork(void) {
  ensure_init();
  ThreadSlot* s = tls.guard == 0 ? core::current_slot() : nullptr;
  if (s != nullptr) {
    s->nfork_pcs = static_cast<uint32_t>(capture_site(s->fork_pcs));
    s->fork_pcs_set = true;
  }
  pid_t pid = FH_REAL(fork)();  // runs atfork_prepare and, in the child, atfork_child
  if (s != nullptr) s->fork_pcs_set = false;
  return pid;
}

FH_EXPORT pid_t _Fork(void) {
  ensure_init();
  ThreadSlot* s = tls.guard == 0 ? core::current_slot() : nullptr;
  if (s != nullptr) {
    s->nfork_pcs = static_cast<uint32_t>(capture_site(s->fork_pcs));
    s->fork_pcs_set = true;
  }
  atfork_prepare();
  pid_t pid = FH_REAL(_Fork)();
  if (pid == 0) atfork_child();
  if (s != nullptr) s->fork_pcs_set = false;
  return pid;
}

// ---- allocator ------------------------------------------------------------------------------------------

FH_EXPORT void* malloc(size_t n) {
  if (FH_UNLIKELY(real::malloc == nullptr)) {
    ensure_init();
    if (real::malloc == nullptr) return pool_alloc(n);
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    ChildCall scope(call_malloc, FH_CALLER());
    return real::malloc(n);
  }
  return real::malloc(n);
}

FH_EXPORT void* calloc(size_t count, size_t size) {
  if (FH_UNLIKELY(real::calloc == nullptr)) {
    ensure_init();
    if (real::calloc == nullptr) {
      if (size != 0 && count > SIZE_MAX / size) return nullptr;
      return pool_alloc(count * size);  // the pool is zeroed static memory, never reused
    }
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    ChildCall scope(call_calloc, FH_CALLER());
    return real::calloc(count, size);
  }
  return real::calloc(count, size);
}

FH_EXPORT void* realloc(void* p, size_t n) {
  if (FH_UNLIKELY(p != nullptr && in_pool(p))) {
    void* q = malloc(n);
    if (q != nullptr) {
      size_t old = pool_size(p);
      memcpy(q, p, old < n ? old : n);
    }
    return q;
  }
  if (FH_UNLIKELY(real::realloc == nullptr)) {
    ensure_init();
    if (real::realloc == nullptr) return p == nullptr ? pool_alloc(n) : nullptr;
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    ChildCall scope(call_realloc, FH_CALLER());
    return real::realloc(p, n);
  }
  return real::realloc(p, n);
}

FH_EXPORT void free(void* p) {
  if (FH_UNLIKELY(p == nullptr || in_pool(p))) return;
  if (FH_UNLIKELY(real::free == nullptr)) {
    ensure_init();
    if (real::free == nullptr) return;  // cannot happen: nothing real was allocated before free resolved
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    ChildCall scope(call_free, FH_CALLER());
    return real::free(p);
  }
  real::free(p);
}

// ---- the rest of the catalogue: generated from interpose.def ----------------------------------------------

#define FH_UNSAFE_GEN(ret, name, params, args, cls, family, why) \
  FH_EXPORT ret name params {                                   \
    ensure_init();                                              \
    if (FH_UNLIKELY(g_process.restricted)) {                    \
      ChildCall scope(call_##name, FH_CALLER());                \
      return FH_REAL(name) args;                                \
    }                                                           \
    InFlight<Family::family> in_flight;                         \
    return FH_REAL(name) args;                                  \
  }
#include "shim/interpose.def"

// Variadic ones forward to libc's v-variant (which is exactly what glibc's own printf does).
#define FH_PRINTF_LIKE(name, vname, params, last, ...)            \
  FH_EXPORT int name params {                                      \
    ensure_init();                                                 \
    va_list ap;                                                    \
    va_start(ap, last);                                            \
    int rc;                                                        \
    if (FH_UNLIKELY(g_process.restricted)) {                       \
      ChildCall scope(call_##name, FH_CALLER());                   \
      rc = FH_REAL(vname)(__VA_ARGS__, ap);                        \
    } else {                                                       \
      rc = FH_REAL(vname)(__VA_ARGS__, ap);                        \
    }                                                              \
    va_end(ap);                                                    \
    return rc;                                                     \
  }
FH_PRINTF_LIKE(printf, vprintf, (const char* f, ...), f, f)
FH_PRINTF_LIKE(fprintf, vfprintf, (FILE* s, const char* f, ...), f, s, f)
FH_PRINTF_LIKE(dprintf, vdprintf, (int fd, const char* f, ...), f, fd, f)
FH_PRINTF_LIKE(sprintf, vsprintf, (char* s, const char* f, ...), f, s, f)
FH_PRINTF_LIKE(snprintf, vsnprintf, (char* s, size_t n, const char* f, ...), f, s, n, f)
FH_PRINTF_LIKE(__printf_chk, __vprintf_chk, (int flag, const char* f, ...), f, flag, f)
FH_PRINTF_LIKE(__fprintf_chk, __vfprintf_chk, (FILE* s, int flag, const char* f, ...), f, s, flag, f)
FH_PRINTF_LIKE(__sprintf_chk, __vsprintf_chk, (char* s, int flag, size_t len, const char* f, ...), f, s, flag, len, f)
FH_PRINTF_LIKE(__snprintf_chk, __vsnprintf_chk, (char* s, size_t n, int flag, size_t len, const char* f, ...), f, s,
               n, flag, len, f)
#undef FH_PRINTF_LIKE

FH_EXPORT void syslog(int priority, const char* f, ...) {
  ensure_init();
  va_list ap;
  va_start(ap, f);
  if (FH_UNLIKELY(g_process.restricted)) {
    ChildCall scope(call_syslog, FH_CALLER());
    FH_REAL(vsyslog)(priority, f, ap);
  } else {
    InFlight<Family::syslog> in_flight;
    FH_REAL(vsyslog)(priority, f, ap);
  }
  va_end(ap);
}

// dlopen and dlsym: the assembly stubs (stubs.S) call these, then tail-call libc with the program's own
// return address still on the stack, so libc resolves the caller's RUNPATH and RTLD_NEXT as without us.
#define FH_UNSAFE_STUB(name, cls, family, why)                                              \
  extern "C" __attribute__((visibility("hidden"))) void* fh_stub_enter_##name(uintptr_t caller) { \
    ensure_init();                                                                          \
    if (FH_UNLIKELY(g_process.restricted) && tls.guard == 0) {                              \
      int saved = errno;                                                                    \
      on_unsafe_call(call_##name, caller);                                                  \
      errno = saved;                                                                        \
    }                                                                                       \
    return reinterpret_cast<void*>(FH_REAL(name));                                          \
  }
#include "shim/interpose.def"

// ---- exit and exec --------------------------------------------------------------------------------------

FH_EXPORT void exit(int status) {
  ensure_init();
  if (FH_UNLIKELY(g_process.restricted) && tls.guard == 0) {
    on_unsafe_call(call_exit, FH_CALLER());
    flush_repeats();
    tls.guard++;  // atexit handlers and destructors run inside the reported call
  }
  FH_REAL(exit)(status);
  __builtin_unreachable();
}

FH_EXPORT void _exit(int status) {
  ensure_init();
  before_exec_or_exit();
  FH_REAL(_exit)(status);
  __builtin_unreachable();
}

FH_EXPORT void _Exit(int status) {
  ensure_init();
  before_exec_or_exit();
  FH_REAL(_Exit)(status);
  __builtin_unreachable();
}

// A successful exec replaces the image and ends the restriction; a failed one returns and leaves it. Nothing
// else is touched: a vfork child calls these on its parent's memory.
#define FH_EXEC(name, params, args)                     \
  FH_EXPORT int name params {                           \
    ensure_init();                                      \
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
