// The report model: what raw reports say, as plain data for the printers (which contain no analysis).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "symbols/symbolize.h"

namespace fh {

// Each protocol word set is an enum the printers switch over without `default:`, so a new value is a compile
// error in every printer. `other` keeps a word a newer shim wrote that this CLI does not know (forward
// compatibility, shim/protocol.h): the model then also holds its spelling.
// possible_deadlock: the child took a lock that is free now but that a thread which vanished at fork() took in
// the parent (a prediction: had the fork come while that thread held it, the call would never have returned).
enum class HazardKind { deadlock, possible_deadlock, unsafe_call, other };
// Every kind this CLI knows (all but `other`), in the order messages list them.
inline constexpr HazardKind known_hazard_kinds[] = {HazardKind::deadlock, HazardKind::possible_deadlock,
                                                    HazardKind::unsafe_call};
// libc: glibc-internal state (`libc:<family>`), condvar: a condition variable a vanished thread waited on,
// static_init: a function-local static a vanished thread was constructing (addr = its guard variable).
// futex: a private futex word the only thread left waits on with no timeout and nothing can wake, judged from
// outside by the watchdog of `forkhazard run` (glibc-internal locks, libgomp barriers, ...).
enum class LockType { mutex, rwlock_read, rwlock_write, semaphore, condvar, static_init, libc, futex, other };
enum class Relation { vanished, forker, unknown, other };
// Why an unsafe call is a hazard (`hazard class=`): hang-prone takes a glibc lock fork() does not reset;
// non-portable is undefined by POSIX but kept working by glibc (allocator, stdio).
enum class CallClass { hang_prone, non_portable, vanished_thread, other };
// How much a hazard matters, most severe first (the order --fail-on compares): error, the child hangs (a
// deadlock); warning, it can hang (a possible deadlock, a hang-prone call, a kind this CLI does not know);
// note, it works with glibc but not by POSIX (a non-portable call: the allocator and stdio).
enum class Level { error, warning, note };

// What the shim's fixed-size records could not hold in the reporting process (`overflow`), so that a missing
// explanation is never silent: lock acquisitions full held stacks dropped, threads the full registry did not
// take, call sites a full table reported again.
struct Overflow {
  int64_t held = 0;
  int64_t threads = 0;
  int64_t sites = 0;
  bool any() const { return held != 0 || threads != 0 || sites != 0; }
};

// One source-level frame. A machine frame whose calls were inlined becomes several Frames with the same pc,
// innermost first, all but the last marked `inlined`. Before symbolization only `pc` is set.
struct Frame {
  uint64_t pc = 0;
  std::string module;    // file of the module holding pc; empty when no recorded module does
  uint64_t offset = 0;   // pc - bias: the file address inside `module`
  std::string function;  // empty when unknown
  std::string file;      // empty when unknown
  int line = 0;          // 0 when unknown
  bool inlined = false;
};
using Stack = std::vector<Frame>;  // innermost first

struct LockRef {
  uint64_t addr = 0;  // the address the program passed; meaningless when !has_addr
  LockType type = LockType::mutex;
  // The protocol word, for LockType::other and LockType::libc ("libc:env": libc_family() gives "env").
  std::string type_spelling;
  bool has_addr = true;  // false for glibc-internal state, which has no address the program knows
  // Where the address lies, for a futex word: the data symbol the watchdog found ("_rtld_global+0xa50"; empty
  // when none), and the recorded module holding it (empty when none) with the file address inside it.
  std::string symbol{};
  std::string module{};
  uint64_t offset = 0;
};

// "env" of a `libc:env` lock; empty for every other type.
std::string_view libc_family(const LockRef& lock);

struct Owner {
  int64_t tid = 0;  // the holder's tid in the parent
  std::string name;
  Relation relation = Relation::unknown;
  std::string relation_spelling;  // only for Relation::other
};

struct HeldLock {
  LockRef lock;
  int64_t depth = 1;  // recursion depth
  Stack acquired_at;
};

// One frame of a thread's Python stack (CPython), as its own traceback names it.
struct PyFrame {
  std::string file;
  int64_t line = 0;  // 0: unknown
  std::string function;
};

struct ForkThread {
  int64_t tid = 0;
  std::string name;
  Relation relation = Relation::vanished;
  std::string relation_spelling;  // only for Relation::other
  Stack created_at;
  std::vector<HeldLock> held;
  std::vector<PyFrame> python_stack;  // at the fork, innermost first (a CPython thread; empty otherwise)
};

// Another thread of a process judged as a whole (every thread blocked for good): the call it waits in, its stack.
struct WaitingThread {
  int64_t tid = 0;
  std::string name;
  std::string call;
  Stack stack;
};

struct ForkContext {
  int64_t parent_pid = 0;
  int64_t forking_tid = 0;
  // A raw fork (syscall(SYS_fork), clone without CLONE_VM): no atfork handler ran and glibc reset nothing, so
  // the allocator and stdio are hang-prone in the child too (the shim classes them so).
  bool raw = false;
  Stack stack;  // where fork() was called
  std::vector<ForkThread> threads;
};

struct Hazard {
  HazardKind kind = HazardKind::deadlock;
  std::string kind_spelling;  // only for HazardKind::other
  int64_t pid = 0, ppid = 0;
  std::string call;  // the function the process called, e.g. pthread_mutex_lock
  std::optional<CallClass> klass;  // unsafe-call: why the call is a hazard; absent when not recorded
  std::string klass_spelling;      // only for CallClass::other
  std::string why;                 // unsafe-call: what the call does that is unsafe ("allocates"); may be empty
  std::optional<Frame> site;       // the program's call site (a return address); one frame once symbolized
  bool never_succeeds = false;     // possible-deadlock: a timed acquisition whose holder vanished at fork()
  bool spins = false;              // possible-deadlock: the watchdog saw the process spin in glibc's rwlock code
  bool interrupt_only = false;     // deadlock: endless unless its SIGINT handler ends it (the process was left
                                   // as it was: shim/wait_rule.h)
  int64_t count = 1;               // calls at (call, site) in this process in all (`repeats` blocks)
  std::optional<LockRef> lock;
  std::optional<Owner> owner;
  Stack acquired_at;  // where the owner took the lock
  Stack stack;        // the reporting process's stack at the call
  std::vector<WaitingThread> waiting;  // deadlock of a whole process: its other threads, each blocked for good
  std::vector<PyFrame> python_stack;   // the reporting thread's Python stack at the call (a CPython thread)
  std::optional<ForkContext> fork;
  Overflow overflow;  // of the reporting process (its block's `overflow` line)
};

// One `report ... end` block: one process's report, with the module map its PCs refer to.
struct Report {
  std::string source;  // file it was read from
  int64_t pid = 0, ppid = 0;
  std::vector<ModuleInfo> modules;
  std::vector<Hazard> hazards;
  Overflow overflow;
};

// The level of a hazard: its kind, and for an unsafe call its class (an unknown or missing class is a warning).
Level level_of(const Hazard& hazard);
// "error", "warning", "note": the word of JSON's "level", of --fail-on, and SARIF's own level names.
std::string_view spelling(Level level);

// Protocol spellings (shim/protocol.h), for both the reader and the printers.
std::string_view spelling(HazardKind kind, const std::string& other);
std::string_view spelling(LockType type, const std::string& other);
std::string_view spelling(Relation relation, const std::string& other);
std::string_view spelling(CallClass klass, const std::string& other);
std::optional<HazardKind> parse_hazard_kind(std::string_view word);
std::optional<LockType> parse_lock_type(std::string_view word);
std::optional<Relation> parse_relation(std::string_view word);
std::optional<CallClass> parse_call_class(std::string_view word);

}  // namespace fh
