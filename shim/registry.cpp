// The thread registry and each thread's lifecycle, fork included (core.h); the robust-mutex set; the records a
// forked child reads. Judgements are in judge.cpp, predictions in predict.cpp, kernel queries in proc_self.cpp.
#include "shim/core.h"
#include "shim/python.h"

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "shim/core_internal.h"
#include "shim/glibc_facts.h"
#include "shim/glibc_locks.h"
#include "shim/remote.h"
#include "symbols/safe_io.h"
#include "shim/wait_rule.h"
#include "symbols/capture.h"

namespace fh::shim {

__thread ThreadState tls __attribute__((tls_model("initial-exec")));
ProcessState g_process;
ThreadSlot g_slots[max_threads];

namespace {
pthread_key_t g_exit_key;
}  // namespace

}  // namespace fh::shim

// Exported (exports.map.in) for the watchdog of `forkhazard run`, which reads it from outside (remote.h).
// Constant-initialised: it costs the process nothing.
extern "C" __attribute__((visibility("default"))) const fh::RemoteState forkhazard_remote_state = {
    fh::remote_magic,
    fh::remote_version,
    sizeof(fh::shim::ProcessState),
    sizeof(fh::shim::ThreadSlot),
    fh::shim::max_threads,
    &fh::shim::g_process,
    fh::shim::g_slots,
    fh::shim::python::g_text,
    &fh::shim::python::g_len,
    fh::shim::python::capture_size,
    &fh::shim::python::g_snapshot,
    sizeof(fh::shim::python::walk::Snapshot),
};

namespace fh::shim {


namespace core {

namespace {

bool g_core_started;

// Open-addressing set of process-private robust mutexes (rare: sized small, full means "treat as shared",
// which can only hide a report, never invent one).
constexpr size_t robust_set_size = 1024;
constexpr uintptr_t robust_tombstone = 1;
uintptr_t g_private_robust[robust_set_size];

size_t robust_hash(uintptr_t a) { return (a >> 4) * 0x9E3779B97F4A7C15ull >> 54; }

int raw_gettid() { return static_cast<int>(sys::call(SYS_gettid)); }

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
  s->families_used = 0;
  s->waiting_cond = nullptr;
  s->waiting_untimed = false;
  s->own_wait = nullptr;
  s->fork_wait = nullptr;
  s->fork_wait_tid = 0;
  s->fork_wait_lock = false;
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
    if (s->claimed_before) reset_slot(s);
    s->claimed_before = true;
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

}  // namespace

void init() {
  if (__atomic_exchange_n(&g_core_started, true, __ATOMIC_ACQ_REL)) return;
  glibc_facts::init(STDERR_FILENO);
  g_process.pid = static_cast<int>(sys::call(SYS_getpid));
  pthread_key_create(&g_exit_key, exit_key_destructor);
  // The main thread is registered when it first needs a slot (a lock, a thread, a fork): a program that does
  // none of these (a shell's /bin/true) touches no page of the registry.
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

void cond_waiting(const void* cond, bool untimed) {
  ThreadSlot* s = cond != nullptr ? current_slot() : tls.slot;
  if (s == nullptr) return;
  s->waiting_untimed = untimed;
  s->waiting_cond = cond;
}

uint32_t g_cond_signals[cond_signal_slots];

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
  s->families_used |= 1u << family;
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
  g_process.pid = static_cast<int>(sys::call(SYS_getpid));
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
  g_process.timer_armed = false;  // timers are not inherited across fork
  remember_forker(t.slot, parent_tid, multithreaded);
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
}  // namespace fh::shim
