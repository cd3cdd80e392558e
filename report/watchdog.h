// The hang watchdog of `forkhazard run`: from outside, judges forked processes whose only thread waits on a
// private futex with no timeout (DESIGN.md section 5), reports them in the shim's raw protocol and ends them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fh::watchdog {

// ---- what /proc says: pure parsers ------------------------------------------------------------------------------

// /proc/PID/syscall of a task blocked in a system call: "nr a0 a1 a2 a3 a4 a5 sp pc" (proc(5)).
struct SyscallLine {
  long nr = -1;
  uint64_t args[6] = {};
  uint64_t sp = 0, pc = 0;
  bool operator==(const SyscallLine&) const = default;
};
// nullopt for "running", for "-1 sp pc" (blocked outside a system call) and for anything malformed.
std::optional<SyscallLine> parse_syscall(std::string_view text);

// The fields of /proc/PID/stat the poll needs: the state letter, the parent, the thread count.
struct ProcStat {
  char state = '?';
  int64_t ppid = 0;
  int64_t threads = 0;
};
// The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
std::optional<ProcStat> parse_stat(std::string_view text);

// The fields of /proc/PID/status the judgement needs.
struct ProcStatus {
  int64_t threads = -1;
  uint64_t caught = 0;   // SigCgt: signals with a handler
  uint64_t blocked = 0;  // SigBlk
  uint64_t ignored = 0;  // SigIgn
  int64_t voluntary_switches = -1;
};
// nullopt when Threads:, SigCgt:, SigBlk: or voluntary_ctxt_switches: is missing.
std::optional<ProcStatus> parse_status(std::string_view text);

// The signals the POSIX timers of /proc/PID/timers deliver ("signal: 14/..." of "notify: signal/..."), as a
// SigCgt-style mask (bit sig - 1).
uint64_t parse_timer_signals(std::string_view text);

// ---- the rule: pure --------------------------------------------------------------------------------------------

// The system call number of futex(2) for the architecture this CLI is built for (202 on x86_64, 98 on
// aarch64): /proc/PID/syscall shows the task's own numbering, so a compat (32-bit) process never matches.
extern const long futex_syscall;

enum class Judgement {
  endless,           // the wait can never end: a deadlock
  not_futex_wait,    // not a FUTEX_WAIT or FUTEX_WAIT_BITSET
  shared_futex,      // without FUTEX_PRIVATE_FLAG another process may wake it
  timed_wait,        // it ends by itself
  multithreaded,     // another thread of the process may wake it
  handler_may_wake,  // a signal handler that a timer, a child or a peer may run could post it
  interrupt_only,    // endless unless its SIGINT handler (its only one) ends it: reported, left as it is
};

// Whether the wait `call` of a process whose status is `status` can ever end. `timer_signals`: the signals its
// POSIX timers deliver (parse_timer_signals). The signal rule is shim/wait_rule.h's, applied to the handlers
// that can run at all: a blocked signal cannot interrupt the wait, and a timer may deliver even SIGINT.
Judgement judge_wait(const SyscallLine& call, const ProcStatus& status, uint64_t timer_signals);
const char* judgement_words(Judgement judgement);  // "a timed wait", ...

// ---- the report's `call` -----------------------------------------------------------------------------------------

// One machine frame of the blocked stack, innermost first: the symbol that contains its pc ("" when unknown), the
// names its module exports for that function (.dynsym, global or weak, default visibility), and, for the outermost
// frame of a module, the exported names of the function the next frame out called to enter it (read from that
// call instruction: a library that tail-calls away from its entry point, as libgomp's GOMP_parallel does at the
// end of a region, leaves no frame of it).
struct FrameSymbols {
  std::string symbol{};
  std::vector<std::string> exported{};
  std::vector<std::string> entered{};
};

// The function the report names as the call: the innermost frame that is a catalogued call (shim/interpose.def's
// FH_UNSAFE rows, under any of its names), else the innermost exported function that is not glibc's private
// plumbing (names starting with "__", "_dl_" or "_IO_"; a frame's own names before the ones it was entered
// through), else the innermost symbol, else "futex".
std::string pick_call(const std::vector<FrameSymbols>& frames);

// ---- what to do with a judged process ----------------------------------------------------------------------------

enum class Action { exit, abort, report_only };
struct DeadlockAction {
  Action action = Action::exit;
  int exitcode = 66;
};

// What the judged process's own options say (its shim exports them: ProcessState::on_deadlock, exitcode): a
// program may give its child on_deadlock=continue. An out-of-range exit code keeps the default.
DeadlockAction action_of_process(uint32_t on_deadlock, int exitcode);


// ---- the watchdog --------------------------------------------------------------------------------------------

struct Config {
  std::string shim;  // the libforkhazard.so that `run` preloads (an absolute path)
  std::string dir;   // the run's private directory: reports go to <dir>/fh.<pid>.watchdog
};

class Watchdog {
 public:
  explicit Watchdog(Config config);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Looks at every descendant of this process once; judges, reports and ends what can never go on. The
  // processes it ends are not reaped here: their parents (or run_watched, for orphans) wait for them.
  void poll();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The poll interval of `forkhazard run`. A judged process ends 1 to 2 intervals after it blocked, plus the ~10 ms
// of its stack (about 420 ms in all, measured). Measured cost of the polls while nothing hangs (2-core VM): 0.1 %
// of a core for one process, 0.3 % for 21, 0.75 % for 101; 100 ms would double it for 100 ms less wait.
inline constexpr int poll_interval_ms = 200;

}  // namespace fh::watchdog
