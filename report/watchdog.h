// The hang watchdog of `forkhazard run`: from outside, judges restricted processes whose only thread waits on a
// private futex with no timeout, by the fork's doing (README, "The rule"), reports them in the shim's raw protocol
// and ends them as their own options say.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/proc_files.h"
#include "report/stack_view.h"

namespace fh::watchdog {

// ---- the rule: pure --------------------------------------------------------------------------------------------

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
  int poll_ms = 200;  // poll_interval_ms, or the test suite's FORKHAZARD_WATCHDOG_POLL_MS (poll_interval_from)
  long still_waiting_s = 30;  // --still-waiting: a line about a futex wait unchanged that long (0: never)
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
  int poll_ms() const;  // how often poll() is to be called

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The poll interval of `forkhazard run`. A judged process ends 1 to 2 intervals after it blocked, plus the ~10 ms
// of its stack (about 420 ms in all, measured). Measured cost of the polls while nothing hangs (2-core VM): 0.1 %
// of a core for one process, 0.3 % for 21, 0.75 % for 101; 100 ms would double it for 100 ms less wait.
inline constexpr int poll_interval_ms = 200;

// The poll interval: poll_interval_ms, unless `text` (the environment's FORKHAZARD_WATCHDOG_POLL_MS, a knob for
// this project's test suite, so that its examples need not wait out 200 ms polls) is a number of 10 to 1000.
int poll_interval_from(const char* text);

}  // namespace fh::watchdog
