// Judgements in a forked child (core.h, "Judgements"): would this call block forever, read from the lock words, the
// kernel's thread count, the signal dispositions and the vanished threads' frozen records; and which vanished
// thread explains it.
#include "shim/core.h"
#include "shim/core_internal.h"
#include "shim/glibc_facts.h"
#include "shim/glibc_locks.h"
#include "shim/wait_rule.h"

namespace fh::shim::core {

namespace {

// One thread left (our registry and the kernel agree) in a restricted process with no clone(CLONE_VM) peer: no
// other code of this process can run but its signal handlers. Only in a restricted process (README, "The rule"):
// the child of a single-threaded fork has no fork hazard, whatever it waits for.
bool alone() {
  if (!g_process.restricted || __atomic_load_n(&g_process.vm_peers, __ATOMIC_RELAXED) != 0) return false;
  return live_threads() <= 1 && kernel_thread_count() == 1;
}

// Alone, and no handler that could end a wait but, at most, SIGINT's (*interrupt_only; shim/wait_rule.h): a
// private wait without a timeout can then never end.
bool nothing_left_to_wake(bool* interrupt_only) {
  *interrupt_only = false;
  if (!alone()) return false;
  switch (what_may_end_wait(caught_signals())) {
    case WaitEnd::never: return true;
    case WaitEnd::interrupt: *interrupt_only = true; return true;
    case WaitEnd::handler: return false;
  }
  return false;
}

// Waits this process's own threads may be in on `cond` (noted before glibc's wait takes its reference, cleared
// after it dropped it).
unsigned own_waiters(const void* cond) {
  unsigned n = 0;
  uint32_t used = slots_used();
  for (uint32_t i = 0; i < used; i++)
    if (!is_vanished(g_slots[i]) && __atomic_load_n(&g_slots[i].waiting_cond, __ATOMIC_ACQUIRE) == cond) n++;
  return n;
}

}  // namespace

bool lock_words_known() { return glibc_facts::g_facts.lock_words; }
bool mutex_private(const pthread_mutex_t* m) {
  if (!glibc_facts::g_facts.lock_words) return false;
  // Robust ones carry the shared bit whether or not they are shared, hence the private-robust set.
  return (glibc::mutex_kind(m) & glibc::mutex_kind_pshared_bit) == 0 || is_private_robust(m);
}

bool rwlock_private(const pthread_rwlock_t* rw) {
  return glibc_facts::g_facts.lock_words && !glibc::rwlock_shared(rw);
}

bool cond_private(const pthread_cond_t* c) {
  return glibc_facts::g_facts.lock_words && !glibc::cond_shared(c);
}

bool mutex_blocks_forever(const pthread_mutex_t* m, int* owner) {
  if (!glibc_facts::g_facts.lock_words) return false;
  int o = glibc::mutex_owner(m);
  if (o <= 0 || o == tls.tid || o >= glibc::mutex_owner_notrecoverable) return false;
  // Process-shared locks may be held by another live process: never judged. Robust ones carry the shared bit
  // whether or not they are shared, hence the private-robust set.
  if ((glibc::mutex_kind(m) & glibc::mutex_kind_pshared_bit) != 0 && !is_private_robust(m)) return false;
  // A priority-inheriting mutex: the kernel takes it (FUTEX_LOCK_PI), and with the owner's tid naming a thread
  // of the parent it fails: glibc aborts ("The futex facility returned an unexpected error code"), or, once that
  // thread is gone, waits forever on a word of its own (which the watchdog judges). Not "would block forever".
  if ((glibc::mutex_kind(m) & glibc::mutex_kind_pi) != 0) return false;
  // A robust mutex whose owner exited before the fork: the lock returns EOWNERDEAD, it does not block.
  if ((glibc::mutex_kind(m) & glibc::mutex_kind_robust) != 0 &&
      (glibc::mutex_lock_word(m) & glibc::futex_owner_died) != 0)
    return false;
  // Threads the child started contend like any others: the owner found alive last time is not asked again (a
  // thread that ended holding the lock is then missed, a hang no fork caused; never a false verdict).
  if (o == tls.owner_seen_alive) return false;
  if (tid_alive(o)) {
    tls.owner_seen_alive = o;
    return false;
  }
  *owner = o;
  return true;
}

bool rwlock_blocks_forever(const pthread_rwlock_t* rw, bool write, int* owner, LockType* held_as,
                           bool* interrupt_only) {
  *interrupt_only = false;
  if (!glibc_facts::g_facts.lock_words) return false;
  if (glibc::rwlock_shared(rw)) return false;
  int w = glibc::rwlock_writer(rw);
  if (w > 0 && w != tls.tid && !tid_alive(w)) {
    *owner = w;
    *held_as = LockType::rwlock_write;
    return true;
  }
  // A primary writer that vanished inside its wrlock or its wrunlock: WRLOCKED set, no writer recorded, no hand-over
  // offered. Only the thread inside those calls leaves that state, so in a process where no other thread can be
  // (alone), and when this thread is not inside one itself (a signal handler's nested call: in_rwlock_call), a
  // vanished one left it, and glibc's loops never leave it: a writer spins (__writers_futex was cleared first: OpenSSL's RAND_bytes
  // children, state R) or waits on __writers_futex, a reader in the write phase waits for a hand-over only that
  // writer gives. A lock acquisition: certain whatever the handlers. The explanation: a vanished thread that used
  // the lock (its memory of recent locks, its held stack). Not in a read phase with readers counted: there the
  // primary writer only waits for them, and the read hold is the explanation (below).
  if (w == 0 && glibc::rwlock_write_locked(rw) && !glibc::rwlock_handed_over(rw) &&
      !(glibc::rwlock_read_phase(rw) && (!write || glibc::rwlock_readers(rw) > 0)) && tls.in_rwlock_call == 0 &&
      alone()) {
    const ThreadSlot* user = vanished_used_lock(rw);
    *owner = user != nullptr ? user->tid : 0;
    *held_as = LockType::rwlock_write;
    return true;
  }
  // Readers have no identity in the lock word. In a process left with one thread and no handler that could end
  // the wait (the semaphore's and the condvar's rule, shim/wait_rule.h), nothing can ever release a read hold,
  // whoever took it: this writer waits forever. The explanation, where there is one: a vanished thread that
  // took it for reading last (its memory of recent locks; the held stack with deeper acquisition stacks).
  // Only in a read phase do the counted readers hold it (in a write phase they are waiting to start one, and a
  // writer takes the lock over them).
  if (!write || glibc::rwlock_readers(rw) == 0 || !glibc::rwlock_read_phase(rw) || !nothing_left_to_wake(interrupt_only))
    return false;
  const ThreadSlot* reader = vanished_took_for_reading(rw);
  *owner = reader != nullptr ? reader->tid : 0;
  *held_as = LockType::rwlock_read;
  return true;
}

const ThreadSlot* semaphore_held_forever(const sem_t* sem) {
  if (!glibc_facts::g_facts.lock_words) return nullptr;
  if (!glibc::sem_private(sem) || glibc::sem_value(sem) != 0 || !alone()) return nullptr;
  return vanished_took_semaphore(sem);
}

bool semaphore_blocks_forever(const sem_t* sem, bool* interrupt_only) {
  *interrupt_only = false;
  if (!glibc_facts::g_facts.lock_words) return false;
  if (!glibc::sem_private(sem) || glibc::sem_value(sem) != 0) return false;
  return nothing_left_to_wake(interrupt_only);
}

bool cond_destroy_blocks_forever(const pthread_cond_t* cond) {
  if (!glibc_facts::g_facts.lock_words || !g_process.forked_child || glibc::cond_shared(cond)) return false;
  // Read the own waiters on both sides of the count: a thread of ours entering a wait while the condvar is
  // destroyed is undefined behaviour anyway; one leaving is counted in both reads until its reference is gone.
  unsigned before = own_waiters(cond);
  unsigned refs = glibc::cond_waiter_refs(cond);
  unsigned after = own_waiters(cond);
  return refs > (before > after ? before : after);
}

void own_wait(const void* object) {
  if (ThreadSlot* s = tls.slot) __atomic_store_n(&s->own_wait, object, __ATOMIC_RELEASE);
}

// The watchdog reads the object last (release): a non-null object has its tid and kind written.
void fork_wait(const void* object, const ThreadSlot* by, bool lock) {
  ThreadSlot* s = tls.slot;
  if (s == nullptr) return;
  if (object != nullptr) {
    __atomic_store_n(&s->fork_wait_tid, by != nullptr ? by->tid : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->fork_wait_lock, lock, __ATOMIC_RELAXED);
  }
  __atomic_store_n(&s->fork_wait, object, __ATOMIC_RELEASE);
}

const ThreadSlot* semaphore_fork_wait(const sem_t* sem, bool* lock) {
  *lock = false;
  if (!glibc_facts::g_facts.lock_words || !g_process.restricted) return nullptr;
  if (!glibc::sem_private(sem) || glibc::sem_value(sem) != 0) return nullptr;
  return vanished_semaphore_user(sem, lock);
}

const ThreadSlot* vanished_semaphore_user(const void* sem, bool* took) {
  const ThreadSlot* taker = vanished_took_semaphore(sem);
  *took = taker != nullptr;
  return taker != nullptr ? taker : vanished_used_semaphore(sem);
}

const ThreadSlot* vanished_cond_user(const void* cond, const void* mutex) {
  const ThreadSlot* waiter = vanished_waiting_on(cond);
  return waiter != nullptr ? waiter : vanished_used_lock(mutex);
}

bool cond_wait_blocks_forever(const pthread_cond_t* cond, bool* interrupt_only) {
  *interrupt_only = false;
  if (!glibc_facts::g_facts.lock_words) return false;
  return !glibc::cond_shared(cond) && nothing_left_to_wake(interrupt_only);
}

const ThreadSlot* vanished_inside_family(size_t family) {
  return first_vanished([family](const ThreadSlot& s) { return s.inside[family] > 0; });
}

const ThreadSlot* vanished_used_family(size_t family) {
  return first_vanished([family](const ThreadSlot& s) { return (s.families_used >> family & 1u) != 0; });
}

const ThreadSlot* vanished_waiting_on(const void* cond) {
  return first_vanished([cond](const ThreadSlot& s) { return s.waiting_cond == cond; });
}

const ThreadSlot* vanished_constructing(const void* guard) {
  return first_vanished([guard](const ThreadSlot& s) {
    for (uint32_t i = 0; i < s.nconstructing && i < max_constructing; i++)
      if (s.constructing[i] == guard) return true;
    return false;
  });
}

const ThreadSlot* vanished_took_for_reading(const void* rw) {
  return first_vanished([rw](const ThreadSlot& s) {
    const RecentLock& r = s.recent[recent_slot(rw)];
    if (r.addr == rw && r.type == LockType::rwlock_read) return true;
    const HeldLock* h = find_held(&s, rw, true);
    return h != nullptr;
  });
}

const ThreadSlot* vanished_used_semaphore(const void* sem) {
  return first_vanished([sem](const ThreadSlot& s) { return sem_entry_of(&s, sem) != nullptr; });
}

const ThreadSlot* vanished_used_lock(const void* lock) {
  return first_vanished([lock](const ThreadSlot& s) {
    return s.recent[recent_slot(lock)].addr == lock || find_held(&s, lock, false) != nullptr;
  });
}

const ThreadSlot* vanished_took_semaphore(const void* sem) {
  return first_vanished([sem](const ThreadSlot& s) { return find_sem_take(&s, sem) != nullptr; });
}

}  // namespace fh::shim::core
