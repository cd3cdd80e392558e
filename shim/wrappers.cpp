// The interposers: each resolves, guards against re-entry, calls the real function and tells the core what
// happened. Every wrapper returns exactly what libc returned and leaves errno as libc left it.
#include <sched.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

#include <atomic>
#include <initializer_list>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "shim/cond_abi.h"
#include "shim/core.h"
#include "shim/glibc_locks.h"
#include "shim/libc_decls.h"
#include "shim/options.h"
#include "shim/policy.h"
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
  StackWriter(STDERR_FILENO).str("forkhazard: cannot find the real ").str(name)
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

// The pre-2003 pthread_cond_* (shim/cond_abi.h), for the callers linked against them; x86_64 only.
struct OldCondAbi {
  decltype(&::pthread_cond_wait) wait;
  decltype(&::pthread_cond_timedwait) timedwait;
  decltype(&::pthread_cond_destroy) destroy;
};
OldCondAbi g_old_cond;

void resolve_all() {
#if defined(__x86_64__)
  g_old_cond.wait = reinterpret_cast<decltype(g_old_cond.wait)>(dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.2.5"));
  g_old_cond.timedwait =
      reinterpret_cast<decltype(g_old_cond.timedwait)>(dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.2.5"));
  g_old_cond.destroy =
      reinterpret_cast<decltype(g_old_cond.destroy)>(dlvsym(RTLD_NEXT, "pthread_cond_destroy", "GLIBC_2.2.5"));
#endif
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

void* malloc_entry_slow(size_t n);
void free_entry_slow(void* p);

// What every hot wrapper reads first, one cache line: whether it can take its fast path.
//  lock_fast:  started, not a forked child (no judgement before a lock call), one PC per acquisition
//  malloc_fn, free_fn: where malloc and free jump: the real allocator once started and while not restricted
//              (no report of the allocator), else the out-of-line entries; a jump through the pointer is the
//              whole fast path, one load like the pass-through floor's, no flag to test
struct alignas(64) HotFlags {
  bool lock_fast;
  void* (*malloc_fn)(size_t);
  void (*free_fn)(void*);
};
HotFlags g_hot = {false, malloc_entry_slow, free_entry_slow};

void update_hot_flags() {
  __atomic_store_n(&g_hot.lock_fast, !g_process.forked_child && g_options.lock_stack_depth == 1, __ATOMIC_RELAXED);
  bool alloc_fast = !g_process.restricted && real::malloc != nullptr && real::free != nullptr;
  __atomic_store_n(&g_hot.malloc_fn, alloc_fast ? real::malloc : malloc_entry_slow, __ATOMIC_RELAXED);
  __atomic_store_n(&g_hot.free_fn, alloc_fast ? real::free : free_entry_slow, __ATOMIC_RELAXED);
}

void atfork_child() {
  int saved = errno;
  core::fork_child();
  reset_call_sites();
  update_hot_flags();
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
    // A setuid/setgid or file-capability program (the loader's secure mode, AT_SECURE): the environment is
    // the caller's, not to be trusted with a log path or an exit code. The shim stays passive there: it reads
    // no options, writes no report and ends nothing; it only forwards.
    g_process.passive = getauxval(AT_SECURE) != 0;
    if (g_process.passive) g_options.on_deadlock = on_deadlock_continue;
    else options_parse(getenv("FORKHAZARD_OPTIONS"), &g_options, STDERR_FILENO);
    g_process.on_deadlock = static_cast<uint32_t>(g_options.on_deadlock);
    g_process.exitcode = static_cast<int>(g_options.exitcode);
    if (g_options.help) options_print_help(STDERR_FILENO);
    for_each_module(find_own_range, reinterpret_cast<void*>(&init_slow));
    // Registered before anyone else's handlers where possible: prepare handlers run last-registered-first and
    // child handlers first-registered-first, so ours runs closest to the fork on both sides.
    pthread_atfork(atfork_prepare, nullptr, atfork_child);
    core::init();
    tls.guard--;
    tls_in_init = false;
    __atomic_store_n(&g_ready, true, __ATOMIC_RELEASE);
    update_hot_flags();
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

// A parenthesised parameter or argument list, unwrapped (to add one in front).
#define FH_ARGS(...) __VA_ARGS__
#define FH_REAL(name) (FH_UNLIKELY(real::name == nullptr) ? resolve_late(&real::name, #name) : real::name)

// ---- the scope every wrapper enters -----------------------------------------------------------------------

// Entered first by every wrapper (compiler-rt's interceptor scope). It keeps two things apart that one counter
// once did both of (and so switched lock judgement off inside exit()):
//  - own(): the shim itself is running (tls.guard): the call passes straight through, nothing is judged,
//    reported or recorded;
//  - unsafe(): a catalogued call the program made in a restricted process is reported once, and until the
//    scope ends the calls it makes in turn (printf -> malloc) are not reported again. They are still judged
//    and tracked: an atexit handler or library destructor taking a lock a vanished thread held is a deadlock.
// in_flight() counts this thread inside a glibc lock family for the call's duration (any process): plain
// per-thread counters the child reads in the vanished threads' frozen slots, to explain a hang.
class CallScope {
 public:
  CallScope() { ensure_init(); }
  ~CallScope() {
    if (reported_) tls.in_reported--;
    if (inside_ != nullptr) (*inside_)--;
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

  static bool own() { return tls.guard > 0; }

  // In a restricted process: reports the program's own catalogued call (errno preserved); `about`: the
  // vanished thread a join/detach/cancel names.
  void unsafe(CallId id, uintptr_t site, const ThreadSlot* about = nullptr) {
    if (own() || tls.in_reported > 0) return;
    int saved = errno;
    policy::unsafe_call(id, site, about);
    errno = saved;
    tls.in_reported++;
    reported_ = true;
  }

  void in_flight(Family f) {
    if (f == Family::none || own()) return;
    inside_ = core::family_entered(static_cast<size_t>(f));
  }

 private:
  bool reported_ = false;
  uint16_t* inside_ = nullptr;
};

// The restricted-process check every catalogued wrapper makes, then either the report or the in-flight count.
inline void enter_catalogued(CallScope& scope, CallId id, uintptr_t site) {
  if (FH_UNLIKELY(g_process.restricted)) scope.unsafe(id, site);
  else scope.in_flight(g_calls[id].family);
}

// ---- bootstrap allocator: serves allocations made before dlsym has found malloc -----------------------

alignas(16) char g_pool[256 * 1024];
std::atomic<size_t> g_pool_used{0};

bool in_pool(const void* p) {  // one compare: below the pool wraps around to a huge offset
  return reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(g_pool) < sizeof g_pool;
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

// A mutex or rwlock taken, with one PC per acquisition (the default): an entry of this thread's memory of
// recent locks and nothing on the held stack (core::lock_taken says why; readers need no identity: a writer in a
// child is judged by the rule of waits no one can end, core::rwlock_blocks_forever). With deeper acquisition
// stacks, the held stack. Callers have checked that the shim itself is not the one locking.
__attribute__((noinline)) void note_lock_slow(const void* lock, LockType type, uintptr_t caller) {
  if (g_options.lock_stack_depth > 1) return note_acquired_deep(lock, type, caller);
  if (ThreadSlot* s = core::current_slot()) core::lock_taken(s, lock, caller, type);
}

// The lock wrappers' fast path, before a blocking lock call, after a try or timed one: the slot (one TLS load),
// the guard (same TLS block), a compare with the entry of a table only this thread writes and three stores where
// it changed. No search, no count, no fence: nothing to undo at unlock.
inline __attribute__((always_inline)) void note_lock_fast(const void* lock, LockType type, uintptr_t caller) {
  ThreadSlot* s = tls.slot;
  if (FH_LIKELY(s != nullptr && tls.guard == 0)) return core::lock_taken(s, lock, caller, type);
  if (tls.guard == 0) note_lock_slow(lock, type, caller);  // a thread the registry has not seen yet
}

// A mutex released, off the fast path: the held stack only holds mutexes with deeper acquisition stacks.
inline void note_mutex_released(const void* m) {
  if (FH_UNLIKELY(g_options.lock_stack_depth > 1)) core::lock_released(m, LockFamily::mutex);
}

inline bool lock_fast() { return __atomic_load_n(&g_hot.lock_fast, __ATOMIC_RELAXED); }

// A wait policy left blocking as the process's own (core::own_wait) is over.
inline void end_own_wait() {
  ThreadSlot* s = tls.slot;
  if (FH_UNLIKELY(s != nullptr && s->own_wait != nullptr)) core::own_wait(nullptr);
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
  void* (*start)(void*);
  void* arg;
  core::thread_starting(static_cast<ThreadSlot*>(p), &start, &arg);
  return start(arg);
}

void cond_wait_cancelled(void* m) {
  // Cancellation re-takes the mutex before the cleanup handlers run (nptl/pthread_cond_wait.c).
  core::cond_waiting(nullptr);
  core::own_wait(nullptr);
  if (g_options.lock_stack_depth > 1) core::lock_acquired(m, LockType::mutex, nullptr, 0);
}

// Writes this process's repeat counts before its image or its life ends. Not from a vfork child: it runs on
// its parent's memory and must leave the shim's state untouched (it is the only process whose pid differs
// from the cached one without a fork handler having run).
void before_exec_or_exit() {
  if (FH_UNLIKELY(g_process.forked_child) && syscall(SYS_getpid) == g_process.pid) flush_repeats();
}

}  // namespace
}  // namespace fh

using namespace fh;

// ---- threads --------------------------------------------------------------------------------------------

FH_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  CallScope scope;
  if (scope.own()) return FH_REAL(pthread_create)(thread, attr, start, arg);
  if (FH_UNLIKELY(g_process.restricted)) scope.unsafe(call_pthread_create, FH_CALLER());
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

// ---- mutexes --------------------------------------------------------------------------------------------

FH_EXPORT int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) {
  CallScope scope;
  int rc = FH_REAL(pthread_mutex_init)(m, attr);
  if (rc == 0 && !scope.own()) {
    int saved = errno;
    int robust = PTHREAD_MUTEX_STALLED, pshared = PTHREAD_PROCESS_PRIVATE;
    if (attr != nullptr) {
      pthread_mutexattr_getrobust(attr, &robust);
      pthread_mutexattr_getpshared(attr, &pshared);
    }
    core::note_mutex_init(m, robust == PTHREAD_MUTEX_ROBUST && pshared == PTHREAD_PROCESS_PRIVATE);
    core::forget_lock_uses(m);
    if (FH_UNLIKELY(g_process.forked_child)) policy::lock_initialised(m);
    errno = saved;
  }
  return rc;
}

FH_EXPORT int pthread_mutex_destroy(pthread_mutex_t* m) {
  CallScope scope;
  int rc = FH_REAL(pthread_mutex_destroy)(m);
  if (rc == 0 && !scope.own()) {
    core::note_mutex_init(m, false);
    core::forget_lock_uses(m);
  }
  return rc;
}

namespace {
// Start-up, a forked child (judged before the call), deep acquisition stacks: out of line, so the hot
// path's frame stays small.
__attribute__((noinline)) int mutex_lock_slow(pthread_mutex_t* m, uintptr_t caller) {
  CallScope scope;
  if (scope.own()) return FH_REAL(pthread_mutex_lock)(m);
  if (FH_UNLIKELY(g_process.forked_child)) policy::before_mutex_lock(m, "pthread_mutex_lock");
  int rc = FH_REAL(pthread_mutex_lock)(m);
  if (acquired(rc)) note_lock_slow(m, LockType::mutex, caller);
  return rc;
}
}  // namespace

// The hot path: one flag (started, not a forked child, shallow stacks), the mutex kind, the note, a tail jump to
// libc's lock (core::lock_taken says why). Only a kind whose lock cannot fail is noted before: a refused call
// (an errorcheck mutex's EDEADLK, a recursive one's EAGAIN, a robust one's ENOTRECOVERABLE, EINVAL) must not
// replace where the lock was taken, nor make its caller a user of a lock nobody can take.
FH_EXPORT int pthread_mutex_lock(pthread_mutex_t* m) {
  if (FH_UNLIKELY(!lock_fast())) return mutex_lock_slow(m, FH_CALLER());
  if (FH_LIKELY(glibc::mutex_lock_cannot_fail(m))) {
    note_lock_fast(m, LockType::mutex, FH_CALLER());
    return real::pthread_mutex_lock(m);
  }
  int rc = real::pthread_mutex_lock(m);
  if (acquired(rc)) note_lock_fast(m, LockType::mutex, FH_CALLER());
  return rc;
}

// trylock never blocks, and the timed calls return ETIMEDOUT rather than hang: recorded, never judged.
FH_EXPORT int pthread_mutex_trylock(pthread_mutex_t* m) {
  CallScope scope;
  int rc = FH_REAL(pthread_mutex_trylock)(m);
  if (acquired(rc) && !scope.own()) note_lock_slow(m, LockType::mutex, FH_CALLER());
  return rc;
}

FH_EXPORT int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* abstime) {
  CallScope scope;
  int rc = FH_REAL(pthread_mutex_timedlock)(m, abstime);
  if (acquired(rc) && !scope.own()) note_lock_slow(m, LockType::mutex, FH_CALLER());
  return rc;
}

FH_EXPORT int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock, const struct timespec* abstime) {
  CallScope scope;
  int rc = FH_REAL(pthread_mutex_clocklock)(m, clock, abstime);
  if (acquired(rc) && !scope.own()) note_lock_slow(m, LockType::mutex, FH_CALLER());
  return rc;
}

namespace {
__attribute__((noinline)) int mutex_unlock_slow(pthread_mutex_t* m) {
  CallScope scope;
  int rc = FH_REAL(pthread_mutex_unlock)(m);
  if (rc == 0 && !scope.own()) note_mutex_released(m);
  return rc;
}
}  // namespace

FH_EXPORT int pthread_mutex_unlock(pthread_mutex_t* m) {
  if (FH_UNLIKELY(!lock_fast())) return mutex_unlock_slow(m);
  return real::pthread_mutex_unlock(m);  // a tail jump: nothing to undo (note_lock_fast)
}

// ---- rwlocks --------------------------------------------------------------------------------------------

FH_EXPORT int pthread_rwlock_init(pthread_rwlock_t* rw, const pthread_rwlockattr_t* attr) {
  CallScope scope;
  int rc = FH_REAL(pthread_rwlock_init)(rw, attr);
  if (rc == 0 && !scope.own()) {
    core::forget_lock_uses(rw);
    if (FH_UNLIKELY(g_process.forked_child)) policy::lock_initialised(rw);
  }
  return rc;
}

FH_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t* rw) {
  CallScope scope;
  int rc = FH_REAL(pthread_rwlock_destroy)(rw);
  if (rc == 0 && !scope.own()) core::forget_lock_uses(rw);
  return rc;
}

// judged: the untimed calls are judged in a forked child before they block; all are recorded on success.
// `blocking`: the call returns only with the lock (or an error), so it is noted before and libc's is a tail
// jump, as for pthread_mutex_lock (core::lock_taken says why); the try, timed and clock calls often return without
// it and are noted after. A call glibc refuses must not be noted (it would replace where the lock was taken, and
// make a writer that asked to read a reader): the only error of the blocking calls is EDEADLK, the caller holding
// it for writing already (glibc::rwlock_written_by; EAGAIN, 2^29 readers, is not reachable), noted after. A read
// hold's explanation names a vanished thread that noted the lock for reading, so a reader noted before must hold
// the lock whenever the phase is a read phase: true of every kind but the writer-preferring one, whose readers
// can wait in a read phase (glibc::rwlock_readers_wait_for_writers): that kind's readers are noted after. The slow path is out of line, so that the fast one keeps a minimal frame; the unlock's
// fast path is a tail jump (nothing was pushed). `real_fn`: how the fast path reaches libc's (the timed and clock
// calls are resolved where they happen: pthread_rwlock_clock*lock is glibc 2.30's).
#define FH_RWLOCK_LOCK(name, real_fn, write, judged, blocking, params, args)                                \
  namespace {                                                                                              \
  __attribute__((noinline)) int name##_slow(uintptr_t caller, FH_ARGS params) {                            \
    CallScope scope;                                                                                       \
    if (scope.own()) return FH_REAL(name) args;                                                            \
    if (judged && FH_UNLIKELY(g_process.forked_child)) policy::before_rwlock_lock(rw, write, #name);       \
    int rc = FH_REAL(name) args;                                                                           \
    if (rc == 0) note_lock_slow(rw, write ? LockType::rwlock_write : LockType::rwlock_read, caller);       \
    return rc;                                                                                             \
  }                                                                                                        \
  }                                                                                                        \
  FH_EXPORT int name params {                                                                              \
    constexpr LockType type = write ? LockType::rwlock_write : LockType::rwlock_read;                      \
    if (FH_UNLIKELY(!lock_fast())) return name##_slow(FH_CALLER(), FH_ARGS args);                          \
    if (blocking && FH_LIKELY(!glibc::rwlock_written_by(rw, tls.tid)) &&                                   \
        (write || FH_LIKELY(!glibc::rwlock_readers_wait_for_writers(rw)))) {                               \
      note_lock_fast(rw, type, FH_CALLER());                                                               \
      return real_fn args;                                                                                 \
    }                                                                                                      \
    int rc = real_fn args;                                                                                 \
    if (rc == 0) note_lock_fast(rw, type, FH_CALLER());                                                    \
    return rc;                                                                                             \
  }
FH_RWLOCK_LOCK(pthread_rwlock_rdlock, real::pthread_rwlock_rdlock, false, true, true, (pthread_rwlock_t* rw), (rw))
FH_RWLOCK_LOCK(pthread_rwlock_wrlock, real::pthread_rwlock_wrlock, true, true, true, (pthread_rwlock_t* rw), (rw))
FH_RWLOCK_LOCK(pthread_rwlock_tryrdlock, real::pthread_rwlock_tryrdlock, false, false, false, (pthread_rwlock_t* rw),
               (rw))
FH_RWLOCK_LOCK(pthread_rwlock_trywrlock, real::pthread_rwlock_trywrlock, true, false, false, (pthread_rwlock_t* rw),
               (rw))
FH_RWLOCK_LOCK(pthread_rwlock_timedrdlock, FH_REAL(pthread_rwlock_timedrdlock), false, false, false,
               (pthread_rwlock_t* rw, const struct timespec* t), (rw, t))
FH_RWLOCK_LOCK(pthread_rwlock_timedwrlock, FH_REAL(pthread_rwlock_timedwrlock), true, false, false,
               (pthread_rwlock_t* rw, const struct timespec* t), (rw, t))
FH_RWLOCK_LOCK(pthread_rwlock_clockrdlock, FH_REAL(pthread_rwlock_clockrdlock), false, false, false,
               (pthread_rwlock_t* rw, clockid_t c, const struct timespec* t), (rw, c, t))
FH_RWLOCK_LOCK(pthread_rwlock_clockwrlock, FH_REAL(pthread_rwlock_clockwrlock), true, false, false,
               (pthread_rwlock_t* rw, clockid_t c, const struct timespec* t), (rw, c, t))
#undef FH_RWLOCK_LOCK

FH_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t* rw) {
  if (FH_LIKELY(lock_fast())) return real::pthread_rwlock_unlock(rw);  // a tail jump: nothing to undo
  CallScope scope;
  int rc = FH_REAL(pthread_rwlock_unlock)(rw);
  if (rc == 0 && !scope.own() && g_options.lock_stack_depth > 1) core::lock_released(rw, LockFamily::rwlock);
  return rc;
}

// ---- semaphores -----------------------------------------------------------------------------------------
// Often signals rather than locks (a producer posts, a consumer waits): a take is remembered per thread
// (core::sem_taken), never pushed on the held stack.

// A semaphore made or unmade at this address: no prediction may rest on the past of the one that was there
// (CPython frees a lock's semaphore and allocates the next one where it was; its after-fork code allocates new
// ones for the locks it resets), as for mutexes (core::forget_lock_uses).
// CPython makes and unmakes a semaphore for every Condition.wait: the fast path forgets first (a failed call
// only loses memory) and tail-jumps to libc's.
FH_EXPORT int sem_init(sem_t* s, int pshared, unsigned value) {
  if (FH_LIKELY(lock_fast())) {
    core::forget_sem_takes(s);
    return real::sem_init(s, pshared, value);
  }
  CallScope scope;
  int rc = FH_REAL(sem_init)(s, pshared, value);
  if (rc == 0 && !scope.own()) {
    core::forget_sem_takes(s);
    policy::lock_initialised(s);
  }
  return rc;
}

FH_EXPORT int sem_destroy(sem_t* s) {
  if (FH_LIKELY(lock_fast())) {
    core::forget_sem_takes(s);
    return real::sem_destroy(s);
  }
  CallScope scope;
  int rc = FH_REAL(sem_destroy)(s);
  if (rc == 0 && !scope.own()) core::forget_sem_takes(s);
  return rc;
}

__attribute__((noinline)) void note_sem_taken_slow(const sem_t* s, uintptr_t caller) {
  if (tls.guard > 0) return;
  if (ThreadSlot* mine = core::current_slot()) core::sem_taken(mine, s, caller);  // not registered yet
}
inline __attribute__((always_inline)) void note_sem_taken(const sem_t* s, uintptr_t caller) {
  ThreadSlot* slot = tls.slot;
  if (FH_LIKELY(slot != nullptr && tls.guard == 0)) return core::sem_taken(slot, s, caller);
  note_sem_taken_slow(s, caller);
}

// `real_fn`: how the fast path reaches libc's (sem_clockwait is glibc 2.34's: resolved where the call happens).
// `predicted`: sem_trywait, which CPython calls before it waits: a prediction (policy::predict_sem), no judgement.
#define FH_SEM_WAIT(name, real_fn, judged, predicted, params, args)                            \
  namespace {                                                                                 \
  __attribute__((noinline)) int name##_slow(uintptr_t caller, FH_ARGS params) {               \
    CallScope scope;                                                                          \
    if (scope.own()) return FH_REAL(name) args;                                               \
    if (judged && FH_UNLIKELY(g_process.forked_child)) policy::before_sem_wait(s, #name);     \
    if (predicted && FH_UNLIKELY(g_process.restricted)) policy::predict_sem(s, #name);        \
    int rc = FH_REAL(name) args;                                                              \
    if (judged) end_own_wait();                                                               \
    if (rc == 0) note_sem_taken(s, caller);                                                   \
    return rc;                                                                                \
  }                                                                                           \
  }                                                                                           \
  FH_EXPORT int name params {                                                                 \
    if (FH_UNLIKELY(!lock_fast())) return name##_slow(FH_CALLER(), FH_ARGS args);             \
    int rc = real_fn args;                                                                    \
    if (FH_UNLIKELY(rc != 0)) return rc;                                                      \
    note_sem_taken(s, FH_CALLER());                                                           \
    return 0;                                                                                 \
  }
FH_SEM_WAIT(sem_wait, real::sem_wait, true, false, (sem_t* s), (s))
FH_SEM_WAIT(sem_trywait, real::sem_trywait, false, true, (sem_t* s), (s))
FH_SEM_WAIT(sem_timedwait, FH_REAL(sem_timedwait), false, false, (sem_t* s, const struct timespec* t), (s, t))
FH_SEM_WAIT(sem_clockwait, FH_REAL(sem_clockwait), false, false,
            (sem_t* s, clockid_t c, const struct timespec* t), (s, c, t))
#undef FH_SEM_WAIT

// The post is counted before libc's, so that libc's is a tail jump (1.27x -> 1.21x a post+wait pair): a post
// that then fails (EINVAL, EOVERFLOW), or a fork between the two, only makes the explanation name a taker less.
namespace {
// The post of a semaphore outside its first entry (core::sem_entry_of), out of line so that the fast path
// makes no call but the tail jump (a saved register is a store in front of the post's atomic).
__attribute__((noinline)) int sem_post_probed(sem_t* s) {
  core::sem_posted(s);
  return real::sem_post(s);
}

__attribute__((noinline)) int sem_post_slow(sem_t* s) {
  CallScope scope;
  int rc = FH_REAL(sem_post)(s);
  if (rc == 0 && !scope.own()) core::sem_posted(s);
  return rc;
}
}  // namespace

FH_EXPORT int sem_post(sem_t* s) {
  if (FH_LIKELY(lock_fast())) {
    ThreadSlot* slot = tls.slot;
    if (FH_LIKELY(slot != nullptr && tls.guard == 0)) {
      SemTake& e = slot->sem_takes[core::sem_slot(s)];
      if (FH_UNLIKELY(e.sem != s)) return sem_post_probed(s);
      core::count_post(e);
    }
    return real::sem_post(s);
  }
  return sem_post_slow(s);
}

// ---- condition variables --------------------------------------------------------------------------------
// glibc unlocks the mutex inside the wait and re-locks it on every return (signal, timeout, spurious wakeup,
// cancellation) without going through our wrappers: mark it released before and held again after.
// `old`: the same function of the pre-2003 ABI (nullptr where there is none), for a caller linked against it
// (shim/cond_abi.h): its condvar has another layout, so it is forwarded there and never judged by its words.

#define FH_COND_WAIT(name, old, call, judged, params, args)      \
  FH_EXPORT int name params {                                    \
    CallScope scope;                                             \
    auto fn = FH_REAL(name);                                     \
    bool old_abi = old != nullptr && caller_uses_old_cond_abi(FH_CALLER(), call); \
    if (FH_UNLIKELY(old_abi)) fn = old;                          \
    if (scope.own()) return fn args;                             \
    if (judged && !old_abi && FH_UNLIKELY(g_process.forked_child)) policy::before_cond_wait(c, m); \
    note_mutex_released(m);                                      \
    core::cond_waiting(c);                                       \
    int rc;                                                      \
    pthread_cleanup_push(cond_wait_cancelled, m);                \
    rc = fn args;                                                \
    pthread_cleanup_pop(0);                                      \
    int saved = errno;                                           \
    core::cond_waiting(nullptr);                                 \
    if (judged) end_own_wait();                                  \
    note_lock_slow(m, LockType::mutex, FH_CALLER());             \
    errno = saved;                                               \
    return rc;                                                   \
  }
FH_COND_WAIT(pthread_cond_wait, g_old_cond.wait, CondCall::wait, true, (pthread_cond_t* c, pthread_mutex_t* m),
             (c, m))
FH_COND_WAIT(pthread_cond_timedwait, g_old_cond.timedwait, CondCall::timedwait, false,
             (pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* t), (c, m, t))
FH_COND_WAIT(pthread_cond_clockwait, static_cast<decltype(&::pthread_cond_clockwait)>(nullptr), CondCall::wait, false,
             (pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock, const struct timespec* t), (c, m, clock, t))
#undef FH_COND_WAIT

FH_EXPORT int pthread_cond_destroy(pthread_cond_t* c) {
  CallScope scope;
  if (g_old_cond.destroy != nullptr && caller_uses_old_cond_abi(FH_CALLER(), CondCall::destroy))
    return g_old_cond.destroy(c);
  if (FH_UNLIKELY(g_process.forked_child) && !scope.own()) policy::before_cond_destroy(c);
  return FH_REAL(pthread_cond_destroy)(c);
}

// ---- function-local statics (Itanium C++ ABI guards) ----------------------------------------------------

FH_EXPORT int __cxa_guard_acquire(int64_t* guard) {
  CallScope scope;
  if (scope.own()) return FH_REAL(__cxa_guard_acquire)(guard);
  if (FH_UNLIKELY(g_process.forked_child)) policy::before_guard_acquire(guard);
  int rc = FH_REAL(__cxa_guard_acquire)(guard);
  if (rc == 1) core::construction_started(guard);
  return rc;
}

FH_EXPORT void __cxa_guard_release(int64_t* guard) {
  CallScope scope;
  core::construction_ended(guard);
  FH_REAL(__cxa_guard_release)(guard);
}

FH_EXPORT void __cxa_guard_abort(int64_t* guard) {
  CallScope scope;
  core::construction_ended(guard);
  FH_REAL(__cxa_guard_abort)(guard);
}

// ---- unwind tables registered at run time ---------------------------------------------------------------
// libgcc before 13 takes its object_mutex in every unwind once any object registered tables this way (LLVM ORC,
// llvmlite, some embedded runtimes), before it asks glibc's lock-free _dl_find_object. A vanished thread that
// was unwinding or registering at the fork leaves that mutex held, and a report in the child would hang in its
// own stack capture: such a child reports call sites only (ProcessState::frames_registered, capture_forbid).
#define FH_REGISTER_FRAME(name, params, args)                                \
  FH_EXPORT void name params {                                               \
    ensure_init();                                                           \
    __atomic_store_n(&g_process.frames_registered, true, __ATOMIC_RELAXED);   \
    FH_REAL(name) args;                                                      \
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

// ---- allocator ------------------------------------------------------------------------------------------
// The hot path: a jump through g_hot.malloc_fn / free_fn (the real allocator, or the entries below);
// everything else (start-up, the bootstrap pool, the report in a restricted child) is out of line.
namespace {
void* malloc_slow(size_t n, uintptr_t caller);
void free_slow(void* p, uintptr_t caller);
}  // namespace

FH_EXPORT void* malloc(size_t n) { return __atomic_load_n(&g_hot.malloc_fn, __ATOMIC_RELAXED)(n); }

// Reached by a jump from malloc and free: the return address is still their caller's.
namespace fh {
namespace {
__attribute__((noinline)) void* malloc_entry_slow(size_t n) { return malloc_slow(n, FH_CALLER()); }
__attribute__((noinline)) void free_entry_slow(void* p) { free_slow(p, FH_CALLER()); }
}  // namespace
}  // namespace fh

namespace {
__attribute__((noinline)) void* malloc_slow(size_t n, uintptr_t caller) {
  if (FH_UNLIKELY(real::malloc == nullptr)) {
    ensure_init();
    if (real::malloc == nullptr) return pool_alloc(n);
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    CallScope scope;
    scope.unsafe(call_malloc, caller);
    return real::malloc(n);
  }
  return real::malloc(n);
}
}  // namespace

FH_EXPORT void* calloc(size_t count, size_t size) {
  if (FH_UNLIKELY(real::calloc == nullptr)) {
    ensure_init();
    if (real::calloc == nullptr) {
      if (size != 0 && count > SIZE_MAX / size) return nullptr;
      return pool_alloc(count * size);  // the pool is zeroed static memory, never reused
    }
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    CallScope scope;
    scope.unsafe(call_calloc, FH_CALLER());
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
    CallScope scope;
    scope.unsafe(call_realloc, FH_CALLER());
    return real::realloc(p, n);
  }
  return real::realloc(p, n);
}

FH_EXPORT void free(void* p) {
  if (FH_LIKELY(!in_pool(p))) return __atomic_load_n(&g_hot.free_fn, __ATOMIC_RELAXED)(p);
  free_slow(p, FH_CALLER());
}

namespace {
__attribute__((noinline)) void free_slow(void* p, uintptr_t caller) {
  if (FH_UNLIKELY(p == nullptr || in_pool(p))) return;
  if (FH_UNLIKELY(real::free == nullptr)) {
    ensure_init();
    if (real::free == nullptr) return;  // cannot happen: nothing real was allocated before free resolved
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    CallScope scope;
    scope.unsafe(call_free, caller);
    return real::free(p);
  }
  real::free(p);
}
}  // namespace

// ---- the rest of the catalogue: generated from interpose.def ----------------------------------------------

#define FH_UNSAFE_GEN(ret, name, params, args, cls, family, why) \
  FH_EXPORT ret name params {                                   \
    CallScope scope;                                            \
    enter_catalogued(scope, call_##name, FH_CALLER());          \
    return FH_REAL(name) args;                                  \
  }
#include "shim/interpose.def"

// Variadic ones forward to libc's v-variant (which is exactly what glibc's own printf and syslog do).
#define FH_UNPAREN(...) __VA_ARGS__
#define FH_UNSAFE_VARIADIC(ret, name, vname, params, last, fwd, cls, family, why) \
  FH_EXPORT ret name params {                                                    \
    CallScope scope;                                                             \
    enter_catalogued(scope, call_##name, FH_CALLER());                           \
    va_list ap;                                                                  \
    va_start(ap, last);                                                          \
    ret rc = FH_REAL(vname)(FH_UNPAREN fwd, ap);                                 \
    va_end(ap);                                                                  \
    return rc;                                                                   \
  }
#define FH_UNSAFE_VARIADIC_VOID(name, vname, params, last, fwd, cls, family, why) \
  FH_EXPORT void name params {                                                   \
    CallScope scope;                                                             \
    enter_catalogued(scope, call_##name, FH_CALLER());                           \
    va_list ap;                                                                  \
    va_start(ap, last);                                                          \
    FH_REAL(vname)(FH_UNPAREN fwd, ap);                                          \
    va_end(ap);                                                                  \
  }
#include "shim/interpose.def"
#undef FH_UNPAREN

// dlopen and dlsym: the assembly stubs (stubs.S) call these, then tail-call libc with the program's own
// return address still on the stack, so libc resolves the caller's RUNPATH and RTLD_NEXT as without us. They
// cannot count themselves in flight (no return to uncount on); in the child they are reported like the rest.
namespace {
// dlopen(RTLD_DEEPBIND) puts the library's own dependencies before the global scope, so its calls bind past the
// shim (glibc's, not ours): its locks, threads and forks go unseen. Said once per process, naming it.
void note_deepbind(const char* stub, const void* path, uintptr_t flags) {
  static bool said;
  if (stub[2] != 'o' || (flags & RTLD_DEEPBIND) == 0 || __atomic_exchange_n(&said, true, __ATOMIC_RELAXED)) return;
  int saved = errno;
  StackWriter(STDERR_FILENO).str("forkhazard: dlopen(\"").escaped(path != nullptr ? static_cast<const char*>(path) : "")
      .str("\", RTLD_DEEPBIND): that library's calls bind past the shim, so its locks, threads and forks are not "
           "seen\n");
  errno = saved;
}
}  // namespace

#define FH_UNSAFE_STUB(name, cls, family, why)                                              \
  extern "C" __attribute__((visibility("hidden"))) void* fh_stub_enter_##name(uintptr_t caller, const void* a1, \
                                                                             uintptr_t a2) { \
    CallScope scope;                                                                        \
    if (FH_UNLIKELY(g_process.restricted)) scope.unsafe(call_##name, caller);               \
    note_deepbind(#name, a1, a2);                                                           \
    return reinterpret_cast<void*>(FH_REAL(name));                                          \
  }
#include "shim/interpose.def"

// ---- exit and exec --------------------------------------------------------------------------------------

// In a restricted process exit() is reported; the atexit handlers and destructors it runs are inside the
// reported call (their unsafe calls are not reported again) but their lock calls are still judged.
FH_EXPORT void exit(int status) {
  CallScope scope;
  if (FH_UNLIKELY(g_process.restricted)) {
    scope.unsafe(call_exit, FH_CALLER());
    if (!scope.own()) flush_repeats();
  }
  FH_REAL(exit)(status);
  __builtin_unreachable();
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
