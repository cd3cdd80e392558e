// Predictions in a restricted process (core.h, "Prediction"): the locks the forker held across the fork, the
// locks re-initialised since, the ones already predicted, and the vanished threads' memory of the locks they took.
#include "shim/core.h"
#include "shim/core_internal.h"
#include "shim/glibc_facts.h"
#include "shim/glibc_locks.h"
#include "shim/runtimes.h"

namespace fh::shim::core {

namespace {

// What prediction needs in a restricted process, set up at fork: the locks the forking thread held across the
// fork (atfork-protected), the locks re-initialised since, the locks already predicted. Full sets stop
// prediction (counted), never make it wrong.
struct ChildLocks {
  // its held stack, its held mutexes, the semaphores it had taken and not posted back (per fork of this process)
  const void* protected_at_fork[max_held + recent_locks + sem_memory];
  uint32_t nprotected;
  // The forker's memory of recent locks at the fork, entry by entry (several_locks where forks of a restricted
  // process found different ones): the protected set above is read from that memory, so a lock whose entry a
  // later lock of the forker evicted may have been held across the fork without appearing there.
  const void* forker_memory[recent_locks];
  bool sem_unsure;  // a forker's memory of semaphores overflowed: a semaphore it held may not be protected
  const void* reinitialised[256];
  uint32_t nreinitialised;
  const void* predicted[128];
  uint32_t npredicted;
  bool full;  // a set overflowed: no more predictions in this process
};
ChildLocks g_child_locks;

const void* const several_locks = reinterpret_cast<const void*>(uintptr_t{1});

bool in_set(const void* const* set, uint32_t n, const void* lock) {
  for (uint32_t i = 0; i < n; i++)
    if (set[i] == lock) return true;
  return false;
}

// A lock the forker held across a fork. A full set stops predicting: a protected lock we could not remember
// could be predicted falsely.
void protect(ChildLocks& c, const void* lock) {
  if (c.nprotected < sizeof c.protected_at_fork / sizeof c.protected_at_fork[0]) c.protected_at_fork[c.nprotected++] = lock;
  else c.full = true;
}

// Whether a prediction on `lock` may be made in this process: restricted, sets not full, not protected at a
// fork, not re-initialised, not predicted before.
bool may_predict(const ChildLocks& c, const void* lock) {
  return g_process.restricted && !c.full && !in_set(c.protected_at_fork, c.nprotected, lock) &&
         !in_set(c.reinitialised, c.nreinitialised, lock) && !in_set(c.predicted, c.npredicted, lock);
}

// Marks `lock` predicted (once per process); false when the set is full (counted; no more predictions).
bool mark_predicted(ChildLocks& c, const void* lock) {
  if (c.npredicted == sizeof c.predicted / sizeof c.predicted[0]) {
    c.full = true;
    __atomic_fetch_add(&g_process.predictions_dropped, 1, __ATOMIC_RELAXED);
    return false;
  }
  c.predicted[c.npredicted++] = lock;
  return true;
}

}  // namespace

// At a fork, in the child: what the forking thread held across it (its held stack as at the fork instant: our child
// handler runs before the program's, which may unlock the atfork-protected locks), and its memory of recent locks.
void remember_forker(const ThreadSlot* forker, int parent_tid, bool multithreaded) {
  ChildLocks& c = g_child_locks;
  // A restricted process forking again keeps what it knew: the locks protected at the earlier forks and the ones
  // it re-initialised are still not the vanished threads'.
  if (!g_process.restricted) {
    c.nprotected = 0;
    c.nreinitialised = 0;
    c.full = false;
    for (const void*& f : c.forker_memory) f = nullptr;
    c.sem_unsure = false;
  }
  c.npredicted = 0;  // each process reports its own predictions
  if (const ThreadSlot* s = forker) {
    for (size_t k = 0; k < recent_locks; k++) {
      const void* now = s->recent[k].addr;
      const void*& f = c.forker_memory[k];
      if (f == nullptr) f = now;
      else if (now != nullptr && now != f) f = several_locks;
    }
    for (uint32_t i = 0; i < s->nheld && i < max_held; i++) protect(c, s->held[i].addr);
    if (s->sem_overflowed) c.sem_unsure = true;
    for (const SemTake& e : s->sem_takes)
      if (e.sem != nullptr && e.outstanding > 0) protect(c, e.sem);  // taken across the fork by the forker
    // The mutexes it held, by their lock words (off the held stack: lock_taken). Only where predictions will be
    // made: a multithreaded fork's child, or one of its descendants.
    if (multithreaded || g_process.restricted)
      for_each_held_by_word_here(*s, parent_tid, [&c](const HeldLock& h) { protect(c, h.addr); });
  }
}

const ThreadSlot* predict_hang(const void* lock, bool write, const RecentLock** used) {
  ChildLocks& c = g_child_locks;
  if (!may_predict(c, lock)) return nullptr;
  // A runtime's lock taken only under its big lock, which the forking thread holds across the fork (Ruby's VM lock
  // under the GVL: shim/runtimes.h): no vanished thread can hold it at any fork.
  if (runtimes::taken_only_under_big_lock(lock)) return nullptr;
  size_t k = recent_slot(lock);
  // The forker's entry for this lock held another lock at the fork: this one's may have been evicted from it,
  // and with it the knowledge that the forker held it across the fork (the pthread_atfork pattern). Not
  // predicted: a prediction lost, never a false one.
  if (c.forker_memory[k] != nullptr && c.forker_memory[k] != lock) return nullptr;
  const ThreadSlot* user = first_vanished([&](const ThreadSlot& s) {
    const RecentLock& r = s.recent[k];
    if (r.addr != lock || (!write && r.type == LockType::rwlock_read)) return false;
    // Parked at the fork on a cond never signalled: it takes no lock again before the program does what it never
    // did, so its past uses predict nothing (a race the program's flow has excluded so far).
    if (parked(s)) return false;
    *used = &r;
    return true;
  });
  return user != nullptr && mark_predicted(c, lock) ? user : nullptr;
}

const ThreadSlot* predict_sem_hang(const sem_t* sem, const SemTake** used) {
  ChildLocks& c = g_child_locks;
  if (c.sem_unsure || !glibc_facts::g_facts.lock_words || !may_predict(c, sem)) return nullptr;
  if (!glibc::sem_private(sem) || glibc::sem_value(sem) != 1) return nullptr;
  const ThreadSlot* user = first_vanished([&](const ThreadSlot& s) {
    // Taken and every take posted back by the same thread: a lock-like use. A consumer that only takes (a
    // producer posts) has takes outstanding: its use says nothing about when the value is 0.
    const SemTake* e = sem_entry_of(&s, sem);
    if (e == nullptr || e->outstanding != 0 || parked(s)) return false;
    *used = e;
    return true;
  });
  return user != nullptr && mark_predicted(c, sem) ? user : nullptr;
}

bool warn_once(const void* lock) {
  ChildLocks& c = g_child_locks;
  return !in_set(c.predicted, c.npredicted, lock) && mark_predicted(c, lock);
}

void forget_sem_takes(const void* sem) {
  size_t k = sem_slot(sem);
  uint32_t n = slots_used();
  for (uint32_t i = 0; i < n; i++) {
    for (size_t p = 0; p < sem_probes; p++) {
      // As forget_lock_uses: racing the owner's own update loses an explanation or a prediction, never makes one.
      const void** addr = const_cast<const void**>(&g_slots[i].sem_takes[(k + p) % sem_memory].sem);
      if (__atomic_load_n(addr, __ATOMIC_RELAXED) == sem) __atomic_store_n(addr, nullptr, __ATOMIC_RELAXED);
    }
  }
}

void forget_lock_uses(const void* lock) {
  size_t k = recent_slot(lock);
  uint32_t n = slots_used();
  for (uint32_t i = 0; i < n; i++) {
    // Another thread writes its own entry without atomics; clearing one it is rewriting for another lock at
    // that instant loses that memory (a prediction), never makes a false one.
    const void** addr = const_cast<const void**>(&g_slots[i].recent[k].addr);
    if (__atomic_load_n(addr, __ATOMIC_RELAXED) == lock) __atomic_store_n(addr, nullptr, __ATOMIC_RELAXED);
  }
}

void lock_reinitialised(const void* lock) {
  ChildLocks& c = g_child_locks;
  if (!g_process.restricted || in_set(c.reinitialised, c.nreinitialised, lock)) return;
  if (c.nreinitialised == sizeof c.reinitialised / sizeof c.reinitialised[0]) {
    c.full = true;  // a re-initialised lock we could not remember could be predicted falsely: stop
    __atomic_fetch_add(&g_process.predictions_dropped, 1, __ATOMIC_RELAXED);
    return;
  }
  c.reinitialised[c.nreinitialised++] = lock;
}

}  // namespace fh::shim::core
