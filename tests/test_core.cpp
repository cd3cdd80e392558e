// Unit tests of the shim core (held-lock bookkeeping, registry, fork snapshot, lock judgement), linked
// directly: no LD_PRELOAD, no wrappers. Criterion runs each test in its own process.
#include <criterion/criterion.h>

#include <cstdio>
#include <pthread.h>
#include <semaphore.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "shim/core.h"
#include "shim/runtimes.h"
#include "shim/glibc_locks.h"

using namespace fh;
using namespace fh::shim;


// In a forked child: whether a check failed, saying which on stderr (the child's exit status only counts them).
#define FAILED_IF(bad) failed_at(__FILE__, __LINE__, static_cast<bool>(bad))
inline int failed_at(const char* file, int line, bool bad) {
  if (bad) std::fprintf(stderr, "%s:%d: check failed in the forked child\n", file, line);
  return bad ? 1 : 0;
}

namespace {

const void* addr(int i) { return reinterpret_cast<const void*>(static_cast<uintptr_t>(0x1000 + 16 * i)); }

void acquire(const void* a, LockType t, uintptr_t pc = 0x42) { core::lock_acquired(a, t, &pc, 1); }

ThreadSlot* self() { return core::current_slot(); }

}  // namespace

TestSuite(core, .init = core::init);

Test(core, push_and_pop) {
  acquire(addr(1), LockType::mutex, 0x1234);
  acquire(addr(2), LockType::mutex);
  cr_assert_eq(self()->nheld, 2);
  cr_assert_eq(self()->held[0].addr, addr(1));
  cr_assert_eq(self()->held[0].pcs[0], 0x1234u);
  core::lock_released(addr(1), LockFamily::mutex);
  cr_assert_eq(self()->nheld, 1);
  cr_assert_eq(self()->held[0].addr, addr(2), "releasing out of order keeps the other lock");
  core::lock_released(addr(2), LockFamily::mutex);
  cr_assert_eq(self()->nheld, 0);
}

// A lock initialised or destroyed is a new lock: no thread's memory of the old one at that address remains (a
// prediction resting on it would be about another lock).
Test(core, init_forgets_past_uses_of_the_address) {
  acquire(addr(3), LockType::mutex, 0x77);
  acquire(addr(4), LockType::rwlock_write, 0x78);
  cr_assert_eq(self()->recent[recent_slot(addr(3))].addr, addr(3));
  core::forget_lock_uses(addr(3));
  cr_assert_null(self()->recent[recent_slot(addr(3))].addr, "the old lock's use is still remembered");
  cr_assert_eq(self()->recent[recent_slot(addr(4))].addr, addr(4), "another lock's use was forgotten");
}

// Mutexes and rwlock write holds are off the held stack: which ones a thread holds is its memory of taking them
// checked against the lock words (here: read through a reader that refuses one address, as for an unmapped lock).
Test(core, held_locks_come_from_memory_and_lock_words) {
  // The memory of recent locks is direct-mapped by address: the locks are picked from pools so that no two share
  // an entry (static locks of their own would collide or not by the binary's layout, and the test with them).
  static pthread_mutex_t mutexes[16];
  static pthread_rwlock_t rwlocks[16];
  bool taken[recent_locks] = {};
  taken[recent_slot(addr(5))] = true;  // the read hold below
  auto pick = [&taken](auto* pool, size_t n) {
    for (size_t i = 0; i < n; i++) {
      if (taken[recent_slot(&pool[i])]) continue;
      taken[recent_slot(&pool[i])] = true;
      return &pool[i];
    }
    cr_assert_fail("no lock with an entry of its own in the pool");
    return pool;
  };
  pthread_mutex_t& mine = *pick(mutexes, 16);
  pthread_mutex_t& released = *pick(mutexes, 16);
  pthread_mutex_t& unmapped = *pick(mutexes, 16);
  pthread_mutex_t& recursive = *pick(mutexes, 16);
  pthread_rwlock_t& written = *pick(rwlocks, 16);
  pthread_rwlock_t& unlocked = *pick(rwlocks, 16);
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&recursive, &attr);
  ThreadSlot* s = self();
  core::lock_taken(s, &mine, 0x10, LockType::mutex);
  core::lock_taken(s, &released, 0x20, LockType::mutex);
  core::lock_taken(s, &unmapped, 0x30, LockType::mutex);
  core::lock_taken(s, &recursive, 0x40, LockType::mutex);
  acquire(addr(5), LockType::rwlock_read);  // a read hold: on the held stack, not read from a word
  core::lock_taken(s, &written, 0x50, LockType::rwlock_write);
  core::lock_taken(s, &unlocked, 0x60, LockType::rwlock_write);
  pthread_rwlock_wrlock(&written);
  pthread_mutex_lock(&mine);
  pthread_mutex_lock(&unmapped);
  pthread_mutex_lock(&recursive);
  pthread_mutex_lock(&recursive);
  auto read = [&unmapped](const void* a, void* d, size_t n) {
    if (a == &unmapped) return false;
    memcpy(d, a, n);
    return true;
  };
  const void* seen[8];
  uintptr_t pcs[8];
  unsigned depth[8];
  size_t n = 0;
  core::for_each_held_by_word(*s, tls.tid, read, [&](const HeldLock& h) {
    cr_assert_lt(n, 8u);
    cr_assert(h.type == (h.addr == &written ? LockType::rwlock_write : LockType::mutex));
    seen[n] = h.addr;
    pcs[n] = h.npcs == 1 ? h.pcs[0] : 0;
    depth[n++] = h.depth;
  });
  cr_assert_eq(n, 3u, "%zu locks listed, expected `mine`, `recursive` and `written`", n);
  for (size_t i = 0; i < n; i++) {
    if (seen[i] == &mine) cr_assert(pcs[i] == 0x10 && depth[i] == 1);
    else if (seen[i] == &written) cr_assert(pcs[i] == 0x50 && depth[i] == 1);
    else cr_assert(seen[i] == &recursive && pcs[i] == 0x40 && depth[i] == 2, "depth %u", depth[i]);
  }
  size_t other = 0;
  core::for_each_held_by_word(*s, tls.tid + 1, read, [&](const HeldLock&) { other++; });
  cr_assert_eq(other, 0u, "another thread's tid holds nothing here");
}

Test(core, recursion_counts_depth) {
  acquire(addr(1), LockType::mutex);
  acquire(addr(1), LockType::mutex);
  acquire(addr(1), LockType::mutex);
  cr_assert_eq(self()->nheld, 1);
  cr_assert_eq(self()->held[0].depth, 3);
  core::lock_released(addr(1), LockFamily::mutex);
  core::lock_released(addr(1), LockFamily::mutex);
  cr_assert_eq(self()->nheld, 1);
  core::lock_released(addr(1), LockFamily::mutex);
  cr_assert_eq(self()->nheld, 0);
}

Test(core, release_of_unheld_lock_changes_nothing) {
  acquire(addr(1), LockType::mutex);
  core::lock_released(addr(9), LockFamily::mutex);
  core::lock_released(addr(1), LockFamily::rwlock);  // same address, other family
  cr_assert_eq(self()->nheld, 1);
}

Test(core, rwlock_release_matches_read_or_write) {
  acquire(addr(1), LockType::rwlock_read);
  acquire(addr(2), LockType::rwlock_write);
  core::lock_released(addr(2), LockFamily::rwlock);
  core::lock_released(addr(1), LockFamily::rwlock);
  cr_assert_eq(self()->nheld, 0);
  acquire(addr(3), LockType::rwlock_read);
  core::lock_released(addr(3), LockFamily::mutex);
  cr_assert_eq(self()->nheld, 1, "a mutex unlock does not release an rwlock hold");
}

Test(core, cond_wait_releases_and_retakes) {
  // What the pthread_cond_wait wrapper does around the real call.
  acquire(addr(1), LockType::mutex);
  acquire(addr(2), LockType::mutex);
  core::lock_released(addr(1), LockFamily::mutex);
  cr_assert_eq(self()->nheld, 1);
  acquire(addr(1), LockType::mutex, 0x99);
  cr_assert_eq(self()->nheld, 2);
  cr_assert_eq(self()->held[1].addr, addr(1));
  cr_assert_eq(self()->held[1].pcs[0], 0x99u);
}

Test(core, overflow_is_counted_not_fatal) {
  for (size_t i = 0; i < max_held + 5; i++) acquire(addr(static_cast<int>(i)), LockType::mutex);
  cr_assert_eq(self()->nheld, max_held);
  cr_assert_eq(self()->held_dropped, 5);
  for (size_t i = 0; i < max_held + 5; i++) core::lock_released(addr(static_cast<int>(i)), LockFamily::mutex);
  cr_assert_eq(self()->nheld, 0);
}

Test(core, private_robust_set) {
  static int a, b;
  core::note_mutex_init(&a, true);
  cr_assert(core::is_private_robust(&a));
  cr_assert_not(core::is_private_robust(&b));
  core::note_mutex_init(&a, false);  // destroyed or re-initialised as something else
  cr_assert_not(core::is_private_robust(&a));
}

Test(core, semaphore_words) {
  sem_t priv, shared;
  sem_init(&priv, 0, 2);
  sem_init(&shared, 1, 0);
  cr_assert(glibc::sem_private(&priv));
  cr_assert_not(glibc::sem_private(&shared));
  cr_assert_eq(glibc::sem_value(&priv), 2u);
  cr_assert_eq(glibc::sem_value(&shared), 0u);
  sem_wait(&priv);
  cr_assert_eq(glibc::sem_value(&priv), 1u);
}

Test(core, mutex_and_rwlock_words) {
  static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
  cr_assert_eq(glibc::mutex_owner(&m), 0);
  pthread_mutex_lock(&m);
  cr_assert_eq(glibc::mutex_owner(&m), tls.tid != 0 ? tls.tid : static_cast<int>(gettid()));
  pthread_rwlock_rdlock(&rw);
  pthread_rwlock_rdlock(&rw);
  cr_assert_eq(glibc::rwlock_readers(&rw), 2u);
  cr_assert_eq(glibc::rwlock_writer(&rw), 0);
  pthread_rwlock_unlock(&rw);
  pthread_rwlock_unlock(&rw);
  pthread_rwlock_wrlock(&rw);
  cr_assert_eq(glibc::rwlock_writer(&rw), static_cast<int>(gettid()));
  cr_assert_not(glibc::rwlock_shared(&rw));
}

// Predictions are made only about process-private locks (the lock word's shared flags).
Test(core, private_locks_are_told_from_shared_ones) {
  pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER, shared, robust;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&shared, &attr);
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&robust, &attr);
  cr_assert(core::mutex_private(&plain));
  cr_assert_not(core::mutex_private(&shared));
  cr_assert_not(core::mutex_private(&robust), "a robust mutex not known private looks shared");
  core::note_mutex_init(&robust, true);
  cr_assert(core::mutex_private(&robust));
  pthread_rwlock_t rw_plain = PTHREAD_RWLOCK_INITIALIZER, rw_shared;
  pthread_rwlockattr_t rw_attr;
  pthread_rwlockattr_init(&rw_attr);
  pthread_rwlockattr_setpshared(&rw_attr, PTHREAD_PROCESS_SHARED);
  pthread_rwlock_init(&rw_shared, &rw_attr);
  cr_assert(core::rwlock_private(&rw_plain));
  cr_assert_not(core::rwlock_private(&rw_shared));
}

Test(core, registry_claims_and_releases) {
  uint32_t live = static_cast<uint32_t>(live_threads());
  ThreadSlot* s = core::claim_slot();
  cr_assert_not_null(s);
  cr_assert_eq(slot_state(*s), slot_claimed);
  cr_assert_eq(live_threads(), static_cast<int>(live), "a claimed slot is not a live thread");
  core::release_claim(s);
  cr_assert_eq(slot_state(*s), slot_free);
}

namespace {

pthread_mutex_t g_worker_mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t g_worker_rwlock = PTHREAD_RWLOCK_INITIALIZER;
pthread_rwlock_t g_reader_rwlock = PTHREAD_RWLOCK_INITIALIZER;
pthread_barrier_t g_barrier;
int g_worker_tid;

void* worker(void* p) {
  core::thread_started(static_cast<ThreadSlot*>(p));
  core::set_name(core::current_slot(), "holder");
  g_worker_tid = tls.tid;
  pthread_mutex_lock(&g_worker_mutex);
  acquire(&g_worker_mutex, LockType::mutex, 0x5151);
  pthread_rwlock_wrlock(&g_worker_rwlock);
  acquire(&g_worker_rwlock, LockType::rwlock_write);
  pthread_rwlock_rdlock(&g_reader_rwlock);
  acquire(&g_reader_rwlock, LockType::rwlock_read);
  pthread_barrier_wait(&g_barrier);
  pause();
  return nullptr;
}

// Starts the worker (holding three locks), forks, and runs `check` in the child; the child's exit status
// is the number of failed checks.
// `before_fork` runs in the parent once the worker holds its locks.
void fork_with_holder(int (*check)(), void (*before_fork)() = nullptr) {
  pthread_barrier_init(&g_barrier, nullptr, 2);
  ThreadSlot* s = core::claim_slot();
  pthread_t t;
  pthread_create(&t, nullptr, worker, s);
  pthread_barrier_wait(&g_barrier);
  if (before_fork != nullptr) before_fork();
  core::fork_prepare();
  pid_t pid = fork();
  if (pid == 0) {
    core::fork_child();
    _exit(check());
  }
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status));
  cr_assert_eq(WEXITSTATUS(status), 0, "%d checks failed in the child", WEXITSTATUS(status));
}

}  // namespace

Test(core, child_judges_locks_of_vanished_thread) {
  fork_with_holder([]() {
    int failed = 0;
    int owner = 0;
    failed += FAILED_IF(!g_process.forked_child);
    failed += FAILED_IF(!g_process.restricted);
    failed += FAILED_IF(!core::mutex_blocks_forever(&g_worker_mutex, &owner));
    failed += FAILED_IF(owner != g_worker_tid);
    LockType how;
    bool interrupt_only;
    failed += FAILED_IF(!core::rwlock_blocks_forever(&g_worker_rwlock, false, &owner, &how, &interrupt_only));
    failed += FAILED_IF(how != LockType::rwlock_write);
    failed += FAILED_IF(core::rwlock_blocks_forever(&g_reader_rwlock, false, &owner, &how, &interrupt_only));  // reading still works
    failed += FAILED_IF(!core::rwlock_blocks_forever(&g_reader_rwlock, true, &owner, &how, &interrupt_only));  // writing never will
    failed += FAILED_IF(how != LockType::rwlock_read || owner != g_worker_tid);
    core::Relation r;
    const ThreadSlot* s = core::find_thread(g_worker_tid, &r);
    failed += FAILED_IF(s == nullptr || r != core::Relation::vanished);
    if (s != nullptr) {
      const HeldLock* h = core::find_held(s, &g_worker_mutex, false);
      failed += FAILED_IF(h == nullptr || h->pcs[0] != 0x5151);
      failed += FAILED_IF(s->name[0] != 'h');
    }
    return failed;
  });
}

// A contended lock asks the kernel about its owner once per owner; the answer stays in the parent.
Test(core, owner_seen_alive_is_asked_again_after_fork) {
  fork_with_holder(
      []() {
        int owner = 0;
        return core::mutex_blocks_forever(&g_worker_mutex, &owner) && owner == g_worker_tid ? 0 : 1;
      },
      []() {
        int owner = 0;
        cr_assert_not(core::mutex_blocks_forever(&g_worker_mutex, &owner), "the live worker's lock was judged");
        cr_assert_eq(tls.owner_seen_alive, g_worker_tid);
        cr_assert_not(core::mutex_blocks_forever(&g_worker_mutex, &owner));
      });
}

// Readers counted in a write phase are readers waiting to start a read phase, not holders: a writer in a child
// left alone takes the lock over them (nptl/pthread_rwlock_common.c, state #6), so it is not judged.
Test(core, waiting_readers_of_a_write_phase_do_not_block_a_writer) {
  fork_with_holder([]() {
    static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    int owner = 0, failed = 0;
    LockType how;
    bool interrupt_only;
    rw.__data.__readers = (1u << glibc::rwlock_reader_shift);  // one reader in a read phase: it holds the lock
    failed += FAILED_IF(!core::rwlock_blocks_forever(&rw, true, &owner, &how, &interrupt_only));
    rw.__data.__readers = (1u << glibc::rwlock_reader_shift) | glibc::rwlock_wrphase_bit;  // write phase, waiting
    failed += FAILED_IF(core::rwlock_blocks_forever(&rw, true, &owner, &how, &interrupt_only));
    return failed;
  });
}

// The state a writer that vanished inside its unlock leaves (write phase, WRLOCKED, no __cur_writer, no hand-over,
// __writers_futex 0): a writer spins in it forever, in a child left alone; not when this thread is itself inside an
// rwlock call (a signal handler's nested call may meet a state it left half-done), nor with a hand-over offered.
Test(core, writer_vanished_mid_unlock_blocks_forever) {
  fork_with_holder([]() {
    static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    int owner = 0, failed = 0;
    LockType how;
    bool interrupt_only;
    rw.__data.__readers = glibc::rwlock_wrphase_bit | glibc::rwlock_wrlocked_bit;
    failed += FAILED_IF(!core::rwlock_blocks_forever(&rw, true, &owner, &how, &interrupt_only));
    failed += FAILED_IF(how != LockType::rwlock_write || interrupt_only);
    failed += FAILED_IF(!core::rwlock_blocks_forever(&rw, false, &owner, &how, &interrupt_only));  // readers too
    tls.in_rwlock_call++;
    failed += FAILED_IF(core::rwlock_blocks_forever(&rw, true, &owner, &how, &interrupt_only));
    tls.in_rwlock_call--;
    rw.__data.__writers = glibc::rwlock_wrhandover_bit | 1;  // offered to a waiting writer: it may take it
    failed += FAILED_IF(core::rwlock_blocks_forever(&rw, true, &owner, &how, &interrupt_only));
    rw.__data.__writers = 0;
    rw.__data.__readers = glibc::rwlock_wrlocked_bit | (1u << glibc::rwlock_reader_shift);  // read phase, a reader:
    failed += FAILED_IF(!core::rwlock_blocks_forever(&rw, true, &owner, &how, &interrupt_only));  // the read hold
    failed += FAILED_IF(how != LockType::rwlock_read);
    return failed;
  });
}

Test(core, child_judges_locks_of_forking_thread) {
  static pthread_mutex_t recursive;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&recursive, &attr);
  core::current_slot();  // the lock wrapper registers a thread at its first lock (the main thread lazily too)
  pthread_mutex_lock(&recursive);
  static int parent_tid;
  parent_tid = tls.tid;
  fork_with_holder([]() {
    int failed = 0, owner = 0;
    failed += FAILED_IF(!core::mutex_blocks_forever(&recursive, &owner));
    failed += FAILED_IF(owner != parent_tid);
    core::Relation r;
    failed += FAILED_IF(core::find_thread(parent_tid, &r) != tls.slot || r != core::Relation::forker);
    return failed;
  });
}

Test(core, child_does_not_judge_free_or_shared_locks) {
  static pthread_mutex_t free_mutex = PTHREAD_MUTEX_INITIALIZER;
  static pthread_mutex_t shared;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&shared, &attr);
  fork_with_holder([]() {
    int failed = 0, owner = 0;
    failed += FAILED_IF(core::mutex_blocks_forever(&free_mutex, &owner));
    // Pretend a vanished thread holds the shared one: still never judged.
    shared.__data.__owner = g_worker_tid;
    failed += FAILED_IF(core::mutex_blocks_forever(&shared, &owner));
    return failed;
  });
}

Test(core, private_robust_mutex_is_judged) {
  static pthread_mutex_t robust;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&robust, &attr);
  core::note_mutex_init(&robust, true);
  cr_assert((glibc::mutex_kind(&robust) & glibc::mutex_kind_pshared_bit) != 0, "glibc marks robust mutexes shared");
  fork_with_holder([]() {
    int owner = 0, failed = 0;
    robust.__data.__owner = g_worker_tid;
    robust.__data.__lock = g_worker_tid;
    failed += FAILED_IF(!core::mutex_blocks_forever(&robust, &owner));
    // Its owner exited before the fork: the kernel marked the word and the lock returns EOWNERDEAD at once.
    robust.__data.__lock = g_worker_tid | glibc::futex_owner_died;
    failed += FAILED_IF(core::mutex_blocks_forever(&robust, &owner));
    return failed;
  });
}

// A priority-inheriting mutex whose owner vanished: the kernel takes it, and natively the child's lock aborts
// ("The futex facility returned an unexpected error code") while the parent's owner lives: not "would block
// forever", so not judged (once the owner is gone glibc waits forever on a word of its own: the watchdog's).
Test(core, priority_inheriting_mutex_is_not_judged) {
  static pthread_mutex_t pi;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
  pthread_mutex_init(&pi, &attr);
  cr_assert((glibc::mutex_kind(&pi) & glibc::mutex_kind_pi) != 0);
  fork_with_holder([]() {
    int owner = 0, failed = 0;
    pi.__data.__owner = g_worker_tid;
    pi.__data.__lock = g_worker_tid;
    failed += FAILED_IF(core::mutex_blocks_forever(&pi, &owner));
    return failed;
  });
}

namespace {

// Runs body() in a fresh child process (single-threaded whatever the test runner has) and asserts it exits 0.
// The child runs the core's child step as every fork under the shim does (cached pid and tid refreshed).
void in_single_threaded_process(int (*body)()) {
  pid_t pid = fork();
  if (pid == 0) {
    core::fork_child();
    g_process.restricted = false;  // the runner's own threads are not what these tests are about
    _exit(body());
  }
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status));
  cr_assert_eq(WEXITSTATUS(status), 0);
}

// Forks once more with the core's prepare/child steps; the grandchild exits 1 if restricted, else 0.
int fork_reports_restricted() {
  core::fork_prepare();
  pid_t pid = fork();
  if (pid == 0) {
    int parent = g_process.pid;
    bool was_restricted = g_process.restricted;
    core::fork_child();
    if (!was_restricted && g_process.fork_parent_pid != parent) _exit(2);
    _exit(g_process.restricted ? 1 : 0);
  }
  int status;
  waitpid(pid, &status, 0);
  return WEXITSTATUS(status);
}

void* park(void*) {
  pause();
  return nullptr;
}

}  // namespace

Test(core, single_threaded_fork_is_not_restricted) {
  in_single_threaded_process([]() { return fork_reports_restricted(); });
}

Test(core, restriction_is_inherited_by_grandchildren) {
  fork_with_holder([]() {
    int origin = g_process.fork_parent_pid;
    // This child is single-threaded, but the vanished threads' locks are still locked in its memory.
    if (fork_reports_restricted() != 1) return 1;
    return g_process.fork_parent_pid == origin ? 0 : 1;
  });
}

Test(core, unregistered_thread_makes_fork_multithreaded) {
  // A thread the registry never saw (as if made by raw clone): the /proc/self/task cross-check counts it.
  in_single_threaded_process([]() {
    pthread_t t;
    pthread_create(&t, nullptr, park, nullptr);
    return fork_reports_restricted() == 1 ? 0 : 1;
  });
}

Test(core, exited_tid_stays_known_after_its_slot_is_reused) {
  static int exited_tid;
  ThreadSlot* s = core::claim_slot();
  pthread_t t;
  pthread_create(&t, nullptr, [](void* p) -> void* {
    core::thread_started(static_cast<ThreadSlot*>(p));
    exited_tid = tls.tid;
    return nullptr;
  }, s);
  pthread_join(t, nullptr);
  cr_assert_eq(slot_state(*s), slot_exited);
  ThreadSlot* reused = core::claim_slot();
  cr_assert_eq(reused, s, "the lowest reusable slot is taken again");
  cr_assert_eq(reused->tid, 0);
  // The kernel may still list the joined thread for a moment: it must not look like a raw-clone thread.
  cr_assert(core::tid_known(exited_tid));
  cr_assert_not(core::tid_known(0x7ffffff0));
}

Test(core, joined_threads_do_not_count) {
  in_single_threaded_process([]() {
    for (int i = 0; i < 20; i++) {
      ThreadSlot* s = core::claim_slot();
      pthread_t t;
      pthread_create(&t, nullptr, [](void* p) -> void* {
        core::thread_started(static_cast<ThreadSlot*>(p));
        return nullptr;
      }, s);
      pthread_join(t, nullptr);
      if (fork_reports_restricted() != 0) return 1;
    }
    return 0;
  });
}

// Ruby 3.3 no longer exports ruby_current_vm_ptr: it is found through ruby_vm_at_exit's first RIP-relative load.
// The bytes of Debian 13's libruby-3.3.so.3.3 at ruby_vm_at_exit (0x271910): endbr64; push %rbp; push %rbx;
// mov %rdi,%rbx; mov $0x10,%edi; sub $0x8,%rsp; mov 0x1fa2bf(%rip),%rbp, which reads 0x46bbe8.
Test(core, runtime_variable_through_its_reader) {
  const unsigned char code[] = {0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x53, 0x48, 0x89, 0xfb, 0xbf, 0x10, 0x00, 0x00,
                                0x00, 0x48, 0x83, 0xec, 0x08, 0x48, 0x8b, 0x2d, 0xbf, 0xa2, 0x1f, 0x00, 0xe8};
  cr_expect_eq(runtimes::first_rip_load(code, sizeof code, 0x271910), 0x46bbe8u);
  // Cut before the load: none. A load from far away (not the object's own data) or misaligned: refused.
  cr_expect_eq(runtimes::first_rip_load(code, 24, 0x271910), 0u);
  const unsigned char far_away[] = {0x48, 0x8b, 0x05, 0x00, 0x00, 0x00, 0x80};
  cr_expect_eq(runtimes::first_rip_load(far_away, sizeof far_away, 0x1000), 0u);
  const unsigned char odd[] = {0x4c, 0x8b, 0x25, 0x02, 0x10, 0x00, 0x00};  // reads 0x2009
  cr_expect_eq(runtimes::first_rip_load(odd, sizeof odd, 0x1000), 0u);
}
