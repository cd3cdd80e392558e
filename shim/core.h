// The shim's core, its API: the thread registry and lifecycle (registry.cpp), each thread's records of locks and
// semaphores (inline here: the hot paths), the judgements in a forked child (judge.cpp), the predictions
// (predict.cpp) and the kernel queries they rest on (proc_self.cpp). It knows nothing of dlsym or interposition
// (the wrappers tell it what happened), so tests link it directly. Everything here is allocation-free; the fork
// and child paths are async-signal-safe.
#pragma once

#include <pthread.h>
#include <semaphore.h>

#include <cstddef>
#include <cstdint>

namespace fh::shim {

enum class LockType : uint8_t { mutex, rwlock_read, rwlock_write, semaphore };
// The protocol's names (shim/protocol.h): "mutex", "rwlock-read", ...; inline, for the watchdog too.
constexpr const char* lock_type_name(LockType type) {
  switch (type) {
    case LockType::mutex: return "mutex";
    case LockType::rwlock_read: return "rwlock-read";
    case LockType::rwlock_write: return "rwlock-write";
    case LockType::semaphore: return "semaphore";
  }
  return "?";
}

// What an unlock releases: a mutex, or either hold of an rwlock (semaphores are not held locks: SemTake).
enum class LockFamily : uint8_t { mutex, rwlock };

inline constexpr size_t max_threads = 8192;
inline constexpr size_t max_held = 32;
inline constexpr size_t max_acq_pcs = 8;
inline constexpr size_t max_site_pcs = 32;
inline constexpr size_t max_former_tids = 8;
inline constexpr size_t thread_name_len = 16;
inline constexpr size_t max_families = 16;      // glibc lock families of hang-prone calls (unsafe.h)
inline constexpr size_t max_constructing = 4;   // nested function-local statics under construction
inline constexpr size_t sem_memory = 16;        // semaphores a thread remembers taking (sem_probes entries each)
inline constexpr size_t sem_probes = 4;         // entries a semaphore may occupy: sem_slot(sem) and the next 3
inline constexpr size_t recent_locks = 64;      // mutexes and rwlocks a thread remembers taking (direct-mapped)

struct HeldLock {
  const void* addr;
  LockType type;
  uint8_t npcs;
  uint16_t depth;  // recursive mutexes and repeated read holds; saturates
  uintptr_t pcs[max_acq_pcs];
};

enum SlotState : uint32_t {
  slot_free,      // never used
  slot_claimed,   // reserved by pthread_create, thread not yet running
  slot_live,      // a running thread
  slot_exited,    // thread ended; reusable; tid kept to recognise it while the kernel still lists it
};                // (a thread that did not survive a fork is told by its slot's generation: is_vanished)

// A semaphore this thread took (sem_wait and friends) and how many of those takes it has not posted back.
// Semaphores are often signals (a producer posts, a consumer waits), not locks: they stay out of the held
// stack, and this direct-mapped memory costs a few stores per take and never fills up. An eviction loses an
// explanation, never a verdict (the verdict reads the semaphore itself: core::semaphore_blocks_forever).
struct SemTake {
  const void* sem;
  uintptr_t pc;         // where it was last taken
  uint32_t outstanding; // takes minus this thread's posts; saturates
  uint32_t unused[3];   // 32 bytes: the entry is found by a shift
};

// A lock this thread took at some point (or was about to: lock_taken): the memory that predicts a fork hang
// that did not strike this run.
// Direct-mapped by address, one entry per lock (no search, no sharing): two locks that map to the same entry
// evict each other, which can only lose a prediction, never make a false one (in the forker's memory too: the
// locks it held across the fork are found there, so predict_hang skips a lock whose entry held another one).
struct RecentLock {
  const void* addr;
  uintptr_t pc;   // the caller of the lock call
  LockType type;  // how it was taken: a read hold cannot block a reader
};
inline size_t recent_slot(const void* addr) {
  auto a = reinterpret_cast<uintptr_t>(addr);
  return ((a >> 3) ^ (a >> 9)) % recent_locks;
}

// One thread. Only the thread itself writes its held-lock stack (no atomics needed on the hot path); a forked
// child reads the copies of the vanished threads' slots, which fork() froze at one instant.
struct ThreadSlot {
  uint32_t state;  // SlotState; read and written with __atomic builtins (see slot_state)
  uint32_t generation;  // the process generation (ProcessState::generation) that claimed it
  int tid;
  bool claimed_before;  // a slot never claimed is all zeros (static storage): nothing to reset, no page touched
  int former_tids[max_former_tids];  // this thread's tids in ancestor processes, oldest first
  uint32_t nformer;
  char name[thread_name_len];
  pthread_t handle;
  void* (*start)(void*);  // handed from pthread_create to the new thread
  void* arg;
  uint32_t ncreated;
  uintptr_t created[max_site_pcs];  // where pthread_create was called
  uint32_t nfork_pcs;
  bool fork_pcs_set;                // the fork wrapper captured fork_pcs already
  uintptr_t fork_pcs[max_site_pcs]; // where this thread last called fork()
  uint16_t inside[max_families];    // calls in flight per glibc lock family: explains a hang, never decides one
  uint32_t families_used;           // bit per glibc lock family this thread ever entered (families.def)
  const void* waiting_cond;         // the condition variable this thread is waiting on, if any
  bool waiting_untimed;             // that wait has no timeout (pthread_cond_wait)
  // A wait this thread is in that can never end but is not the fork's doing (its own new condvar or semaphore,
  // nothing a vanished thread touched): the shim let it block, and the watchdog leaves it alone too.
  const void* own_wait;
  // A wait this thread is in, in a restricted process with other threads, on an object a vanished thread used
  // (fork_wait_tid): the fork's doing, should every thread of the process be stuck (the watchdog judges that).
  // fork_wait_lock: the vanished thread took it and never gave it back (a semaphore used as a lock, CPython
  // 3.11's): a lock acquisition, which no signal handler can make succeed.
  const void* fork_wait;
  int fork_wait_tid;
  bool fork_wait_lock;
  uint32_t nconstructing;
  const void* constructing[max_constructing];  // guards of the statics this thread is constructing
  uint32_t nheld;
  uint32_t held_dropped;            // acquisitions not recorded because the stack was full
  SemTake sem_takes[sem_memory];
  bool sem_overflowed;              // a take found its sem_probes entries all held: a hold may be forgotten
  HeldLock held[max_held];
  RecentLock recent[recent_locks];
};

// Per-thread state: initial-exec TLS (no allocation on first touch: global-dynamic TLS made the malloc wrapper
// re-enter itself once a program dlopened TLS-using libraries), kept small.
struct ThreadState {
  ThreadSlot* slot;
  int tid;      // cached gettid(); refreshed in a forked child
  int guard;    // >0 while the shim itself is running: inner calls pass straight through
  int in_reported;  // >0 inside a catalogued call already reported: its inner calls are not reported again,
                    // but they are still judged and tracked (atexit handlers, library destructors)
  bool exited;  // past our thread-exit hook: track nothing more
  bool capturing_python;  // inside python::capture_at_fork: the dumper's writes to its fd go to the buffer
  int in_rwlock_call;     // >0 inside libc's rwlock lock or unlock (slow paths): a handler's nested call on the same
                          // lock may meet a state this thread left half-done
  int owner_seen_alive;  // in a forked child: the last lock owner tgkill found alive (a contended lock asks once)
};
extern __thread ThreadState tls __attribute__((tls_model("initial-exec")));

// Plain fields, atomics through __atomic builtins: a std::atomic member would give g_slots a dynamic
// initialiser that touches all of its pages at start-up (26 MB resident, and every fork copies their page
// tables: fork() cost 5x).
struct ProcessState {
  uint32_t slots_used;  // high-water mark of g_slots
  int live_threads;
  int pid;                           // cached getpid(), refreshed in a forked child
  uint32_t generation;               // one more in each forked child: slots of older generations vanished
  bool forked_child;                 // a fork() child (any): locks owned by dead threads are judged
  bool restricted;                   // child of a multithreaded fork, or its descendant, until exec
  bool passive;                      // secure mode (AT_SECURE): no options read, no report, no action
  bool raw_fork;                     // this process was made by syscall(SYS_fork) or clone() without CLONE_VM:
                                     // no atfork handler ran, glibc reset nothing (not its malloc, not stdio)
  int fork_parent_pid;               // the multithreaded fork whose threads vanished
  int fork_forking_tid;              // the forking thread's tid in that parent
  int prepare_unknown_threads;       // threads the kernel listed but we never saw, at the last fork prepare
  uint32_t threads_untracked;        // threads the full registry could not take (reported, never silent)
  uint32_t predictions_dropped;      // a restricted child's prediction sets overflowed: it stopped predicting
  // This process's own options, for the watchdog of `forkhazard run`, which acts on them (not on its own): a
  // program may give its child on_deadlock=continue; a passive (secure-mode) process is never ended.
  uint32_t on_deadlock;              // options.def's on_deadlock choice
  int exitcode;
  // clone(CLONE_VM) children that are not threads (no CLONE_THREAD, no CLONE_VFORK) this process made: they
  // share its memory and may wake any private futex of it, unseen by its thread count. Any: no wait is endless.
  uint32_t vm_peers;
  // Some object registered unwind tables with __register_frame_info and friends (JITs): libgcc before 13 then
  // takes its object_mutex (through pthread_mutex_lock) in every unwind, which a vanished thread may hold in a
  // forked child. Inherited across fork: a restricted child then reports the call site only, never unwinds.
  bool frames_registered;
  // A forked child armed a timer (alarm, setitimer, timer_create) since its fork: it has a timeout of its own
  // (timers are not inherited), and a handler of its may leave a wait by it (siglongjmp). A lock acquisition the
  // watchdog judges only because handlers cannot end it is then reported and left to that timeout.
  bool timer_armed;
};
extern ProcessState g_process;

inline uint32_t slot_state(const ThreadSlot& s) { return __atomic_load_n(&s.state, __ATOMIC_ACQUIRE); }
inline void set_slot_state(ThreadSlot& s, uint32_t v) { __atomic_store_n(&s.state, v, __ATOMIC_RELEASE); }
inline uint32_t slots_used() { return __atomic_load_n(&g_process.slots_used, __ATOMIC_ACQUIRE); }

// A thread that did not survive a fork into this process: a slot live or being started in an older
// generation. The forked child writes no slot but its own (writing one per vanished thread made every fork
// copy a page per thread: with 64 threads, +1.7 ms a fork on this VM); the generation decides instead.
// `generation` is the process's (the watchdog passes the one it read from outside).
inline bool is_vanished(const ThreadSlot& s, uint32_t generation) {
  uint32_t st = slot_state(s);
  return (st == slot_live || st == slot_claimed) && s.generation != generation;
}
inline bool is_vanished(const ThreadSlot& s) { return is_vanished(s, g_process.generation); }
// A thread of this process: live and of this generation.
inline bool is_live_here(const ThreadSlot& s, uint32_t generation) {
  return slot_state(s) == slot_live && s.generation == generation;
}
inline int live_threads() { return __atomic_load_n(&g_process.live_threads, __ATOMIC_RELAXED); }

namespace core {

// Starts the core once: main thread registered, exit key created. Idempotent.
void init();

inline int current_tid() { return tls.tid; }
// The calling thread's slot, registering it on first use; nullptr if the registry is full or the thread exited.
ThreadSlot* register_current_thread();
inline ThreadSlot* current_slot() {
  ThreadSlot* s = tls.slot;
  return __builtin_expect(s != nullptr, 1) ? s : register_current_thread();
}

// The registry's slots, for readers (the report writer, tests): slot i of [0, slots_used()).
const ThreadSlot& slot_at(uint32_t i);

// Thread lifecycle.
ThreadSlot* claim_slot();            // in pthread_create, before the thread exists
// pthread_create: the slot the new thread will take, with its start routine and where it was created.
ThreadSlot* thread_creating(void* (*start)(void*), void* arg, const uintptr_t* created, size_t ncreated);
void release_claim(ThreadSlot* s);   // pthread_create failed
void thread_started(ThreadSlot* s);  // first thing on the new thread
// First thing on the new thread, for the trampoline: registers it and hands back what pthread_create was given.
void thread_starting(ThreadSlot* s, void* (**start)(void*), void** arg);
void thread_exiting(ThreadSlot* s);  // thread-specific-data destructor
ThreadSlot* find_slot_by_handle(pthread_t handle);
const ThreadSlot* find_vanished_by_handle(pthread_t handle);  // a thread of the parent, in a forked child
void set_name(ThreadSlot* s, const char* name);

// What the calling thread is doing, for the explanation of a hang in a forked child.
void fork_called(const uintptr_t* pcs, size_t n);  // the fork wrapper captured its site (fork_prepare keeps it)
void fork_returned();
// nullptr when the wait ended; `untimed`: pthread_cond_wait (a parked thread, if nothing ever signals the cond).
void cond_waiting(const void* cond, bool untimed = false);

// Condition variables ever signalled (pthread_cond_signal or _broadcast) in this process or its parents: a
// counter per hash bucket, so a collision only makes a cond look signalled. A thread parked in an untimed wait
// on a cond that was never signalled can take no lock again before the program does what it never did (issue
// "No false warning" (a)): its past uses predict nothing.
inline constexpr size_t cond_signal_slots = 4096;
extern uint32_t g_cond_signals[cond_signal_slots];
inline size_t cond_signal_slot(const void* cond) {
  return static_cast<size_t>((reinterpret_cast<uintptr_t>(cond) >> 3) * 0x9e3779b97f4a7c15ull >> 52);
}
inline void cond_signalled(const void* cond) {
  uint32_t& n = g_cond_signals[cond_signal_slot(cond)];
  uint32_t now = __atomic_load_n(&n, __ATOMIC_RELAXED);
  if (now != UINT32_MAX) __atomic_store_n(&n, now + 1, __ATOMIC_RELAXED);  // saturates: never back to 0
}
inline bool cond_never_signalled(const void* cond) {
  return __atomic_load_n(&g_cond_signals[cond_signal_slot(cond)], __ATOMIC_RELAXED) == 0;
}
// A thread parked at the fork: in an untimed pthread_cond_wait on a cond never signalled.
inline bool parked(const ThreadSlot& s) {
  const void* cond = s.waiting_cond;
  return cond != nullptr && s.waiting_untimed && cond_never_signalled(cond);
}
void construction_started(const void* guard);      // __cxa_guard_acquire returned 1
void construction_ended(const void* guard);        // released or aborted
// A call of a glibc lock family in flight: returns the counter to decrement when it returns (nullptr: none).
uint16_t* family_entered(size_t family);

// Held-lock bookkeeping for the calling thread (inline: it is the hot path of the rwlock wrappers; mutexes are
// on this stack only with deeper acquisition stacks, lock_stack_depth > 1: see lock_taken).
// may_recurse: whether this thread may hold the lock already (a recursive mutex, a read hold); a normal,
// adaptive or errorcheck mutex cannot be taken twice by one thread (it deadlocks or fails with EDEADLK), so
// its push skips the search.
inline void lock_acquired(ThreadSlot* s, const void* addr, LockType type, const uintptr_t* pcs, size_t npcs,
                          bool may_recurse) {
  // The prediction's memory: three stores into this thread's own table.
  RecentLock& r = s->recent[recent_slot(addr)];
  r.addr = addr;
  r.pc = npcs > 0 ? pcs[0] : 0;
  r.type = type;
  uint32_t n = s->nheld;
  if (may_recurse) {
    for (uint32_t i = n; i-- > 0;) {
      HeldLock& h = s->held[i];
      if (h.addr == addr && h.type == type) {
        if (h.depth != UINT16_MAX) h.depth++;
        return;
      }
    }
  }
  if (n == max_held) {
    s->held_dropped++;
    return;
  }
  HeldLock& h = s->held[n];
  h.addr = addr;
  h.type = type;
  h.depth = 1;
  if (npcs > max_acq_pcs) npcs = max_acq_pcs;
  for (size_t i = 0; i < npcs; i++) h.pcs[i] = pcs[i];
  h.npcs = static_cast<uint8_t>(npcs);
  // The entry must be complete before it is counted: a fork may freeze this thread between the two stores.
  __atomic_signal_fence(__ATOMIC_RELEASE);
  s->nheld = n + 1;
}

inline void lock_acquired(const void* addr, LockType type, const uintptr_t* pcs, size_t npcs) {
  if (ThreadSlot* s = current_slot()) lock_acquired(s, addr, type, pcs, npcs, true);
}

// Mutexes and rwlocks, with the default lock_stack_depth=1, stay off the held stack: taking one is a compare
// with the thread's memory of recent locks (RecentLock), three stores where it changed, and releasing one costs
// nothing. Which of them a thread holds is read when a report needs it, from glibc's lock word (a mutex's
// __owner, for every kind: glibc writes it even where the kind does not need it; an rwlock's __cur_writer), in
// a forked child's frozen copy or from outside: for_each_held_by_word. An entry evicted by a later lock loses
// that explanation, never a verdict (verdicts read the word itself). Read holds have no identity in the word
// and need none (a writer in a child is judged by the rule of waits no one can end: rwlock_blocks_forever).
//
// The calls that return only with the lock and cannot be refused (pthread_mutex_lock on a normal or adaptive
// mutex, pthread_rwlock_rdlock and _wrlock but by the lock's writer) note it *before* libc's call, which is then
// a tail jump: no frame, no return address pushed in front of the lock's atomic (a store before a locked
// instruction must commit first; README, "Cost").
// The memory then says "took it, or is taking it": a thread blocked in the call at fork, or frozen between the
// note and the atomic. A lock is held only by its word, so such a thread is never named a mutex's or a write
// hold's holder; a prediction asks whether a vanished thread takes the lock at all, and a blocked one takes it
// as soon as it is free. A read hold's reader is named from this memory and is not proof (README, Limits): a
// reader caught between its note and glibc's count can be named, a few instructions' window. Calls that can
// be refused (errorcheck, recursive, robust, PI mutexes; an rwlock's own writer asking again) are noted after.
inline void lock_taken(ThreadSlot* s, const void* lock, uintptr_t pc, LockType type) {
  RecentLock& r = s->recent[recent_slot(lock)];
  // The same lock again from the same call: nothing to write. Loads cost the next atomic nothing, while a store
  // must commit before it (a locked instruction drains the store buffer): what lets the note go before the
  // lock at all.
  if (__builtin_expect(r.addr == lock && r.pc == pc && r.type == type, 1)) return;
  r.addr = lock;
  r.pc = pc;
  r.type = type;
}

// Calls fn(const HeldLock&) for every mutex and rwlock write hold in `s`'s memory of recent locks that thread
// `tid` holds now by its lock word, and that its held stack does not list already. read(addr, dst, n) copies n
// bytes of the process's memory at addr, false where unreadable (a lock freed since may be unmapped).
template <class Read, class Fn>
void for_each_held_by_word(const ThreadSlot& s, int tid, Read read, Fn fn) {
  for (const RecentLock& r : s.recent) {
    if (r.addr == nullptr || (r.type != LockType::mutex && r.type != LockType::rwlock_write)) continue;
    bool on_stack = false;
    for (uint32_t i = 0; i < s.nheld && i < max_held && !on_stack; i++)
      on_stack = s.held[i].addr == r.addr && s.held[i].type == r.type;
    if (on_stack) continue;
    uint16_t depth = 1;
    if (r.type == LockType::mutex) {
      pthread_mutex_t m;
      if (!read(r.addr, &m, sizeof m) || m.__data.__owner != tid) continue;
      if ((m.__data.__kind & 3) == PTHREAD_MUTEX_RECURSIVE_NP && m.__data.__count > 0)
        depth = static_cast<uint16_t>(m.__data.__count > 0xffff ? 0xffff : m.__data.__count);
    } else {
      pthread_rwlock_t rw;
      if (!read(r.addr, &rw, sizeof rw) || rw.__data.__cur_writer != tid) continue;
    }
    HeldLock h{};
    h.addr = r.addr;
    h.type = r.type;
    h.depth = depth;
    h.npcs = r.pc != 0 ? 1 : 0;
    h.pcs[0] = r.pc;
    fn(static_cast<const HeldLock&>(h));
  }
}

inline void lock_released(const void* addr, LockFamily family) {
  ThreadSlot* s = tls.slot;
  if (s == nullptr) return;
  uint32_t n = s->nheld;
  // Locks are released in the order opposite to taking them nearly always: the top entry, at depth 1.
  if (n > 0) {
    HeldLock& top = s->held[n - 1];
    bool same_family = family == LockFamily::mutex ? top.type == LockType::mutex : top.type != LockType::mutex;
    if (top.addr == addr && same_family && top.depth == 1) {
      s->nheld = n - 1;
      return;
    }
  }
  for (uint32_t i = n; i-- > 0;) {
    HeldLock& h = s->held[i];
    if (h.addr != addr) continue;
    bool match = false;
    switch (family) {
      case LockFamily::mutex: match = h.type == LockType::mutex; break;
      case LockFamily::rwlock: match = h.type == LockType::rwlock_read || h.type == LockType::rwlock_write; break;
    }
    if (!match) continue;
    if (--h.depth > 0) return;
    for (uint32_t j = i; j + 1 < n; j++) s->held[j] = s->held[j + 1];
    __atomic_signal_fence(__ATOMIC_RELEASE);
    s->nheld = n - 1;
    return;
  }
}

// Semaphores: a take and a post by the calling thread (see SemTake). A semaphore lives in its first entry
// (sem_slot) or one of the sem_probes - 1 after it: a take never evicts a semaphore this thread holds (takes
// outstanding), so a hold is never forgotten without sem_overflowed saying so (the child's predictions rest on
// the forker's holds: core::predict_sem_hang). The hot path is the first entry; the others are out of line.
inline size_t sem_slot(const void* sem) { return (reinterpret_cast<uintptr_t>(sem) >> 5) % sem_memory; }
SemTake& sem_entry_for_take(ThreadSlot* s, const void* sem);        // the entry to count a take of sem in
void sem_taken_probed(ThreadSlot* s, const void* sem, uintptr_t pc);  // sem_taken off its first entry
SemTake* sem_entry_of(const ThreadSlot* s, const void* sem);        // sem's entry, nullptr if none
// Each side changes the count: one store each, which the next post or wait's atomic waits for. The call site is
// written only where it changed.
inline void count_take(SemTake& e, uintptr_t pc) {
  if (e.pc != pc) e.pc = pc;
  if (e.outstanding != UINT32_MAX) e.outstanding++;
}
inline void sem_taken(ThreadSlot* s, const void* sem, uintptr_t pc) {
  SemTake& e = s->sem_takes[sem_slot(sem)];
  if (__builtin_expect(e.sem != sem, 0)) return sem_taken_probed(s, sem, pc);  // a tail call: nothing to keep
  count_take(e, pc);
}
inline void count_post(SemTake& e) {
  if (e.outstanding > 0 && e.outstanding != UINT32_MAX) e.outstanding--;
}
inline void sem_posted(const void* sem) {
  ThreadSlot* s = tls.slot;
  if (s == nullptr) return;
  SemTake* e = &s->sem_takes[sem_slot(sem)];
  if (__builtin_expect(e->sem != sem, 0) && (e = sem_entry_of(s, sem)) == nullptr) return;
  count_post(*e);
}
const SemTake* find_sem_take(const ThreadSlot* s, const void* sem);  // nullptr unless taken and not posted back
// sem_init / sem_destroy: every thread's memory of a semaphore at this address is cleared (forget_lock_uses).
void forget_sem_takes(const void* sem);

// Prediction, valid in a restricted process. A mutex or rwlock the child takes while it is free, that a
// vanished thread took during the parent's life (for writing, or any way when the child writes), was not held
// by the forking thread across the fork (pthread_atfork protection), not re-initialised since, and not
// predicted before in this process: had the fork come while that thread held it, this call would never
// return. Returns the vanished thread and its memory of the lock, else nullptr. Marks the lock predicted.
const ThreadSlot* predict_hang(const void* lock, bool write, const RecentLock** used);
// The same for a semaphore the child takes with sem_wait at value 1: a vanished thread took it and posted it back
// (a lock-like use: CPython's threading.Lock), not the forker across the fork, not re-initialised since: had the
// fork come between that thread's take and its post, the value would be 0 and this wait would never return.
const ThreadSlot* predict_sem_hang(const sem_t* sem, const SemTake** used);
// pthread_mutex_init / pthread_rwlock_init in a restricted process: a fresh lock, whatever it was before.
void lock_reinitialised(const void* lock);
// pthread_*_init and _destroy, in any process: the lock at this address is a new one (memory freed and handed
// out again puts a new lock where an old one was). Every thread's memory of taking the old one is cleared, so
// no prediction rests on another lock's past. One entry per thread (recent_slot), no search.
void forget_lock_uses(const void* lock);

// Process-private robust mutexes: glibc sets the process-shared bit on every robust mutex, so the lock word
// cannot tell them from process-shared ones; we remember them at init.
void note_mutex_init(const void* m, bool private_robust);
bool is_private_robust(const void* m);

// fork(): prepare runs in the parent just before, child first thing in the child (atfork handlers).
void fork_prepare();
void fork_child();

// A clone request that makes a fork-like child (its own copy of memory, returning on the caller's stack):
// fork; clone without CLONE_VM and without a new stack; clone3 the same. vfork-like and thread-like requests
// (CLONE_VM) are not (a vfork child borrows our memory and must not be written to).
bool is_fork_like_syscall(long number, long arg1, long arg2);

// Copies n bytes of this process's memory at src, false (nothing read) where src is not readable: a pointer the
// program passed that the kernel would refuse with EFAULT must not crash the shim. Where process_vm_readv is
// refused (a seccomp sandbox), `plain_read_if_refused` decides: copy anyway (the pointer is one the program
// handed to the kernel) or answer false.
bool read_own_memory(void* dst, const void* src, size_t n, bool plain_read_if_refused = false);

// for_each_held_by_word over this process's memory (a forked child's frozen copy of its parent's threads), with
// the lock words read safely; nothing on a glibc whose lock-word layout is not known.
template <class Fn>
void for_each_held_by_word_here(const ThreadSlot& s, int tid, Fn fn);
bool lock_words_known();

// Judgements, valid in a forked child: would this lock call block forever? On true, *owner is the tid that
// holds it (parent-side) and *held_as how.
bool mutex_blocks_forever(const pthread_mutex_t* m, int* owner);
// Process-private, as far as the lock word tells (false on a glibc whose layout is not known).
bool mutex_private(const pthread_mutex_t* m);
bool rwlock_private(const pthread_rwlock_t* rw);
bool cond_private(const pthread_cond_t* c);
// *interrupt_only (here and below): the wait is endless unless a SIGINT handler ends it (shim/wait_rule.h):
// reported, never acted on.
bool rwlock_blocks_forever(const pthread_rwlock_t* rw, bool write, int* owner, LockType* held_as,
                           bool* interrupt_only);
// An untimed wait on a private semaphore at 0 in a process with one thread and no handler that could post it
// (shim/wait_rule.h): nothing left can ever post it. Reads the semaphore, the kernel's thread count and the
// signal dispositions.
bool semaphore_blocks_forever(const sem_t* sem, bool* interrupt_only);
// The semaphore is a lock a vanished thread holds: at 0, taken by a vanished thread that had not posted it back
// (CPython 3.11's threading.Lock), in a restricted process left with one thread and no clone(CLONE_VM) peer. Its
// wait is a lock acquisition: certain whatever the handlers (a handler can interrupt it, never post the holder's
// release). Returns that vanished holder, else nullptr.
const ThreadSlot* semaphore_held_forever(const sem_t* sem);
// A timer this process armed (timers are not inherited across fork, so after a fork: armed since): an ITIMER_REAL
// with time left, or a POSIX timer (/proc/self/timers). Its own timeout: a deadlock is reported, not ended.
bool own_timer_armed();
// Whether the fork did it: a vanished thread used the object of a wait (its memory of locks and semaphores, its
// held stack, the condvar it waited on). nullptr: nothing of the vanished threads is involved; the wait is the
// process's own (a certain wait then is a note, never an error: README, "The rule").
const ThreadSlot* vanished_used_semaphore(const void* sem);
const ThreadSlot* vanished_used_lock(const void* lock);
// True the first time a warning on `lock` is to be made in this process (the predictions' once-per-lock set);
// false after, or when the set is full.
bool warn_once(const void* lock);
// A vanished thread that ever entered a call of the glibc lock family (ThreadSlot::families_used).
const ThreadSlot* vanished_used_family(size_t family);
// pthread_cond_destroy waits until glibc's count of waiter references (__wrefs) is 0. It never returns when the
// count is more than the waits this process's own threads can be in (noted by cond_waiting): those references
// are the vanished threads'. Private condvars only, on a glibc whose layout is known.
bool cond_destroy_blocks_forever(const pthread_cond_t* cond);
// A wait the shim let block that is certain but the process's own (ThreadSlot::own_wait); nullptr ends it.
void own_wait(const void* object);
// A wait the shim let block, in a restricted process with other threads, on an object vanished thread `by` used
// (ThreadSlot::fork_wait; `lock`: it took it and never gave it back); nullptr ends it.
void fork_wait(const void* object, const ThreadSlot* by, bool lock);
// In a restricted process with other threads (so not judged in the process): the vanished thread whose doing a
// wait on the private semaphore, at 0, would be: one that took it and had not posted it back (*lock), else one
// that used it; nullptr when none.
const ThreadSlot* semaphore_fork_wait(const sem_t* sem, bool* lock);
// Whose doing a wait on a semaphore would be: a vanished thread that took it and had not posted it back (*took),
// else one that used it; nullptr when none.
const ThreadSlot* vanished_semaphore_user(const void* sem, bool* took);
// Whose doing a wait on a condvar would be: a vanished thread that waited on it too (the inherited pool), else
// one that used the mutex the condition is about (Perl's threads::shared locks: a mutex and a condvar).
const ThreadSlot* vanished_cond_user(const void* cond, const void* mutex);
// An untimed pthread_cond_wait on a private condvar in a process with one thread and no handler that could end
// it: nothing left can ever signal it (pthread_cond_signal is not async-signal-safe either). Typical: the child
// hands work to the thread pool it inherited and waits for the answer.
bool cond_wait_blocks_forever(const pthread_cond_t* cond, bool* interrupt_only);

// The kernel's thread count of this process (/proc/self/stat), -1 when unreadable.
int kernel_thread_count();
// Signals this process catches, as a SigCgt mask (bit sig-1).
uint64_t caught_signals();

// Explaining: the slot of a (parent-side) tid in this process's memory, and how it relates to the caller.
enum class Relation : uint8_t { vanished, forker, unknown };
const char* relation_name(Relation r);
const ThreadSlot* find_thread(int tid, Relation* relation);
const HeldLock* find_held(const ThreadSlot* s, const void* addr, bool rwlock_read_only);

// Is a thread with this tid alive in this process? (tgkill with signal 0; errno preserved)
bool tid_alive(int tid);

// Did the registry ever see this tid (live, starting, or exited recently, even if its slot was reused)?
// The fork prepare step counts the tids the kernel lists that it does not know as raw-clone threads.
bool tid_known(int tid);

// What the vanished threads were doing at fork (valid in a forked child): the first one that was inside a
// glibc lock family, waiting on `cond`, constructing the static guarded by `guard`, or holding semaphore
// `sem`; nullptr if none.
const ThreadSlot* vanished_inside_family(size_t family);
const ThreadSlot* vanished_waiting_on(const void* cond);
const ThreadSlot* vanished_constructing(const void* guard);
const ThreadSlot* vanished_took_for_reading(const void* rw);  // its memory, or its held stack, says so
const ThreadSlot* vanished_took_semaphore(const void* sem);

template <class Fn>
void for_each_held_by_word_here(const ThreadSlot& s, int tid, Fn fn) {
  if (!lock_words_known()) return;
  for_each_held_by_word(s, tid, [](const void* a, void* d, size_t n) { return read_own_memory(d, a, n); }, fn);
}

}  // namespace core
}  // namespace fh::shim
