// What every wrapper file shares (shim/init.cpp defines it): the macros, the real functions, start-up, the hot
// flags, the scope every wrapper enters, the bootstrap pool and the lock notes. Hidden: nothing here leaves the
// library.
#pragma once

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
#include "symbols/safe_io.h"
#include "shim/unsafe.h"
#include "symbols/capture.h"
#include "symbols/modules.h"

#define FH_EXPORT extern "C" __attribute__((visibility("default")))
#define FH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FH_LIKELY(x) __builtin_expect(!!(x), 1)
#define FH_CALLER() reinterpret_cast<uintptr_t>(__builtin_return_address(0))
// A parenthesised parameter or argument list, unwrapped (to add one in front).
#define FH_ARGS(...) __VA_ARGS__
#define FH_REAL(name) (FH_UNLIKELY(real::name == nullptr) ? resolve_late(&real::name, #name) : real::name)

#pragma GCC visibility push(hidden)

namespace fh::shim {
namespace real {
#define FH_INTERPOSE(name, kind, why) extern decltype(&::name) name;
#include "shim/interpose.def"
}  // namespace real

// ---- start-up ----------------------------------------------------------------------------------------------

[[noreturn]] void die_unresolved(const char* name);
void* find_next(const char* name);

// A function that was not there at start-up (a runtime loaded later): look again, or stop with its name.
template <class F>
F resolve_late(F* slot, const char* name) {
  *slot = reinterpret_cast<F>(find_next(name));
  if (*slot == nullptr) die_unresolved(name);
  return *slot;
}

// The pre-2003 pthread_cond_* (shim/cond_abi.h), for the callers linked against them; x86_64 only.
struct OldCondAbi {
  decltype(&::pthread_cond_wait) wait;
  decltype(&::pthread_cond_timedwait) timedwait;
  decltype(&::pthread_cond_destroy) destroy;
  decltype(&::pthread_cond_signal) signal;
  decltype(&::pthread_cond_broadcast) broadcast;
};
extern OldCondAbi g_old_cond;

extern bool g_ready;
void init_slow();
inline void ensure_init() {
  if (FH_UNLIKELY(!__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE))) init_slow();
}

void atfork_prepare();
void atfork_child();

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
extern HotFlags g_hot;
void update_hot_flags();

// ---- the scope every wrapper enters ------------------------------------------------------------------------

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

// ---- bootstrap allocator: serves allocations made before dlsym has found malloc ----------------------------

inline constexpr size_t pool_bytes = 256 * 1024;
extern char g_pool[pool_bytes];
inline bool in_pool(const void* p) {  // one compare: below the pool wraps around to a huge offset
  return reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(g_pool) < sizeof g_pool;
}
void* pool_alloc(size_t n);
size_t pool_size(const void* p);

// ---- lock bookkeeping -------------------------------------------------------------------------------------

void note_acquired_deep(const void* addr, LockType type, uintptr_t caller);
// A mutex or rwlock taken, with one PC per acquisition (the default): an entry of this thread's memory of
// recent locks and nothing on the held stack (core::lock_taken says why; readers need no identity: a writer in a
// child is judged by the rule of waits no one can end, core::rwlock_blocks_forever). With deeper acquisition
// stacks, the held stack. Callers have checked that the shim itself is not the one locking.
void note_lock_slow(const void* lock, LockType type, uintptr_t caller);

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

// A wait policy left blocking, noted as the process's own (core::own_wait) or as the fork's (core::fork_wait), is
// over.
inline void end_noted_wait() {
  ThreadSlot* s = tls.slot;
  if (FH_LIKELY(s == nullptr)) return;
  if (FH_UNLIKELY(s->own_wait != nullptr)) core::own_wait(nullptr);
  if (FH_UNLIKELY(s->fork_wait != nullptr)) core::fork_wait(nullptr, nullptr, false);
}

inline bool acquired(int rc) { return rc == 0 || rc == EOWNERDEAD; }

size_t capture_site(uintptr_t* pcs);
void* thread_trampoline(void* p);
void cond_wait_cancelled(void* m);
// libc's dlsym(RTLD_DEFAULT, name): a symbol anywhere in the process (never from inside fork()).
void* libc_dlsym_default(const char* name);
// Writes this process's repeat counts before its image or its life ends (not from a vfork child).
void before_exec_or_exit();

}  // namespace fh::shim

#pragma GCC visibility pop
