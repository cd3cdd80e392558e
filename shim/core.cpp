// Thread registry, held-lock stacks, fork bookkeeping and lock judgement (see core.h).
#include "shim/core.h"

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "shim/glibc_facts.h"
#include "shim/glibc_locks.h"
#include "shim/remote.h"
#include "shim/safe_io.h"
#include "shim/wait_rule.h"
#include "symbols/capture.h"

namespace fh {

namespace {
// The leading fields of struct clone_args (linux/sched.h), which every version of clone3 starts with.
struct clone_args_prefix {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};
}  // namespace

__thread ThreadState tls __attribute__((tls_model("initial-exec")));
ProcessState g_process;

namespace {
ThreadSlot g_slots[max_threads];
pthread_key_t g_exit_key;
}  // namespace

}  // namespace fh

// Exported (exports.map.in) for the watchdog of `forkhazard run`, which reads it from outside (remote.h).
// Constant-initialised: it costs the process nothing.
extern "C" __attribute__((visibility("default"))) const fh::RemoteState forkhazard_remote_state = {
    fh::remote_magic,
    fh::remote_version,
    sizeof(fh::ProcessState),
    sizeof(fh::ThreadSlot),
    fh::max_threads,
    &fh::g_process,
    fh::g_slots,
};

namespace fh {

const char* lock_type_name(LockType type) {
  switch (type) {
    case LockType::mutex: return "mutex";
    case LockType::rwlock_read: return "rwlock-read";
    case LockType::rwlock_write: return "rwlock-write";
    case LockType::semaphore: return "semaphore";
  }
  return "?";
}

namespace core {

namespace {

bool g_core_started;

// Open-addressing set of process-private robust mutexes (rare: sized small, full means "treat as shared",
// which can only hide a report, never invent one).
constexpr size_t robust_set_size = 1024;
constexpr uintptr_t robust_tombstone = 1;
uintptr_t g_private_robust[robust_set_size];

size_t robust_hash(uintptr_t a) { return (a >> 4) * 0x9E3779B97F4A7C15ull >> 54; }

int raw_gettid() { return static_cast<int>(syscall(SYS_gettid)); }

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

// Tids of threads that passed our exit hook, most recent last. The kernel still lists an exiting thread for
// a moment after pthread_join returns, and its registry slot may already serve a new thread by then: without
// this, a single-threaded fork right after a join could count it as an unknown (raw clone) thread.
constexpr uint32_t recent_exits_size = 256;
int g_recent_exits[recent_exits_size];
uint32_t g_recent_exits_next;

void remember_exit(int tid) {
  uint32_t i = __atomic_fetch_add(&g_recent_exits_next, 1, __ATOMIC_RELAXED);
  __atomic_store_n(&g_recent_exits[i % recent_exits_size], tid, __ATOMIC_RELEASE);
}

bool exited_recently(int tid) {
  for (const int& t : g_recent_exits)
    if (__atomic_load_n(&t, __ATOMIC_ACQUIRE) == tid) return true;
  return false;
}

void exit_key_destructor(void* p) { thread_exiting(static_cast<ThreadSlot*>(p)); }

void read_kernel_name(ThreadSlot* s) {
  int saved = errno;
  char name[thread_name_len] = {};
  if (prctl(PR_GET_NAME, name, 0, 0, 0) == 0) safe_strcpy(s->name, name, sizeof s->name);
  errno = saved;
}

void reset_slot(ThreadSlot* s) {
  s->tid = 0;
  s->nformer = 0;
  s->name[0] = '\0';
  s->start = nullptr;
  s->arg = nullptr;
  s->ncreated = 0;
  s->nfork_pcs = 0;
  s->fork_pcs_set = false;
  s->nheld = 0;
  s->held_dropped = 0;
  for (SemTake& e : s->sem_takes) e = SemTake{};
  s->sem_overflowed = false;
  for (RecentLock& r : s->recent) r = RecentLock{};
  for (uint16_t& n : s->inside) n = 0;
  s->waiting_cond = nullptr;
  s->own_wait = nullptr;
  s->nconstructing = 0;
}

// A reusable slot is free or exited; CAS makes it ours. The lowest one is taken so the registry stays
// compact: fewer pages touched, fewer for fork() to copy and for the child to scan.
ThreadSlot* claim_any() {
  for (uint32_t i = 0; i < max_threads; i++) {
    ThreadSlot* s = &g_slots[i];
    uint32_t st = slot_state(*s);
    if (st != slot_free && st != slot_exited) continue;
    if (!__atomic_compare_exchange_n(&s->state, &st, slot_claimed, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      continue;
    reset_slot(s);
    s->generation = g_process.generation;
    uint32_t used = slots_used();
    while (used < i + 1 &&
           !__atomic_compare_exchange_n(&g_process.slots_used, &used, i + 1, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
    }
    return s;
  }
  return nullptr;
}

void make_live(ThreadSlot* s) {
  tls.slot = s;
  s->tid = tls.tid;
  s->handle = pthread_self();
  __atomic_fetch_add(&g_process.live_threads, 1, __ATOMIC_RELAXED);
  set_slot_state(*s, slot_live);
}

// Threads the kernel lists that we never registered (raw clone(), or made before the shim could see them).
// Threads that passed our exit hook are still listed for a moment after pthread_join returns: they are known.
int count_unknown_threads() {
  if (kernel_thread_count() <= 1) return 0;
  int fd = sys::open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  int unknown = 0;
  char buf[2048];
  while (true) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
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

}  // namespace

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

void init() {
  if (__atomic_exchange_n(&g_core_started, true, __ATOMIC_ACQ_REL)) return;
  glibc_facts::init(STDERR_FILENO);
  g_process.pid = static_cast<int>(syscall(SYS_getpid));
  pthread_key_create(&g_exit_key, exit_key_destructor);
  current_slot();
}

ThreadSlot* register_current_thread() {
  ThreadState& t = tls;
  if (t.slot != nullptr) return t.slot;
  if (t.exited) return nullptr;
  int saved = errno;
  if (t.tid == 0) t.tid = raw_gettid();
  ThreadSlot* s = claim_any();
  if (s == nullptr) __atomic_fetch_add(&g_process.threads_untracked, 1, __ATOMIC_RELAXED);
  if (s != nullptr) {
    read_kernel_name(s);
    make_live(s);
    // The main thread too: it leaves through exit() (no TSD destructor runs, the process ends), or through
    // pthread_exit, after which glibc runs its TSD destructors (__libc_start_call_main) and the process goes on
    // with the other threads; its slot must then stop counting, or a later fork by the last thread is taken for
    // a multithreaded one.
    pthread_setspecific(g_exit_key, s);
  }
  errno = saved;
  return s;
}

const ThreadSlot& slot_at(uint32_t i) { return g_slots[i]; }

ThreadSlot* thread_creating(void* (*start)(void*), void* arg, const uintptr_t* created, size_t ncreated) {
  ThreadSlot* s = claim_slot();
  if (s == nullptr) return nullptr;
  s->start = start;
  s->arg = arg;
  if (ncreated > max_site_pcs) ncreated = max_site_pcs;
  for (size_t i = 0; i < ncreated; i++) s->created[i] = created[i];
  s->ncreated = static_cast<uint32_t>(ncreated);
  return s;
}

void thread_starting(ThreadSlot* s, void* (**start)(void*), void** arg) {
  *start = s->start;
  *arg = s->arg;
  thread_started(s);
}

void fork_called(const uintptr_t* pcs, size_t n) {
  ThreadSlot* s = current_slot();
  if (s == nullptr) return;
  if (n > max_site_pcs) n = max_site_pcs;
  for (size_t i = 0; i < n; i++) s->fork_pcs[i] = pcs[i];
  s->nfork_pcs = static_cast<uint32_t>(n);
  s->fork_pcs_set = true;
}

void fork_returned() {
  if (ThreadSlot* s = tls.slot) s->fork_pcs_set = false;
}

void cond_waiting(const void* cond) {
  ThreadSlot* s = cond != nullptr ? current_slot() : tls.slot;
  if (s != nullptr) s->waiting_cond = cond;
}

void construction_started(const void* guard) {
  ThreadSlot* s = current_slot();
  if (s == nullptr || s->nconstructing >= max_constructing) return;
  s->constructing[s->nconstructing] = guard;
  __atomic_signal_fence(__ATOMIC_RELEASE);  // complete before counted: a fork may freeze us in between
  s->nconstructing++;
}

void construction_ended(const void* guard) {
  ThreadSlot* s = tls.slot;
  if (s == nullptr) return;
  for (uint32_t i = s->nconstructing; i-- > 0;) {
    if (s->constructing[i] != guard) continue;
    for (uint32_t j = i; j + 1 < s->nconstructing; j++) s->constructing[j] = s->constructing[j + 1];
    s->nconstructing--;
    return;
  }
}

uint16_t* family_entered(size_t family) {
  ThreadSlot* s = current_slot();
  if (s == nullptr || family >= max_families) return nullptr;
  s->inside[family]++;
  return &s->inside[family];
}

ThreadSlot* claim_slot() {
  ThreadSlot* s = claim_any();
  if (s == nullptr) __atomic_fetch_add(&g_process.threads_untracked, 1, __ATOMIC_RELAXED);
  return s;
}

void release_claim(ThreadSlot* s) { set_slot_state(*s, slot_free); }

void thread_started(ThreadSlot* s) {
  int saved = errno;
  tls.tid = raw_gettid();
  read_kernel_name(s);
  make_live(s);
  pthread_setspecific(g_exit_key, s);
  errno = saved;
}

void thread_exiting(ThreadSlot* s) {
  if (s == nullptr || tls.slot != s) return;
  tls.slot = nullptr;
  tls.exited = true;
  remember_exit(s->tid);
  __atomic_fetch_sub(&g_process.live_threads, 1, __ATOMIC_RELAXED);
  set_slot_state(*s, slot_exited);
}

ThreadSlot* find_slot_by_handle(pthread_t handle) {
  uint32_t used = slots_used();
  for (uint32_t i = 0; i < used; i++)
    if (is_live_here(g_slots[i], g_process.generation) && pthread_equal(g_slots[i].handle, handle))
      return &g_slots[i];
  return nullptr;
}

// glibc recycles the vanished threads' descriptors for threads the child starts (the stack cache), so a
// handle can name a vanished thread and one of the child's: the child's is what the program means.
// A thread that ran here and ended keeps its slot (exited) with the handle: that one is meant, too.
const ThreadSlot* find_vanished_by_handle(pthread_t handle) {
  const ThreadSlot* vanished = nullptr;
  uint32_t used = slots_used();
  for (uint32_t i = 0; i < used; i++) {
    const ThreadSlot& s = g_slots[i];
    if (is_vanished(s)) {
      if (vanished == nullptr && pthread_equal(s.handle, handle)) vanished = &s;
      continue;
    }
    uint32_t st = slot_state(s);
    // A thread being started here has no handle in its slot yet: it could be the one meant.
    if (st == slot_claimed) return nullptr;
    if ((st == slot_live || st == slot_exited) && pthread_equal(s.handle, handle)) return nullptr;
  }
  return vanished;
}

void set_name(ThreadSlot* s, const char* name) { safe_strcpy(s->name, name, sizeof s->name); }

void note_mutex_init(const void* m, bool private_robust) {
  auto a = reinterpret_cast<uintptr_t>(m);
  size_t h = robust_hash(a);
  for (size_t n = 0; n < robust_set_size; n++) {
    uintptr_t& cell = g_private_robust[(h + n) % robust_set_size];
    uintptr_t v = __atomic_load_n(&cell, __ATOMIC_RELAXED);
    if (v == a) {
      if (!private_robust) __atomic_store_n(&cell, robust_tombstone, __ATOMIC_RELAXED);
      return;
    }
    if (v == 0) break;
  }
  if (!private_robust) return;
  for (size_t n = 0; n < robust_set_size; n++) {
    uintptr_t& cell = g_private_robust[(h + n) % robust_set_size];
    uintptr_t v = __atomic_load_n(&cell, __ATOMIC_RELAXED);
    if ((v == 0 || v == robust_tombstone) &&
        __atomic_compare_exchange_n(&cell, &v, a, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      return;
  }
}

bool is_private_robust(const void* m) {
  auto a = reinterpret_cast<uintptr_t>(m);
  size_t h = robust_hash(a);
  for (size_t n = 0; n < robust_set_size; n++) {
    uintptr_t v = __atomic_load_n(&g_private_robust[(h + n) % robust_set_size], __ATOMIC_RELAXED);
    if (v == a) return true;
    if (v == 0) return false;
  }
  return false;
}

void fork_prepare() {
  current_slot();
  g_process.prepare_unknown_threads = 0;
  // With another registered thread alive the fork is multithreaded anyway: skip the /proc walk.
  if (live_threads() <= 1)
    g_process.prepare_unknown_threads = count_unknown_threads();
  ThreadSlot* s = tls.slot;
  if (s != nullptr && !s->fork_pcs_set) {
    // daemon(), forkpty() and raw atfork users reach fork without our wrapper: capture here instead.
    s->nfork_pcs = static_cast<uint32_t>(capture_stack(s->fork_pcs, max_site_pcs));
  }
}

void fork_child() {
  ThreadState& t = tls;
  int parent_tid = t.tid;
  int parent_pid = g_process.pid;
  t.tid = raw_gettid();
  t.owner_seen_alive = 0;  // the owners it saw alive stayed in the parent
  g_process.pid = static_cast<int>(syscall(SYS_getpid));
  bool multithreaded = g_process.prepare_unknown_threads > 0;
  // Every other thread of the parent's generation vanished: live ones, and ones being started (the kernel may
  // already run them though they had not reached our trampoline, or their creator vanished mid-create). Read
  // only: the new generation marks them (is_vanished), so no page of theirs is copied.
  uint32_t parent_generation = g_process.generation;
  uint32_t used = slots_used();
  for (uint32_t i = 0; i < used && !multithreaded; i++) {
    const ThreadSlot* s = &g_slots[i];
    if (s == t.slot || s->generation != parent_generation) continue;
    uint32_t st = slot_state(*s);
    if (st == slot_live || st == slot_claimed) multithreaded = true;
  }
  g_process.generation = parent_generation + 1;
  if (ThreadSlot* s = t.slot) {
    if (s->nformer == max_former_tids) {
      for (size_t i = 1; i < max_former_tids; i++) s->former_tids[i - 1] = s->former_tids[i];
      s->nformer--;
    }
    s->former_tids[s->nformer++] = parent_tid;
    s->generation = g_process.generation;
    s->tid = t.tid;
    s->handle = pthread_self();
    s->fork_pcs_set = false;
  }
  g_process.live_threads = t.slot != nullptr ? 1 : 0;
  g_process.forked_child = true;
  g_process.vm_peers = 0;  // the parent's share the parent's memory, not this copy
  // The forker's held stack is as it was at the fork instant: our child handler runs before the program's
  // (which may unlock the atfork-protected locks). A restricted process forking again keeps what it knew: the
  // locks protected at the earlier forks and the ones it re-initialised are still not the vanished threads'.
  ChildLocks& c = g_child_locks;
  if (!g_process.restricted) {
    c.nprotected = 0;
    c.nreinitialised = 0;
    c.full = false;
    for (const void*& f : c.forker_memory) f = nullptr;
    c.sem_unsure = false;
  }
  c.npredicted = 0;  // each process reports its own predictions
  if (const ThreadSlot* s = t.slot) {
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
  // The fork context names the multithreaded fork whose threads vanished; a later single-threaded fork of a
  // restricted process keeps it (its vanished threads are still the ones that matter).
  if (multithreaded || !g_process.restricted) {
    g_process.fork_parent_pid = parent_pid;
    g_process.fork_forking_tid = parent_tid;
  }
  if (multithreaded) g_process.restricted = true;
  // The unwinder may take libgcc's object_mutex, which a vanished thread may hold: no stack is taken here.
  if (g_process.restricted && g_process.frames_registered) capture_forbid();
}

bool lock_words_known() { return glibc_facts::g_facts.lock_words; }

bool read_own_memory(void* dst, const void* src, size_t n, bool plain_read_if_refused) {
  int saved = errno;
  struct iovec local = {dst, n};
  struct iovec remote = {const_cast<void*>(src), n};
  long got = syscall(SYS_process_vm_readv, g_process.pid > 0 ? g_process.pid : syscall(SYS_getpid), &local, 1UL,
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
  long r = syscall(SYS_tgkill, g_process.pid, tid, 0);
  bool alive = r == 0 || errno != ESRCH;
  errno = saved;
  return alive;
}

bool mutex_private(const pthread_mutex_t* m) {
  if (!glibc_facts::g_facts.lock_words) return false;
  // Robust ones carry the shared bit whether or not they are shared, hence the private-robust set.
  return (glibc::mutex_kind(m) & glibc::mutex_kind_pshared_bit) == 0 || is_private_robust(m);
}

bool rwlock_private(const pthread_rwlock_t* rw) {
  return glibc_facts::g_facts.lock_words && !glibc::rwlock_shared(rw);
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

namespace {
bool nothing_left_to_wake(bool* interrupt_only);
}  // namespace

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

namespace {
// One thread left in this process (our registry and the kernel agree) and no handler that could end a wait
// but, at most, SIGINT's (*interrupt_only; shim/wait_rule.h): a private wait without a timeout can then never end.
// Only in a restricted process (README, "The rule"): the child of a single-threaded fork has no fork hazard,
// whatever it waits for. A clone(CLONE_VM) peer it made may wake any private word of it.
bool nothing_left_to_wake(bool* interrupt_only) {
  *interrupt_only = false;
  if (!g_process.restricted || __atomic_load_n(&g_process.vm_peers, __ATOMIC_RELAXED) != 0) return false;
  if (live_threads() > 1 || kernel_thread_count() != 1) return false;
  switch (what_may_end_wait(caught_signals())) {
    case WaitEnd::never: return true;
    case WaitEnd::interrupt: *interrupt_only = true; return true;
    case WaitEnd::handler: return false;
  }
  return false;
}
}  // namespace

bool semaphore_blocks_forever(const sem_t* sem, bool* interrupt_only) {
  *interrupt_only = false;
  if (!glibc_facts::g_facts.lock_words) return false;
  if (!glibc::sem_private(sem) || glibc::sem_value(sem) != 0) return false;
  return nothing_left_to_wake(interrupt_only);
}

namespace {
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

bool cond_wait_blocks_forever(const pthread_cond_t* cond, bool* interrupt_only) {
  *interrupt_only = false;
  if (!glibc_facts::g_facts.lock_words) return false;
  return !glibc::cond_shared(cond) && nothing_left_to_wake(interrupt_only);
}

namespace {

// The first vanished slot for which `match` holds.
template <class Match>
const ThreadSlot* first_vanished(Match match) {
  uint32_t used = slots_used();
  for (uint32_t i = 0; i < used; i++) {
    const ThreadSlot& s = g_slots[i];
    if (is_vanished(s) && match(s)) return &s;
  }
  return nullptr;
}

}  // namespace

const ThreadSlot* predict_hang(const void* lock, bool write, const RecentLock** used) {
  ChildLocks& c = g_child_locks;
  if (!may_predict(c, lock)) return nullptr;
  size_t k = recent_slot(lock);
  // The forker's entry for this lock held another lock at the fork: this one's may have been evicted from it,
  // and with it the knowledge that the forker held it across the fork (the pthread_atfork pattern). Not
  // predicted: a prediction lost, never a false one.
  if (c.forker_memory[k] != nullptr && c.forker_memory[k] != lock) return nullptr;
  const ThreadSlot* user = first_vanished([&](const ThreadSlot& s) {
    const RecentLock& r = s.recent[k];
    if (r.addr != lock || (!write && r.type == LockType::rwlock_read)) return false;
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
    if (e == nullptr || e->outstanding != 0) return false;
    *used = e;
    return true;
  });
  return user != nullptr && mark_predicted(c, sem) ? user : nullptr;
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

bool tid_known(int tid) {
  uint32_t used = slots_used();
  for (uint32_t i = 0; i < used; i++) {
    uint32_t st = slot_state(g_slots[i]);
    if ((st == slot_live || st == slot_exited || st == slot_claimed) && g_slots[i].tid == tid) return true;
  }
  return exited_recently(tid);
}

const char* relation_name(Relation r) {
  switch (r) {
    case Relation::vanished: return "vanished";
    case Relation::forker: return "forker";
    case Relation::unknown: return "unknown";
  }
  return "unknown";
}

const ThreadSlot* find_thread(int tid, Relation* relation) {
  if (const ThreadSlot* self = tls.slot) {
    for (uint32_t i = 0; i < self->nformer; i++) {
      if (self->former_tids[i] == tid) {
        *relation = Relation::forker;
        return self;
      }
    }
  }
  const ThreadSlot* other = nullptr;
  uint32_t used = slots_used();
  for (uint32_t i = 0; i < used; i++) {
    const ThreadSlot* s = &g_slots[i];
    if (s->tid != tid) continue;
    if (is_vanished(*s)) {
      *relation = Relation::vanished;
      return s;
    }
    other = s;
  }
  *relation = Relation::unknown;
  return other;
}


const ThreadSlot* vanished_inside_family(size_t family) {
  return first_vanished([family](const ThreadSlot& s) { return s.inside[family] > 0; });
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

SemTake* sem_entry_of(const ThreadSlot* s, const void* sem) {
  size_t k = sem_slot(sem);
  for (size_t i = 0; i < sem_probes; i++) {
    auto* e = const_cast<SemTake*>(&s->sem_takes[(k + i) % sem_memory]);
    if (e->sem == sem) return e;
  }
  return nullptr;
}

SemTake& sem_entry_for_take(ThreadSlot* s, const void* sem) {
  if (SemTake* e = sem_entry_of(s, sem)) return *e;
  size_t k = sem_slot(sem);
  SemTake* free_entry = nullptr;  // an unused entry, else one whose takes were all posted back
  for (size_t i = 0; i < sem_probes && (free_entry == nullptr || free_entry->sem != nullptr); i++) {
    SemTake& e = s->sem_takes[(k + i) % sem_memory];
    if (e.sem == nullptr || (e.outstanding == 0 && free_entry == nullptr)) free_entry = &e;
  }
  if (free_entry == nullptr) {  // all held: forget one hold, and say so
    s->sem_overflowed = true;
    free_entry = &s->sem_takes[k];
  }
  free_entry->outstanding = 0;
  free_entry->sem = sem;
  return *free_entry;
}

void sem_taken_probed(ThreadSlot* s, const void* sem, uintptr_t pc) { count_take(sem_entry_for_take(s, sem), pc); }

const SemTake* find_sem_take(const ThreadSlot* s, const void* sem) {
  const SemTake* e = sem_entry_of(s, sem);
  return e != nullptr && e->outstanding > 0 ? e : nullptr;
}

const HeldLock* find_held(const ThreadSlot* s, const void* addr, bool rwlock_read_only) {
  for (uint32_t i = s->nheld; i-- > 0;) {
    const HeldLock& h = s->held[i];
    if (h.addr == addr && (!rwlock_read_only || h.type == LockType::rwlock_read)) return &h;
  }
  return nullptr;
}

}  // namespace core
}  // namespace fh
