// The lock wrappers: mutexes, rwlocks, semaphores, condition variables, function-local statics. Each resolves,
// guards against re-entry, calls the real function (a tail jump on the fast path) and tells the core what
// happened; every one returns exactly what libc returned and leaves errno as libc left it.
#include <string_view>

#include "shim/wrapper_support.h"

using namespace fh;
using namespace fh::shim;

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

// trylock never blocks, and the timed calls return ETIMEDOUT rather than hang: recorded, never judged as a
// deadlock; a timed call on a lock whose holder vanished can never succeed, which is said (a warning, once per lock).
FH_EXPORT int pthread_mutex_trylock(pthread_mutex_t* m) {
  CallScope scope;
  int rc = FH_REAL(pthread_mutex_trylock)(m);
  if (acquired(rc) && !scope.own()) note_lock_slow(m, LockType::mutex, FH_CALLER());
  return rc;
}

FH_EXPORT int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* abstime) {
  CallScope scope;
  if (FH_UNLIKELY(g_process.forked_child) && !scope.own())
    policy::before_timed_lock(m, protocol::type_mutex, "pthread_mutex_timedlock");
  int rc = FH_REAL(pthread_mutex_timedlock)(m, abstime);
  if (acquired(rc) && !scope.own()) note_lock_slow(m, LockType::mutex, FH_CALLER());
  return rc;
}

FH_EXPORT int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock, const struct timespec* abstime) {
  CallScope scope;
  if (FH_UNLIKELY(g_process.forked_child) && !scope.own())
    policy::before_timed_lock(m, protocol::type_mutex, "pthread_mutex_clocklock");
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
    constexpr bool timed = !judged && std::string_view(#name).substr(15, 3) != "try";                      \
    if (timed && FH_UNLIKELY(g_process.forked_child))                                                      \
      policy::before_timed_lock(rw, write ? protocol::type_rwlock_write : protocol::type_rwlock_read, #name); \
    tls.in_rwlock_call++;                                                                                  \
    int rc = FH_REAL(name) args;                                                                           \
    tls.in_rwlock_call--;                                                                                  \
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
  tls.in_rwlock_call++;
  int rc = FH_REAL(pthread_rwlock_unlock)(rw);
  tls.in_rwlock_call--;
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
    if (!judged && !predicted && FH_UNLIKELY(g_process.forked_child))                         \
      policy::before_timed_lock(s, protocol::type_semaphore, #name);                          \
    int rc = FH_REAL(name) args;                                                              \
    if (judged) end_noted_wait();                                                               \
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

// The post is counted before libc's, so that libc's is a tail jump (no frame in front of its atomic): a post
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
    core::cond_waiting(c, judged);                               \
    int rc;                                                      \
    pthread_cleanup_push(cond_wait_cancelled, m);                \
    rc = fn args;                                                \
    pthread_cleanup_pop(0);                                      \
    int saved = errno;                                           \
    core::cond_waiting(nullptr);                                 \
    if (judged) end_noted_wait();                                  \
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

// Counted per cond (core::cond_signalled), then libc's of the caller's ABI.
#define FH_COND_SIGNAL(name, old, call)                                                                \
  FH_EXPORT int name(pthread_cond_t* c) {                                                              \
    ensure_init();                                                                                     \
    core::cond_signalled(c);                                                                           \
    if (old != nullptr && FH_UNLIKELY(caller_uses_old_cond_abi(FH_CALLER(), call))) return old(c);      \
    return FH_REAL(name)(c);                                                                           \
  }
FH_COND_SIGNAL(pthread_cond_signal, g_old_cond.signal, CondCall::signal)
FH_COND_SIGNAL(pthread_cond_broadcast, g_old_cond.broadcast, CondCall::broadcast)
#undef FH_COND_SIGNAL

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

