// The forked child's policy (see policy.h).
#include "shim/policy.h"

#include <unistd.h>

#include "shim/core.h"
#include "shim/glibc_facts.h"
#include "shim/glibc_locks.h"
#include "shim/options.h"
#include "shim/protocol.h"
#include "shim/report.h"

namespace fh::shim::policy {

namespace {

// `interrupt_only`: endless unless a SIGINT handler ends it (shim/wait_rule.h): reported, and the call goes on as
// it would natively; a SIGINT from anyone may still end it.
// `own_timeout`: the process armed a timer of its own since the fork: reported, and left to that timer.
void deadlock(const char* call, const void* lock, LockType held_as, int owner, bool interrupt_only = false,
              bool own_timeout = false) {
  Hazard h{protocol::kind_deadlock, call, lock, lock_type_name(held_as), true, held_as, owner};
  h.interrupt_only = interrupt_only;
  // Not written now (no stack left to write it): the call goes on, as it would without the shim.
  if (report_hazard(h) && !interrupt_only && !own_timeout) act_on_deadlock();
}

void deadlock_untracked(const char* call, const void* lock, const char* type, int owner, bool interrupt_only = false) {
  Hazard h{protocol::kind_deadlock, call, lock, type, false, LockType::mutex, owner};
  h.interrupt_only = interrupt_only;
  if (report_hazard(h) && !interrupt_only) act_on_deadlock();
}

}  // namespace

// The lock is free (or this thread's): predict whether a vanished thread's use of it makes this a race that
// hangs the child on other runs. Reported once per lock per process; the call goes on.
void predict(const char* call, const void* lock, bool write, LockType type) {
  const RecentLock* used = nullptr;
  const ThreadSlot* user = core::predict_hang(lock, write, &used);
  if (user == nullptr) return;
  Hazard h{protocol::kind_possible_deadlock, call, lock, lock_type_name(type), false, used->type, user->tid};
  h.acquired_pc = used->pc;
  report_hazard(h);
}

void before_timed_lock(const void* lock, const char* type, const char* call) {
  if (!g_process.restricted) return;
  int owner = 0;
  bool never = false;
  LockType held_as = LockType::mutex;
  if (type == protocol::type_mutex) {
    never = core::mutex_blocks_forever(static_cast<const pthread_mutex_t*>(lock), &owner);
  } else if (type == protocol::type_semaphore) {
    const ThreadSlot* holder = core::semaphore_held_forever(static_cast<const sem_t*>(lock));
    never = holder != nullptr;
    owner = holder != nullptr ? holder->tid : 0;
    held_as = LockType::semaphore;
  } else {
    bool interrupt_only;
    never = core::rwlock_blocks_forever(static_cast<const pthread_rwlock_t*>(lock), type == protocol::type_rwlock_write,
                                        &owner, &held_as, &interrupt_only);
  }
  if (!never || !core::warn_once(lock)) return;
  // Tracked: the report says where the holder took it, as for a deadlock.
  Hazard h{protocol::kind_possible_deadlock, call, lock, type, true, held_as, owner};
  h.never_succeeds = true;
  report_hazard(h);
}

// Predictions, like verdicts, are only about process-private locks: a process-shared one that a vanished
// thread held at fork can still be released by its process (and on a glibc whose lock words we do not know,
// we cannot tell, so nothing is predicted).
void before_mutex_lock(const pthread_mutex_t* m, const char* call) {
  int owner;
  if (core::mutex_blocks_forever(m, &owner)) return deadlock(call, m, LockType::mutex, owner);
  // Only a free lock: the prediction says the call took it while it was free (a held priority-inheriting
  // mutex, not judged, is not free).
  if (g_process.restricted && core::mutex_private(m) && glibc::mutex_owner(m) == 0)
    predict(call, m, true, LockType::mutex);
}

void before_rwlock_lock(const pthread_rwlock_t* rw, bool write, const char* call) {
  int owner;
  LockType held_as;
  bool interrupt_only;
  if (core::rwlock_blocks_forever(rw, write, &owner, &held_as, &interrupt_only))
    return deadlock(call, rw, held_as, owner, interrupt_only);
  if (g_process.restricted && core::rwlock_private(rw))
    predict(call, rw, write, write ? LockType::rwlock_write : LockType::rwlock_read);
}

void lock_initialised(const void* lock) {
  if (g_process.restricted) core::lock_reinitialised(lock);
}

void predict_sem(const sem_t* sem, const char* call) {
  const SemTake* used = nullptr;
  const ThreadSlot* user = g_process.restricted ? core::predict_sem_hang(sem, &used) : nullptr;
  if (user == nullptr) return;
  Hazard h{protocol::kind_possible_deadlock, call, sem, protocol::type_semaphore, false, LockType::semaphore, user->tid};
  h.acquired_pc = used->pc;
  report_hazard(h);
}

// A wait that can never end is an error only where the fork did it (README, "The rule"): a vanished thread took
// or used the semaphore, waited on the condvar or used the wait's mutex. A child that waits for good on its own
// new object (until its parent kills it, by design) is left as it is, and marked so for the watchdog.
void before_sem_wait(const sem_t* sem, const char* call) {
  // A lock a vanished thread holds (CPython 3.11's Lock): certain whatever the handlers; ended, unless the process
  // armed a timer of its own since the fork (its own timeout: reported, left to it).
  if (const ThreadSlot* holder = core::semaphore_held_forever(sem))
    return deadlock(call, sem, LockType::semaphore, holder->tid, false, core::own_timer_armed());
  bool interrupt_only;
  if (!core::semaphore_blocks_forever(sem, &interrupt_only)) {
    // Not judged here (other threads, or handlers): noted for the watchdog, which judges a process all of whose
    // threads are stuck, when a vanished thread took or used the semaphore.
    bool lock;
    if (const ThreadSlot* user = core::semaphore_fork_wait(sem, &lock)) core::fork_wait(sem, user, lock);
    return predict_sem(sem, call);
  }
  // The explanation: a vanished thread that took it and had not posted it back (CPython's threading.Lock), else
  // one that used it at all.
  bool took;
  const ThreadSlot* taker = core::vanished_semaphore_user(sem, &took);
  if (taker == nullptr) return core::own_wait(sem);
  deadlock(call, sem, LockType::semaphore, taker->tid, interrupt_only);
}

void before_cond_wait(const pthread_cond_t* c, const pthread_mutex_t* m) {
  bool interrupt_only;
  bool blocks = core::cond_wait_blocks_forever(c, &interrupt_only);
  // Not judged here (other threads, or handlers): noted for the watchdog, which judges a process all of whose
  // threads are stuck, as for a semaphore.
  if (!blocks && (!g_process.restricted || !core::cond_private(c))) return;
  const ThreadSlot* waiter = core::vanished_cond_user(c, m);
  if (!blocks) {
    if (waiter != nullptr) core::fork_wait(c, waiter, false);
    return;
  }
  if (waiter == nullptr) return core::own_wait(c);
  deadlock_untracked("pthread_cond_wait", c, protocol::type_condvar, waiter->tid, interrupt_only);
}

// Judged by glibc's own count of waiter references; the shim's note of who waits only names the waiter (a woken
// waiter drops its reference before it re-takes the mutex, while the note lasts until the call returns).
void before_cond_destroy(const pthread_cond_t* c) {
  if (!core::cond_destroy_blocks_forever(c)) return;
  const ThreadSlot* waiter = core::vanished_waiting_on(c);
  deadlock_untracked("pthread_cond_destroy", c, protocol::type_condvar, waiter != nullptr ? waiter->tid : 0);
}

void before_guard_acquire(const int64_t* guard) {
  if (*reinterpret_cast<const volatile char*>(guard) != 0) return;  // constructed already
  if (const ThreadSlot* builder = core::vanished_constructing(guard))
    deadlock_untracked("__cxa_guard_acquire", guard, protocol::type_static_init, builder->tid);
}

void unsafe_call(CallId id, uintptr_t site, const ThreadSlot* about) {
  const CallInfo& call = g_calls[id];
  // After a raw fork glibc reset nothing: its allocator and stdio locks stay as the vanished threads left
  // them, so even the non-portable class can hang there.
  // A family whose lock this glibc's fork() resets (popen's list lock since 2.41) is no longer hang-prone.
  UnsafeClass cls = call.cls;
  if (cls == UnsafeClass::hang_prone && glibc_facts::reset_by_fork(call.family)) cls = UnsafeClass::non_portable;
  // By evidence: in a family whose every entry point the shim sees, a lock no vanished thread was inside at the
  // fork or ever used was free then and stays free: the call cannot hang on it (still undefined by POSIX: a note).
  // A vanished thread that used it is the race that did not strike this run: a warning.
  const size_t family = static_cast<size_t>(call.family);
  if (cls == UnsafeClass::hang_prone && call.family != Family::none && family_fully_seen(call.family) &&
      core::vanished_inside_family(family) == nullptr && core::vanished_used_family(family) == nullptr)
    cls = UnsafeClass::non_portable;
  if (g_process.raw_fork) cls = UnsafeClass::hang_prone;
  if (cls == UnsafeClass::non_portable && g_options.mode == mode_glibc) return;
  if (!first_call_at(id, site)) return;
  const ThreadSlot* inside =
      call.family != Family::none ? core::vanished_inside_family(static_cast<size_t>(call.family)) : about;
  Hazard h{protocol::kind_unsafe_call, call.name, nullptr, nullptr, false, LockType::mutex,
           inside != nullptr ? inside->tid : 0};
  h.unsafe_class = unsafe_class_name(cls);
  h.why = call.why;
  h.site = site;
  h.inside_family = inside != nullptr && call.family != Family::none ? family_name(call.family) : nullptr;
  if (!report_hazard(h)) return;  // kept for later: no action without the report that explains it
  switch (g_options.on_unsafe) {
    case on_unsafe_report: return;
    case on_unsafe_exit:
      flush_repeats();
      exit_now(static_cast<int>(g_options.exitcode));
    case on_unsafe_abort:
      flush_repeats();
      abort_now();
  }
}

void act_on_deadlock() {
  switch (g_options.on_deadlock) {
    case on_deadlock_exit:
      exit_now(static_cast<int>(g_options.exitcode));
    case on_deadlock_abort:
      abort_now();
    case on_deadlock_continue:
      return;
  }
}

}  // namespace fh::shim::policy
