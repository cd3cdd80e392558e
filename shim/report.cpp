// Raw report writer (see report.h and shim/protocol.h).
#include "shim/report.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shim/options.h"
#include "shim/protocol.h"
#include "shim/python.h"
#include "symbols/safe_io.h"
#include "shim/unsafe.h"
#include "symbols/capture.h"
#include "symbols/modules.h"

namespace fh::shim {

namespace {

int g_log_fd = -1;
int g_log_pid = 0;

}  // namespace

namespace {
// Out of line: report_fd's own frame stays small (it runs on the short report's stack budget).
__attribute__((noinline, cold)) int report_fd_failed(int error) {
  StackWriter(STDERR_FILENO).str("forkhazard: cannot create report file under log_path=").str(g_options.log_path)
      .str(" (errno ").dec(error).str("); reporting on stderr\n");
  return STDERR_FILENO;
}
}  // namespace

// Opens <log_path>.<pid> once per process: O_EXCL|O_NOFOLLOW so a planted file or link is never written through.
int report_fd() {
  if (g_options.log_path[0] == '\0') return STDERR_FILENO;
  if (g_log_fd >= 0 && g_log_pid == g_process.pid) return g_log_fd;
  char path[sizeof g_options.log_path + 40];
  for (int attempt = 0; attempt < 100; attempt++) {
    size_t n = 0;
    for (const char* p = g_options.log_path; *p != '\0' && n + 1 < sizeof path; p++) path[n++] = *p;
    char digits[24];
    size_t d = 0;
    auto append_number = [&](long v) {
      d = 0;
      do digits[d++] = static_cast<char>('0' + v % 10), v /= 10;
      while (v != 0);
      while (d > 0 && n + 1 < sizeof path) path[n++] = digits[--d];
    };
    path[n++] = '.';
    append_number(g_process.pid);
    if (attempt > 0) {
      path[n++] = '.';
      append_number(attempt);
    }
    path[n] = '\0';
    int fd = sys::open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_APPEND, 0600);
    if (fd >= 0) {
      g_log_fd = fd;
      g_log_pid = g_process.pid;
      sys::write(fd, protocol::magic_line, safe_strlen(protocol::magic_line));  // no second buffer on the stack
      return fd;
    }
    if (errno != EEXIST) break;
  }
  return report_fd_failed(errno);
}

namespace {

// The modules, kept short for the comment lines people read on stderr.
struct ModuleBrief {
  uintptr_t lo, hi, bias;
  char name[48];
};
struct ModuleTable {
  ModuleBrief entries[64];
  size_t count;
};

void collect_module(const ModuleEntry& m, void* ctx) {
  auto* t = static_cast<ModuleTable*>(ctx);
  if (t->count == sizeof t->entries / sizeof t->entries[0]) return;
  ModuleBrief& b = t->entries[t->count++];
  b.lo = m.lo;
  b.hi = m.hi;
  b.bias = m.bias;
  const char* base = m.path;
  for (const char* p = m.path; *p != '\0'; p++)
    if (*p == '/') base = p + 1;
  safe_strcpy(b.name, base, sizeof b.name);
}

void write_module(const ModuleEntry& m, void* ctx) {
  SafeWriter& w = *static_cast<SafeWriter*>(ctx);
  using namespace protocol;
  w.rec(rec::module).key(key::module_lo).hex(m.lo).key(key::module_hi).hex(m.hi).key(key::module_bias).hex(m.bias)
      .key(key::module_build_id);
  if (m.build_id_len == 0) w.chr('-');
  for (size_t i = 0; i < m.build_id_len; i++) w.chr("0123456789abcdef"[m.build_id[i] >> 4]).chr("0123456789abcdef"[m.build_id[i] & 15]);
  w.key(protocol::key::module_path).escaped(m.path).chr('\n');
}

void comment_frames(SafeWriter& w, const char* title, const uintptr_t* pcs, size_t n, const ModuleTable& mods) {
  w.str("#   ").str(title).chr('\n');
  for (size_t i = 0; i < n; i++) {
    w.str("#     #").udec(i).chr(' ').hex(pcs[i]);
    for (size_t k = 0; k < mods.count; k++) {
      if (pcs[i] >= mods.entries[k].lo && pcs[i] < mods.entries[k].hi) {
        w.str(" (").str(mods.entries[k].name).chr('+').hex(pcs[i] - mods.entries[k].bias).chr(')');
        break;
      }
    }
    w.chr('\n');
  }
}

void write_held(SafeWriter& w, const HeldLock& h) {
  using namespace protocol;
  w.rec(rec::held).key(key::held_addr).hex(reinterpret_cast<uintptr_t>(h.addr)).key(key::held_type)
      .str(lock_type_name(h.type)).key(key::held_depth).udec(h.depth).key(key::held_pcs).pcs(h.pcs, h.npcs).chr('\n');
}

// A thread and what it held at the fork: its held stack (rwlocks; mutexes with deeper acquisition stacks) and
// the mutexes its memory of recent locks names whose lock words say it holds them.
void write_thread(SafeWriter& w, const ThreadSlot& s, int tid, core::Relation relation) {
  using namespace protocol;
  w.rec(rec::thread).key(key::thread_tid).dec(tid).key(key::thread_name).escaped(s.name, sizeof s.name)
      .key(key::thread_relation).str(core::relation_name(relation)).key(key::thread_created).pcs(s.created, s.ncreated)
      .chr('\n');
  for (uint32_t i = 0; i < s.nheld && i < max_held; i++) write_held(w, s.held[i]);
  core::for_each_held_by_word_here(s, tid, [&w](const HeldLock& h) { write_held(w, h); });
  size_t len = 0;
  const char* text = python::captured(&len);
  python::for_each_frame(text, len, static_cast<unsigned long>(s.handle),
                         [&w](const char* file, size_t file_len, long line, const char* func, size_t func_len) {
                           w.rec(rec::pyframe).key(key::pyframe_file).escaped(file, file_len)
                               .key(key::pyframe_line).dec(line).key(key::pyframe_function).escaped(func, func_len)
                               .chr('\n');
                         });
}

// The reporting thread's own Python stack (a CPython thread), as `pyframe` lines after the hazard's stack: for a
// lock call or a hang-prone call, made from C that Python code called (its frame chain is linked and still). Not
// for the allocator and stdio (called from anywhere inside the interpreter, mid-frame too).
void write_python_stack(SafeWriter& w, const Hazard& h) {
  bool lockish = h.kind == protocol::kind_deadlock || h.kind == protocol::kind_possible_deadlock;
  if (!lockish && (h.unsafe_class == nullptr || strcmp(h.unsafe_class, protocol::class_hang_prone) != 0)) return;
  size_t len = 0;
  const char* text = python::capture_current(&len);
  using namespace protocol;
  python::for_each_frame(text, len, 0,
                         [&w](const char* file, size_t file_len, long line, const char* func, size_t func_len) {
                           w.rec(rec::pyframe).key(key::pyframe_file).escaped(file, file_len)
                               .key(key::pyframe_line).dec(line).key(key::pyframe_function).escaped(func, func_len)
                               .chr('\n');
                         });
}

// What the fixed-size records could not hold, so a missing explanation is never silent: acquisitions the
// full held stacks dropped, threads the full registry could not take, call sites the full table re-reported.
void write_overflow(SafeWriter& w) {
  uint64_t held_dropped = 0;
  uint32_t used = slots_used();
  for (uint32_t i = 0; i < used; i++) held_dropped += core::slot_at(i).held_dropped;
  uint32_t threads = __atomic_load_n(&g_process.threads_untracked, __ATOMIC_RELAXED);
  uint32_t sites = call_sites_full();
  if (held_dropped == 0 && threads == 0 && sites == 0) return;
  w.str("# not recorded: ").udec(held_dropped).str(" lock acquisitions (held stacks full), ").udec(threads)
      .str(" threads (registry full), ").udec(sites).str(" call sites (table full)\n");
  using namespace protocol;
  w.rec(rec::overflow).key(key::overflow_held).udec(held_dropped).key(key::overflow_threads).udec(threads)
      .key(key::overflow_sites).udec(sites).chr('\n');
}

void describe(SafeWriter& w, const Hazard& h, const ThreadSlot* owner, core::Relation relation) {
  size_t call_len;
  const char* call = call_shown_name(h.call, &call_len);
  w.str("# forkhazard: ").str(h.kind).str(" in process ").dec(g_process.pid).str(": ").str(call, call_len).str("()");
  if (h.unsafe_class != nullptr) {
    w.str(" is not async-signal-safe (").str(h.why).str("); class ").str(h.unsafe_class).chr('\n');
    if (owner != nullptr && h.inside_family != nullptr)
      w.str("#   thread ").dec(h.owner_tid).str(" \"").escaped(owner->name, sizeof owner->name)
          .str("\" was inside a call that takes glibc's ").str(h.inside_family)
          .str(" lock when it vanished at fork(): if it held that lock, this call never returns\n");
    return;
  }
  if (h.kind == protocol::kind_possible_deadlock && h.never_succeeds) {
    w.str(" can never succeed on ").str(h.lock_type != nullptr ? h.lock_type : "?").chr(' ')
        .hex(reinterpret_cast<uintptr_t>(h.lock)).str(": its holder, thread ").dec(h.owner_tid)
        .str(", vanished at fork(); each call times out, and a program that retries it waits forever\n");
    return;
  }
  if (h.kind == protocol::kind_possible_deadlock && owner != nullptr) {
    w.str(" takes ").str(h.lock_type != nullptr ? h.lock_type : "?").chr(' ').hex(reinterpret_cast<uintptr_t>(h.lock))
        .str(", free now, which thread ").dec(h.owner_tid).str(" \"").escaped(owner->name, sizeof owner->name)
        .str("\" (vanished at fork()) used: had the fork come while it held it, ")
        .str(strcmp(h.call, "sem_trywait") == 0 ? "this call would fail (EAGAIN) and a wait after it never return\n"
                                                : "this call would never return\n");
    return;
  }
  if (h.interrupt_only)
    w.str(" would block forever unless a SIGINT handler ends the wait (the only handler: the process goes on) on ")
        .str(h.lock_type != nullptr ? h.lock_type : "?");
  else
    w.str(" would block forever on ").str(h.lock_type != nullptr ? h.lock_type : "?");
  if (h.lock != nullptr) w.chr(' ').hex(reinterpret_cast<uintptr_t>(h.lock));
  if (h.tracked && h.held_as == LockType::rwlock_read) {
    // Readers have no identity in the lock word: the verdict is that none is left to release a read hold.
    w.str(": it is held for reading and nothing left in this single-threaded process can release a read hold");
    if (owner != nullptr && h.owner_tid != 0 && relation == core::Relation::vanished)
      w.str(" (thread ").dec(h.owner_tid).str(" \"").escaped(owner->name, sizeof owner->name)
          .str("\", which vanished at fork(), took it for reading)");
    w.chr('\n');
    return;
  }
  if (h.owner_tid == 0) {
    w.chr('\n');
    return;
  }
  w.str(": held by ");
  switch (relation) {
    case core::Relation::vanished:
      w.str("thread ").dec(h.owner_tid).str(" \"").escaped(owner->name, sizeof owner->name)
          .str("\", which vanished at fork()");
      break;
    case core::Relation::forker:
      w.str("this thread before fork() (its tid in the parent was ").dec(h.owner_tid).chr(')');
      break;
    case core::Relation::unknown:
      w.str("thread ").dec(h.owner_tid).str(", which does not exist in this process");
      break;
  }
  w.chr('\n');
}

}  // namespace

namespace {

// The full report needs about 16 KiB of stack (the unwinder, /proc/self/maps lines, the module table, the
// writer's buffer). A handler running on a small alternate signal stack (sigaltstack: runtimes use 8 KiB)
// gets the short report instead: the hazard and its call site, no stacks and no module map. Bounded: the
// writer's buffer and a few frames.
constexpr size_t full_report_stack = 24 * 1024;
// The short report's own need (measured: about 1.3 KiB below report_hazard, the 256-byte buffer included), with
// room to spare. Below it nothing is written now: the hazard waits in g_deferred.
constexpr size_t short_report_stack = 2 * 1024;

// Bytes of alternate signal stack left below this frame; SIZE_MAX when not running on one.
size_t signal_stack_left() {
  stack_t ss;
  if (sigaltstack(nullptr, &ss) != 0 || (ss.ss_flags & SS_ONSTACK) == 0) return SIZE_MAX;
  auto sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  auto base = reinterpret_cast<uintptr_t>(ss.ss_sp);
  return sp < base ? 0 : sp - base;
}

// Hazards met with too little stack to write them (see report_hazard). A slot: 0 free, 1 being written or read,
// 2 holding a hazard. Every string a Hazard points to is static (the catalogue, protocol names).
struct DeferredSlot {
  int state;
  Hazard hazard;
};
constinit DeferredSlot g_deferred[4];  // constant-initialised: no code, no page touched at load
uint32_t g_deferred_lost;  // more than the slots could keep

bool defer(const Hazard& h) {
  for (DeferredSlot& d : g_deferred) {
    int expected = 0;
    if (__atomic_compare_exchange_n(&d.state, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
      d.hazard = h;
      __atomic_store_n(&d.state, 2, __ATOMIC_RELEASE);
      return true;
    }
  }
  __atomic_fetch_add(&g_deferred_lost, 1, __ATOMIC_RELAXED);
  return false;
}

// The lines that say what the hazard is, common to the full and the short report.
void write_hazard_lines(SafeWriter& w, const Hazard& h, const ThreadSlot* owner, core::Relation relation,
                        const uintptr_t* acquired, size_t nacquired) {
  size_t call_len;
  const char* call = call_shown_name(h.call, &call_len);
  using namespace protocol;
  w.rec(rec::hazard).key(key::hazard_kind).str(h.kind).key(key::hazard_call).str(call, call_len);
  if (h.unsafe_class != nullptr)
    w.key(key::hazard_class).str(h.unsafe_class).key(key::hazard_site).hex(h.site).key(key::hazard_why).escaped(h.why);
  if (h.interrupt_only) w.key(key::hazard_interrupt_only).chr('1');
  if (h.never_succeeds) w.key(key::hazard_never_succeeds).chr('1');
  w.chr('\n');
  if (h.lock_type != nullptr) {
    w.rec(rec::lock);
    if (h.lock != nullptr) w.key(key::lock_addr).hex(reinterpret_cast<uintptr_t>(h.lock));
    w.key(key::lock_type).str(h.lock_type).chr('\n');
  }
  if (h.owner_tid != 0) {
    w.rec(rec::owner).key(key::owner_tid).dec(h.owner_tid).key(key::owner_name)
        .escaped(owner != nullptr ? owner->name : "", thread_name_len)
        .key(key::owner_relation).str(core::relation_name(relation)).chr('\n');
  }
  if (nacquired > 0) w.rec(rec::acquired).key(key::acquired_pcs).pcs(acquired, nacquired).chr('\n');
}

void write_fork_line(SafeWriter& w, const ThreadSlot* self) {
  using namespace protocol;
  w.rec(rec::fork).key(key::fork_parent_pid).dec(g_process.fork_parent_pid).key(key::fork_forking_tid)
      .dec(g_process.fork_forking_tid).key(key::fork_pcs);
  if (self != nullptr) w.pcs(self->fork_pcs, self->nfork_pcs);
  else w.chr('-');
  if (g_process.raw_fork) w.key(key::fork_raw).chr('1');
  w.chr('\n');
}

}  // namespace

namespace {

// The two report writers, out of line: a frame big enough for the full report must not be set up (by the
// caller's prologue) on a stack that only has room for the short one.
struct ReportParts {
  const Hazard& h;
  const ThreadSlot* owner;
  core::Relation relation;
  const uintptr_t* acquired;
  size_t nacquired;
  const ThreadSlot* self;
};

__attribute__((noinline)) void write_short_report(const ReportParts& r, bool deferred) {
  const Hazard& h = r.h;
  BufferedWriter<256> w(report_fd());
  if (g_options.log_path[0] == '\0') w.str(protocol::magic_line);
  w.rec(protocol::rec::report).key(protocol::key::report_pid).dec(g_process.pid).key(protocol::key::report_ppid)
      .dec(static_cast<long>(sys::call(SYS_getppid))).chr('\n');
  describe(w, h, r.owner, r.relation);
  if (deferred)
    w.str("#   (met in a signal handler on an alternate stack too small to write it then: the short report, "
          "without stacks, written later)\n");
  else
    w.str("#   (on a small signal stack: the short report, without stacks)\n");
  write_hazard_lines(w, h, r.owner, r.relation, r.acquired, r.nacquired);
  w.rec(protocol::rec::stack).key(protocol::key::stack_pcs);
  if (h.site != 0) w.hex(h.site);
  else w.chr('-');
  w.chr('\n');
  write_fork_line(w, r.self);
  // Written later from a roomier stack (exit, exec, the next report): the module map, so the site is symbolized.
  if (deferred && signal_stack_left() >= full_report_stack) for_each_module(write_module, &w);
  w.rec(protocol::rec::end).chr('\n');
}

__attribute__((noinline)) void write_full_report(const ReportParts& r) {
  const Hazard& h = r.h;
  const ThreadSlot* self = r.self;
  uintptr_t stack[max_site_pcs * 2];
  size_t nstack = capture_stack(stack, static_cast<size_t>(g_options.stack_depth));
  if (nstack == 0 && h.site != 0) stack[nstack++] = h.site;  // no unwinding here (capture_forbid): the call site
  ModuleTable mods;
  mods.count = 0;
  for_each_module(collect_module, &mods);
  StackWriter w(report_fd());
  if (g_options.log_path[0] == '\0') w.str(protocol::magic_line);
  w.rec(protocol::rec::report).key(protocol::key::report_pid).dec(g_process.pid).key(protocol::key::report_ppid)
      .dec(static_cast<long>(sys::call(SYS_getppid))).chr('\n');
  describe(w, h, r.owner, r.relation);
  comment_frames(w, "the call:", stack, nstack, mods);
  if (r.nacquired > 0) comment_frames(w, "where the owner took it:", r.acquired, r.nacquired, mods);
  w.str("#   symbolized: forkhazard report <this file>, or run the program under `forkhazard run --`\n");
  write_hazard_lines(w, h, r.owner, r.relation, r.acquired, r.nacquired);
  w.rec(protocol::rec::stack).key(protocol::key::stack_pcs).pcs(stack, nstack).chr('\n');
  write_python_stack(w, h);
  write_fork_line(w, self);
  uint32_t used = slots_used();
  for (uint32_t i = 0; i < used; i++) {
    const ThreadSlot& s = core::slot_at(i);
    if (is_vanished(s)) write_thread(w, s, s.tid, core::Relation::vanished);
  }
  if (self != nullptr && self->nformer > 0)
    write_thread(w, *self, self->former_tids[self->nformer - 1], core::Relation::forker);
  write_overflow(w);
  for_each_module(write_module, &w);
  w.rec(protocol::rec::end).chr('\n');
}

}  // namespace

namespace {
bool write_report(const Hazard& h, bool deferred);
}  // namespace

bool report_hazard(const Hazard& h) {
  if (g_process.passive) return true;
  size_t left = signal_stack_left();
  if (left < short_report_stack) {
    defer(h);
    return false;
  }
  flush_deferred();
  return write_report(h, false);
}

void flush_deferred() {
  if (g_process.passive) return;
  for (DeferredSlot& d : g_deferred) {
    int expected = 2;
    if (!__atomic_compare_exchange_n(&d.state, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) continue;
    Hazard h = d.hazard;
    __atomic_store_n(&d.state, 0, __ATOMIC_RELEASE);
    write_report(h, true);
  }
  uint32_t lost = __atomic_exchange_n(&g_deferred_lost, 0, __ATOMIC_RELAXED);
  if (lost > 0) {
    BufferedWriter<128> w(report_fd());
    w.str("# forkhazard: ").udec(lost).str(" more hazards met on a small signal stack were not recorded\n");
  }
}

namespace {
__attribute__((noinline)) bool write_report(const Hazard& h, bool deferred) {
  int saved = errno;
  tls.guard++;
  core::Relation relation = core::Relation::unknown;
  const ThreadSlot* owner = h.owner_tid != 0 ? core::find_thread(h.owner_tid, &relation) : nullptr;
  // Where the owner took the lock: its held-lock entry, its memory of a semaphore it took, or (a prediction)
  // the entry the policy found.
  const HeldLock* held = owner != nullptr && h.tracked && h.held_as != LockType::semaphore
                             ? core::find_held(owner, h.lock, h.held_as == LockType::rwlock_read)
                             : nullptr;
  uintptr_t one_pc_from_memory = 0;
  const SemTake* took = owner != nullptr && h.tracked && h.held_as == LockType::semaphore
                            ? core::find_sem_take(owner, h.lock)
                            : nullptr;
  // A lock off the held stack (core::lock_taken): the owner's memory of taking it. For a mutex or a write hold
  // the verdict read the word that names this owner, so its latest acquisition of this address is the one; for
  // a read hold it is where that reader took it last.
  if (held == nullptr && took == nullptr && owner != nullptr && h.tracked && h.held_as != LockType::semaphore &&
      h.acquired_pc == 0) {
    const RecentLock& r = owner->recent[recent_slot(h.lock)];
    if (r.addr == h.lock && r.type == h.held_as) one_pc_from_memory = r.pc;
  }
  uintptr_t one_pc = took != nullptr ? took->pc : h.acquired_pc != 0 ? h.acquired_pc : one_pc_from_memory;
  const uintptr_t* acquired = held != nullptr ? held->pcs : &one_pc;
  size_t nacquired = held != nullptr ? held->npcs : (one_pc != 0 ? 1 : 0);
  const ThreadSlot* self = tls.slot;

  bool locked = report_lock();
  ReportParts parts{h, owner, relation, acquired, nacquired, self};
  if (deferred || signal_stack_left() < full_report_stack) write_short_report(parts, deferred);
  else write_full_report(parts);
  report_unlock(locked);
  tls.guard--;
  errno = saved;
  return true;
}
}  // namespace


namespace {
int g_report_lock;
}

bool report_lock() {
  // A spin with a bound: whole reports do not interleave, and a reporter that vanished at a fork while
  // holding it (or a stuck one) costs at most 5000 short sleeps (10 us asked, each longer by the kernel's
  // timer slack: a fraction of a second), never a hang.
  for (int i = 0; i < 5000; i++) {
    if (__atomic_exchange_n(&g_report_lock, 1, __ATOMIC_ACQUIRE) == 0) return true;
    struct timespec ts = {0, 10000};
    sys::nanosleep(&ts);
  }
  return false;
}

void report_unlock(bool taken) {
  if (taken) __atomic_store_n(&g_report_lock, 0, __ATOMIC_RELEASE);
}

void abort_now() {
  // abort() would flush stdio streams a vanished thread may hold: raise SIGABRT with the default action.
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  sigaction(SIGABRT, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGABRT);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  sys::call(SYS_tgkill, g_process.pid, tls.tid, SIGABRT);
  exit_now(134);
}

void exit_now(int code) {
  for (;;) sys::call(SYS_exit_group, code);
}

}  // namespace fh::shim
