// The hang watchdog of `forkhazard run` (watchdog.h): poll, judge, take the stack from outside, report, end.
// Its parts: report/proc_files (what /proc says), report/stack_view (the stack, libdwfl), report/remote_shim (the
// shim's state inside the process), report/ptrace_ops (stop, inject, pidfd), report/wait_kinds (what a wait is).
#include "report/watchdog.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "report/blocked.h"
#include "report/catalogue.h"
#include "report/ptrace_ops.h"
#include "report/remote_shim.h"
#include "report/wait_kinds.h"
#include "shim/glibc_locks.h"
#include "shim/options.h"
#include "shim/protocol.h"
#include "shim/wait_rule.h"

namespace fh::watchdog {

namespace {

// Whether the shim already reported a deadlock of process `pid` in `dir` (fh.<pid>, fh.<pid>.<n>): it hangs
// because on_deadlock=continue said so, and one report is enough.
bool shim_reported_deadlock(const std::string& dir, pid_t pid) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  std::string prefix = "fh." + std::to_string(pid), text;
  bool found = false;
  while (dirent* entry = readdir(d)) {
    std::string_view name = entry->d_name;
    if (name.substr(0, prefix.size()) != prefix) continue;
    std::string_view rest = name.substr(prefix.size());
    if (!rest.empty() && (rest[0] != '.' || rest.find_first_not_of("0123456789", 1) != std::string_view::npos))
      continue;
    if (read_file(dir + "/" + std::string(name), &text) &&
        (text.find("\nhazard kind=" + std::string(protocol::kind_deadlock) + " ") != std::string::npos ||
         text.find("\nhazard kind=" + std::string(protocol::kind_deadlock) + "\n") != std::string::npos))
      found = true;
  }
  closedir(d);
  return found;
}

}  // namespace

// ---- the rule ------------------------------------------------------------------------------------------------------

Judgement judge_wait(const SyscallLine& call, const ProcStatus& status, uint64_t timer_signals) {
  if (status.threads != 1) return Judgement::multithreaded;
  if (call.nr != futex_syscall) return Judgement::not_futex_wait;
  uint64_t op = call.args[1];
  uint64_t command = op & ~static_cast<uint64_t>(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  if (command != FUTEX_WAIT && command != FUTEX_WAIT_BITSET) return Judgement::not_futex_wait;
  if ((op & FUTEX_PRIVATE_FLAG) == 0) return Judgement::shared_futex;
  if (call.args[3] != 0) return Judgement::timed_wait;
  // A blocked signal cannot interrupt the wait (and only this thread could unblock it); a POSIX timer may
  // deliver even SIGINT.
  uint64_t can_run = status.caught & ~status.blocked;
  if ((timer_signals & can_run) != 0) return Judgement::handler_may_wake;
  switch (what_may_end_wait(can_run)) {
    case WaitEnd::never: return Judgement::endless;
    case WaitEnd::interrupt: return Judgement::interrupt_only;
    case WaitEnd::handler: return Judgement::handler_may_wake;
  }
  return Judgement::handler_may_wake;
}

const char* judgement_words(Judgement judgement) {
  switch (judgement) {
    case Judgement::endless: return "a wait nothing left in the process can end";
    case Judgement::not_futex_wait: return "not a futex wait";
    case Judgement::shared_futex: return "a wait on a shared futex (another process may wake it)";
    case Judgement::timed_wait: return "a timed wait";
    case Judgement::multithreaded: return "a process with more than one thread";
    case Judgement::handler_may_wake: return "a wait a signal handler may end";
    case Judgement::interrupt_only: return "a wait only its SIGINT handler could end";
  }
  return "?";
}

// ---- options -------------------------------------------------------------------------------------------------------

namespace {

// The limits of exitcode, from the shim's table.
#define FH_OPTION_STRING(name, def, desc)
#define FH_OPTION_CHOICE(name, def, choices, desc)
#define FH_OPTION_INT(name, def, lo, hi, desc) [[maybe_unused]] constexpr long name##_lo = lo, name##_hi = hi;
#define FH_OPTION_BOOL(name, def, desc)
#include "shim/options.def"
#undef FH_OPTION_STRING
#undef FH_OPTION_CHOICE
#undef FH_OPTION_INT
#undef FH_OPTION_BOOL

Action action_of(int on_deadlock) {
  switch (on_deadlock) {
    case on_deadlock_abort: return Action::abort;
    case on_deadlock_continue: return Action::report_only;
    default: return Action::exit;
  }
}

}  // namespace

DeadlockAction action_of_process(uint32_t on_deadlock, int exitcode) {
  DeadlockAction action;
  action.action = action_of(static_cast<int>(on_deadlock));
  if (exitcode >= exitcode_lo && exitcode <= exitcode_hi) action.exitcode = exitcode;
  return action;
}

// ---- the watchdog --------------------------------------------------------------------------------------------------

namespace {

struct Observed {
  SyscallLine call;
  int64_t switches = -1;
  bool operator==(const Observed&) const = default;
};

struct Process {
  pid_t pid;
  ProcStat stat;
};

enum class Outcome { judged, declined, retry };

// Who a blocked wait is waiting for, when the verdict can name it.
struct Culprit {
  int tid = 0;
  std::string name;
  const char* relation = protocol::relation_vanished;
};

// What will be done to the judged process, prepared while it is stopped (an injected exit takes effect when it
// is let go), and the words that say it.
struct Ending {
  DeadlockAction action;
  std::string words;
  bool kill_it = false;  // the exit could not be injected: SIGKILL instead
};

// One blocked thread of the judged process, stopped under our ptrace: its wait and what the table makes of it.
struct ThreadWait {
  pid_t tid = 0;
  uint64_t word = 0;  // the futex word it waits on
  BlockedStack stack;
  WaitKind kind = WaitKind::unknown;
  const ThreadSlot* self = nullptr;  // its slot in the shim's registry
  bool lock_wait = false;  // a lock acquisition: no handler can make it succeed
};

// Everything a judgement gathered about one process, for its report and its ending.
struct Judged {
  uint64_t word = 0;
  bool interrupt_only = false;
  const RemoteShim* remote = nullptr;
  BlockedStack stack;
  std::vector<ThreadSlot> slots;
  const ThreadSlot* self = nullptr;  // into `slots`: the blocked thread's own slot
  WaitKind kind = WaitKind::unknown;
  bool lock_wait = false;  // a lock acquisition: no handler can make it succeed
  pid_t tid = 0;           // the thread whose wait is judged
  std::vector<const ThreadWait*> others;  // a process judged as a whole: its other threads, each stuck too
  bool handlers = false;   // the process has handlers that could run (they cannot end a lock wait)
  Culprit culprit;  // the lock's holder, where its word names one
  Culprit inside;   // a vanished thread inside the call's glibc lock family
  std::optional<CallFamily> family;
  Ending ending;
};


}  // namespace

struct Watchdog::Impl {
  Config config;
  ProcFiles files;
  ShimFile shim;
  std::map<pid_t, Observed> last;     // each candidate's wait at the previous poll
  std::map<pid_t, Observed> settled;  // waits examined and left alone: not examined again while unchanged
  std::set<pid_t> done;               // judged: never looked at again while they exist
  std::map<pid_t, std::vector<TaskWait>> team_last;  // a multithreaded candidate's threads at its last examination
  struct BeingEnded {
    int pidfd;
    int polls;  // left before SIGKILL
  };
  std::map<pid_t, BeingEnded> ending;  // judged and being ended
  std::set<std::string> noticed;      // keys of the one-line notices already printed
  std::string buffer;

  void notice(const std::string& key, const std::string& message);

  // The pids in /proc/PID/task/*/children (just the one thread's when `threads` is 1).
  void add_children(pid_t pid, int64_t threads, std::vector<pid_t>* out);

  std::vector<Process> descendants();

  void poll();

  // The cheap test every poll, then the full examination of a wait seen unchanged on two polls in a row.
  void look_at(const Process& p, const std::vector<Process>& all);

  Outcome examine(const Process& p, const SyscallLine& call, const ProcStatus& status,
                  const std::vector<Process>& all);

  // The shim's state of a process the rule lets us judge: restricted, not passive, no memory peer (its shim's
  // count, and kcmp against every other descendant); nullopt otherwise (said once where it is a problem).
  std::optional<RemoteShim> judgeable(const Process& p, const std::vector<Process>& all);

  // A single-threaded process seen running (state R) at every poll: looked at every spin_look_s, stopped an
  // instant each time; spinning inside pthread rwlock code over an rwlock (found in its registers) in the state
  // a writer that vanished inside its unlock leaves, at two looks in a row, it gets a warning (issue "Every real
  // fork hang judged", 3: glibc's own rwlocks, which the shim cannot judge before the call).
  struct Spinning {
    std::chrono::steady_clock::time_point since;
    int looks = 0;      // looks in a row that saw the spin
    uint64_t lock = 0;  // the rwlock they saw
    int wait_s = 2;     // until the next look: doubled after each look that saw no spin (a busy process is
                        // stopped less and less often: 2, 4, 8... 64 s)
  };
  std::map<pid_t, Spinning> spinning;
  void watch_spin(const Process& p, const std::vector<Process>& all);
  std::string spin_report_text(const Process& p, const RemoteShim& remote, const BlockedStack& stack, uint64_t lock,
                               ProcessView& view);


  // `signals`: what the process's handlers allow (shim/wait_rule.h): endless; interrupt_only (reported and left
  // as it is, unless the wait is a lock acquisition); handler_may_wake (judged only for a lock acquisition).
  // `own_timer`: it armed a timer since its fork (its shim saw alarm, setitimer or timer_create; or
  // /proc/PID/timers lists one).
  // `team`: every thread of the process, each seen in the same wait at two examinations (one thread: its only).
  Outcome judge(const Process& p, const std::vector<TaskWait>& team, const ProcStatus& status,
                const RemoteShim& remote, Judgement signals, bool own_timer);

  // The futex waits seen unchanged, since when (track_stall).
  struct Stall {
    SyscallLine call;
    std::chrono::steady_clock::time_point since;
  };
  std::map<pid_t, Stall> stalled;
  void track_stall(const Process& p, const std::optional<SyscallLine>& call);

  // SIGKILL for a judged process that has not ended in time (a handler we could not see, a failed injection),
  // through the pidfd held since the judgement: the pid may have been reaped and reused by then.
  void follow_up(const std::vector<Process>& all);

  ~Impl();

  std::string report_text(const Process& p, const Judged& j, ProcessView& view);
  void write_report(pid_t pid, const std::string& text);
  void carry_out(pid_t pid, const Ending& ending_, const ProcStatus& status, Fd& pidfd);

  // Empty when the wait of threads[i] of process `pid` is the fork's doing (README, "The rule"), else why it is
  // not (or not known to be): then it is not an error. `threads`: every thread of the process, each stuck.
  // *culprit: the holder, where the lock names one.
  std::string fork_relation(pid_t pid, const std::vector<ThreadWait>& threads, size_t i, const RemoteShim& remote,
                            const std::vector<ThreadSlot>& slots, Culprit* culprit);
};

namespace {

// `own_timeout`: a lock acquisition judged in spite of handlers, in a process that armed a timer of its own since
// the fork: a handler of its may leave the wait by that timer (siglongjmp), so it is reported and left to it.
// `tid`: the judged thread, stopped in futex(word): the exit is injected there.
Ending prepare_ending(pid_t tid, const RemoteShim& remote, const ProcStatus& status, bool traced, uint64_t word,
                      bool interrupt_only, bool own_timeout) {
  Ending e;
  // The judged process's own options, as its shim read them.
  e.action = action_of_process(remote.process.on_deadlock, remote.process.exitcode);
  if (interrupt_only || own_timeout) e.action.action = Action::report_only;
  switch (e.action.action) {
    case Action::exit: {
      std::string code = std::to_string(e.action.exitcode);
      std::string why = traced ? inject_exit_group(tid, word, e.action.exitcode) : "ptrace was refused";
      e.kill_it = !why.empty();
      e.words = why.empty() ? "ending it with exit code " + code + " (on_deadlock=exit)"
                            : "ending it with SIGKILL: exit code " + code + " cannot be injected (" + why + ")";
      break;
    }
    case Action::abort:
      e.words = abort_kills(status) ? "aborting it with SIGABRT (on_deadlock=abort)"
                                    : "ending it with SIGKILL: SIGABRT is caught, blocked or ignored";
      break;
    case Action::report_only:
      e.words = interrupt_only ? "leaving it as it is: a SIGINT, from anyone, would run its handler"
                : own_timeout  ? "leaving it to the timer it armed since the fork, which its handlers may act on"
                               : "leaving it hung (on_deadlock=continue)";
      break;
  }
  return e;
}

// A vanished thread that was inside the call's glibc lock family at the fork (an explanation, not a holder).
Culprit inside_family(const std::optional<CallFamily>& family, const RemoteShim& remote,
                      const std::vector<ThreadSlot>& slots) {
  int index = family ? family->index : 0;
  if (index <= 0 || index >= static_cast<int>(max_families)) return {};
  for (const ThreadSlot& s : slots)
    if (is_vanished(s, remote.process.generation) && s.inside[index] != 0)
      return {s.tid, std::string(s.name, strnlen(s.name, sizeof s.name)), protocol::relation_vanished};
  return {};
}

}  // namespace

std::string Watchdog::Impl::fork_relation(pid_t pid, const std::vector<ThreadWait>& threads, size_t i,
                                          const RemoteShim& remote, const std::vector<ThreadSlot>& slots,
                                          Culprit* culprit) {
  const ThreadWait& t = threads[i];
  const ThreadSlot* self = t.self;
  const bool alone = threads.size() == 1;
  auto vanished_named = [&](int tid) {
    for (const ThreadSlot& s : slots)
      if (s.tid == tid && is_vanished(s, remote.process.generation))
        return std::string(s.name, strnlen(s.name, sizeof s.name));
    return std::string();
  };
  auto any_in_handler = [&] {
    return std::any_of(threads.begin(), threads.end(), [](const ThreadWait& w) { return in_signal_handler(w.stack.waits); });
  };
  // The shim saw this wait begin and found nothing of the vanished threads in it (its own new condvar or
  // semaphore): the program's design, a child waiting to be killed.
  if (self != nullptr && self->own_wait != nullptr)
    return "it waits on its own object " + hex(reinterpret_cast<uintptr_t>(self->own_wait)) +
           ", which no thread that vanished at fork() used";
  // The shim saw it begin on an object a vanished thread took or used (a semaphore, a condvar: ThreadSlot::fork_wait).
  if (self != nullptr && self->fork_wait != nullptr && self->fork_wait_tid > 0) {
    *culprit = {self->fork_wait_tid, vanished_named(self->fork_wait_tid), protocol::relation_vanished};
    return {};
  }
  switch (t.kind) {
    case WaitKind::internal_lock:
      // Only a thread inside glibc holds it; with one thread left, one that vanished, unless a signal handler of
      // this thread re-entered glibc over its own hold. With other threads (each stuck), one of them may hold it:
      // the fork's doing only where a vanished thread was inside the call's lock family at fork().
      if (in_signal_handler(t.stack.waits)) return "it waits inside a signal handler, which may have interrupted its own hold";
      if (alone) return {};
      if (inside_family(catalogued_family(t.stack.called), remote, slots).tid != 0) return {};
      return "another thread of it may hold that glibc lock (no thread that vanished at fork() is known to have been "
             "inside " + t.stack.called + "()'s lock family)";
    case WaitKind::team_barrier: {
      // libgomp's team: the threads it waits for are the pool threads that vanished at fork(), unless the process
      // has team threads of its own (another thread waits in libgomp too).
      return team_of_its_own(threads, i);
    }
    case WaitKind::mutex: {
      int owner = 0;
      std::string why = mutex_owner_outside(pid, threads, i, any_in_handler(), &owner);
      if (!why.empty() || owner == 0) return why;
      std::string name = vanished_named(owner);
      for (const ThreadSlot& s : slots) {
        if (s.tid != owner || !is_vanished(s, remote.process.generation)) continue;
        *culprit = {owner, name, protocol::relation_vanished};
        return {};
      }
      for (uint32_t k = 0; self != nullptr && k < self->nformer && k < max_former_tids; ++k) {
        if (self->former_tids[k] != owner) continue;
        *culprit = {owner, std::string(self->name, strnlen(self->name, sizeof self->name)), protocol::relation_forker};
        return {};
      }
      // A thread the shim never registered (a raw clone, or one made before it loaded): the parent's, if the
      // parent still lists it.
      std::string task = "/proc/" + std::to_string(remote.process.fork_parent_pid) + "/task/" + std::to_string(owner);
      if (remote.process.fork_parent_pid > 0 && access(task.c_str(), F_OK) == 0) {
        *culprit = {owner, "", protocol::relation_vanished};
        return {};
      }
      return "its mutex is held by thread " + std::to_string(owner) + ", which is not known to have vanished at fork()";
    }
    case WaitKind::unknown:
    case WaitKind::rwlock:
    case WaitKind::condvar:
    case WaitKind::semaphore:
    case WaitKind::static_init:
      break;
  }
  return "nothing shows it is the fork's doing (no thread that vanished at fork() is known to hold, use or wait on "
         "it)";
}

void Watchdog::Impl::notice(const std::string& key, const std::string& message) {
  if (noticed.insert(key).second) std::fprintf(stderr, "%s\n", message.c_str());
}

void Watchdog::Impl::add_children(pid_t pid, int64_t threads, std::vector<pid_t>* out) {
  std::vector<pid_t> tids;
  if (threads == 1) {
    tids.push_back(pid);
  } else {
    std::string task = proc_path(pid, "task");
    if (DIR* d = opendir(task.c_str())) {
      while (dirent* entry = readdir(d)) {
        pid_t tid = 0;
        if (parse_dec(std::string_view(entry->d_name), &tid)) tids.push_back(tid);
      }
      closedir(d);
    }
  }
  for (pid_t tid : tids) {
    if (!files.read(pid, ProcFiles::children, tid, &buffer)) {
      if (errno == ENOENT && pid == getpid())
        notice("children", "forkhazard: /proc has no task/TID/children (a kernel without CONFIG_PROC_CHILDREN): "
                           "the hang watchdog is off");
      continue;
    }
    for (std::string_view word : words(buffer)) {
      pid_t child = 0;
      if (parse_dec(word, &child) && child > 0) out->push_back(child);
    }
  }
}

std::vector<Process> Watchdog::Impl::descendants() {
  std::vector<Process> all;
  std::set<pid_t> seen;
  std::vector<pid_t> todo;
  add_children(getpid(), 0, &todo);
  while (!todo.empty()) {
    pid_t pid = todo.back();
    todo.pop_back();
    if (!seen.insert(pid).second || !files.read(pid, ProcFiles::stat, 0, &buffer)) continue;
    std::optional<ProcStat> stat = parse_stat(buffer);
    if (!stat) continue;
    all.push_back({pid, *stat});
    add_children(pid, stat->threads, &todo);
  }
  return all;
}

void Watchdog::Impl::poll() {
  std::vector<Process> all = descendants();
  std::set<pid_t> present;
  for (const Process& p : all) present.insert(p.pid);
  present.insert(getpid());
  files.keep_only(present);
  // Forget what is gone (its pid may come back as another process).
  for (auto it = stalled.begin(); it != stalled.end();) it = present.count(it->first) ? std::next(it) : stalled.erase(it);
  for (auto* table : {&last, &settled})
    for (auto it = table->begin(); it != table->end();) it = present.count(it->first) ? std::next(it) : table->erase(it);
  for (auto it = done.begin(); it != done.end();) it = present.count(*it) ? std::next(it) : done.erase(it);
  for (auto it = team_last.begin(); it != team_last.end();)
    it = present.count(it->first) ? std::next(it) : team_last.erase(it);
  for (auto it = spinning.begin(); it != spinning.end();)
    it = present.count(it->first) ? std::next(it) : spinning.erase(it);
  follow_up(all);
  for (const Process& p : all) look_at(p, all);
}

void Watchdog::Impl::look_at(const Process& p, const std::vector<Process>& all) {
  if (done.count(p.pid)) return;
  if (p.stat.state == 'R' && p.stat.threads == 1) {
    watch_spin(p, all);
  } else {
    spinning.erase(p.pid);
  }
  if (p.stat.state != 'S') {
    last.erase(p.pid);
    stalled.erase(p.pid);
    return;
  }
  if (!files.read(p.pid, ProcFiles::syscall_line, 0, &buffer)) {
    if (errno == EACCES || errno == EPERM)
      notice("syscall", "forkhazard: cannot read /proc/" + std::to_string(p.pid) + "/syscall (" + strerror(errno) +
                            "): the hang watchdog cannot see what the processes of this run wait for");
    last.erase(p.pid);
    return;
  }
  std::optional<SyscallLine> call = parse_syscall(buffer);
  track_stall(p, call);
  // The main thread first (cheap); a process with more threads is judged as a whole in examine().
  ProcStatus quiet;  // no handlers: the verdict the syscall line alone allows
  quiet.threads = 1;
  if (!call || judge_wait(*call, quiet, 0) != Judgement::endless) {
    last.erase(p.pid);
    return;
  }
  std::optional<ProcStatus> status;
  if (read_file(proc_path(p.pid, "status"), &buffer)) status = parse_status(buffer);
  if (!status) {
    last.erase(p.pid);
    return;
  }
  Observed now{*call, status->voluntary_switches};
  auto s = settled.find(p.pid);
  if (s != settled.end() && s->second == now) return;
  auto l = last.find(p.pid);
  if (l == last.end() || !(l->second == now)) {
    last[p.pid] = now;
    return;
  }
  last.erase(l);
  switch (examine(p, *call, *status, all)) {
    case Outcome::judged:
      done.insert(p.pid);
      settled.erase(p.pid);
      break;
    case Outcome::declined: settled[p.pid] = now; break;
    case Outcome::retry: settled.erase(p.pid); break;
  }
}

// A process whose (main thread's) futex wait has not changed for config.still_waiting_s without a verdict: one line
// at once, so that a person watching a stalled log sees what it stalls on.
void Watchdog::Impl::track_stall(const Process& p, const std::optional<SyscallLine>& call) {
  if (config.still_waiting_s <= 0 || !call || call->nr != futex_syscall) {
    stalled.erase(p.pid);
    return;
  }
  auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = stalled.try_emplace(p.pid, Stall{*call, now});
  if (fresh || !(it->second.call == *call)) {
    it->second = Stall{*call, now};
    return;
  }
  auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - it->second.since).count();
  if (waited < config.still_waiting_s) return;
  notice("still." + std::to_string(p.pid) + "." + hex(call->args[0]),
         "forkhazard: still waiting: process " + std::to_string(p.pid) + " (" + std::to_string(p.stat.threads) +
             (p.stat.threads == 1 ? " thread" : " threads") + ", state S) has waited " + std::to_string(waited) +
             " s on futex word " + hex(call->args[0]) + " with no verdict (--still-waiting=0 turns this off)");
}

void Watchdog::Impl::follow_up(const std::vector<Process>& all) {
  for (auto it = ending.begin(); it != ending.end();) {
    auto p = std::find_if(all.begin(), all.end(), [&](const Process& q) { return q.pid == it->first; });
    bool gone = p == all.end() || p->stat.state == 'Z' || p->stat.state == 'X';
    if (!gone && --it->second.polls > 0) {
      ++it;
      continue;
    }
    if (!gone) syscall(SYS_pidfd_send_signal, it->second.pidfd, SIGKILL, nullptr, 0);
    close(it->second.pidfd);
    it = ending.erase(it);
  }
}

Watchdog::Impl::~Impl() {
  for (auto& [pid, e] : ending) close(e.pidfd);
}

std::optional<RemoteShim> Watchdog::Impl::judgeable(const Process& p, const std::vector<Process>& all) {
  // A process sharing its memory without being its thread (clone(CLONE_VM), a vfork child) could wake a
  // private futex too.
  // kcmp refused (a seccomp profile, a kernel without CONFIG_KCMP) is "don't know", never "no".
  for (const Process& other : all) {
    if (other.pid == p.pid) continue;
    long same = syscall(SYS_kcmp, p.pid, other.pid, KCMP_VM, 0, 0);
    if (same == 0) return std::nullopt;
    if (same < 0 && errno != ESRCH) {
      notice("kcmp", std::string("forkhazard: kcmp(KCMP_VM) is refused (") + strerror(errno) +
                         "): the hang watchdog cannot tell whether another process shares a blocked one's memory, "
                         "and judges nothing");
      return std::nullopt;
    }
  }
  if (!shim.usable) {
    notice("shim", "forkhazard: " + shim.problem + ": the hang watchdog cannot tell forked processes");
    return std::nullopt;
  }
  std::optional<uint64_t> bias = shim_bias(p.pid, config.shim, shim, &buffer);
  if (!bias) return std::nullopt;  // no shim in it: not a process we can judge
  std::string problem;
  std::optional<RemoteShim> remote = read_remote_shim(p.pid, *bias, shim, &problem);
  if (!remote) {
    if (!problem.empty()) notice("build", "forkhazard: " + problem + ": not judged");
    return std::nullopt;
  }
  // Only a restricted process (the child of a multithreaded fork, or its descendant before exec): the child of
  // a single-threaded fork has no fork hazard, and an exec'd program may wait for something we cannot see.
  // A passive (secure-mode) process is never judged; one with a clone(CLONE_VM) peer may be woken by it.
  const ProcessState& state = remote->process;
  if (!state.restricted || state.passive || state.vm_peers != 0) return std::nullopt;
  return remote;
}

Outcome Watchdog::Impl::examine(const Process& p, const SyscallLine& call, const ProcStatus& status,
                                 const std::vector<Process>& all) {
  uint64_t timer_signals = read_file(proc_path(p.pid, "timers"), &buffer) ? parse_timer_signals(buffer) : 0;
  bool posix_timers = !buffer.empty();
  // The handlers are the process's: with more threads, one can run a signal that any thread does not block (the
  // signals every thread blocks are read below, once the threads are known to be stuck).
  ProcStatus signals = status;
  signals.threads = 1;
  // A wait a handler may end is still looked at: if its stack shows a lock acquisition, no handler can make it
  // succeed (judge() decides, once it has the stack).
  Judgement judgement = judge_wait(call, signals, timer_signals);
  if (judgement != Judgement::endless && judgement != Judgement::interrupt_only &&
      judgement != Judgement::handler_may_wake)
    return Outcome::declined;
  std::optional<RemoteShim> remote = judgeable(p, all);
  if (!remote) return Outcome::declined;
  const ProcessState& state = remote->process;
  if (shim_reported_deadlock(config.dir, p.pid)) {
    notice("shim." + std::to_string(p.pid), "forkhazard: process " + std::to_string(p.pid) +
                                                " is hung in the deadlock its shim reported, left as it is "
                                                "(on_deadlock=continue, a SIGINT-only wait, or a timer of its own); "
                                                "the report follows at the end of the run");
    return Outcome::declined;
  }
  // A process with more threads is judged as a whole, when every thread of it is stuck: seen asleep in the same
  // private untimed futex wait, with the same count of voluntary switches, at two examinations. Each thread then
  // slept all through the time between them, so there was a moment when none of them could run: none can wake
  // another since, and only a handler may (judged in judge(), from the stacks). A thread still running is looked
  // at again later (it may block for good).
  std::vector<TaskWait> team{{p.pid, call, status.voluntary_switches, status.blocked}};
  if (status.threads != 1) {
    std::optional<std::vector<TaskWait>> now = stuck_threads(p.pid, &buffer);
    auto before = team_last.find(p.pid);
    if (!now || now->size() < 2) {
      team_last.erase(p.pid);
      return Outcome::retry;
    }
    if (before == team_last.end() || before->second != *now) {
      team_last[p.pid] = std::move(*now);
      return Outcome::retry;
    }
    team_last.erase(before);
    team = std::move(*now);
    signals.blocked = ~0ull;
    for (const TaskWait& t : team) signals.blocked &= t.blocked;
    judgement = judge_wait(call, signals, timer_signals);
  }
  return judge(p, team, signals, *remote, judgement, state.timer_armed || posix_timers);
}
namespace {

constexpr int spin_look_s = 2;  // how long a spinning process runs between the look that saw it and the next

// An rwlock of process `pid` at `addr` in the state a writer that vanished inside its unlock leaves
// (nptl/pthread_rwlock_common.c, __pthread_rwlock_wrunlock): a write phase with WRLOCKED still set, no writer
// recorded, no hand-over offered, __writers_futex not 1 (a new writer can neither take it nor block: it spins);
// private, a known kind.
bool left_write_locked(pid_t pid, uint64_t addr) {
  if (addr == 0 || addr % alignof(pthread_rwlock_t) != 0) return false;
  pthread_rwlock_t rw;
  if (!read_remote(pid, addr, &rw, sizeof rw)) return false;
  return glibc::rwlock_write_locked(&rw) && !glibc::rwlock_read_phase(&rw) && glibc::rwlock_writer(&rw) == 0 &&
         !glibc::rwlock_handed_over(&rw) && !glibc::rwlock_shared(&rw) &&
         (rw.__data.__writers_futex & ~glibc::rwlock_futex_used_bit) != 1 && rw.__data.__flags <= 2;
}

}  // namespace

void Watchdog::Impl::watch_spin(const Process& p, const std::vector<Process>& all) {
  auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = spinning.try_emplace(p.pid, Spinning{now});
  Spinning& s = it->second;
  if (fresh || now - s.since < std::chrono::seconds(s.wait_s)) return;
  s.since = now;
  std::optional<RemoteShim> remote = judgeable(p, all);
  if (!remote) {
    // Not one the rule lets us judge (now: a memory peer may go away): looked at less and less often.
    s.wait_s = std::min(s.wait_s * 2, 64);
    return;
  }
  bool abandoned = false;
  if (seize_and_stop(p.pid, &abandoned) != 0 || abandoned) return;
  ProcessView view(p.pid);
  BlockedStack stack = take_stack(view, true, SyscallLine{}, p.pid);
  uint64_t lock = 0;
  if (!stack.waits.empty() && in_rwlock_code(stack.waits[0]))
    for (uint64_t value : register_values(p.pid))
      if (left_write_locked(p.pid, value)) lock = value;
  ptrace(PTRACE_DETACH, p.pid, nullptr, nullptr);
  if (lock == 0 || (s.looks > 0 && s.lock != lock)) {
    s.looks = lock != 0 ? 1 : 0;
    s.lock = lock;
    s.wait_s = lock != 0 ? spin_look_s : std::min(s.wait_s * 2, 64);
    return;
  }
  s.lock = lock;
  if (++s.looks < 2) return;
  write_report(p.pid, spin_report_text(p, *remote, stack, lock, view));
  done.insert(p.pid);
  spinning.erase(p.pid);
  notice("spin." + std::to_string(p.pid),
         "forkhazard: possible deadlock in process " + std::to_string(p.pid) + ": " + stack.called +
             "() spins in glibc's rwlock code over " + hex(lock) + ", left write-locked by no writer (seen at two looks " +
             std::to_string(spin_look_s) + " s apart); left as it is; the report follows at the end of the run");
}

// The raw report of a process seen spinning (watch_spin): a possible deadlock, spins=1.
std::string Watchdog::Impl::spin_report_text(const Process& p, const RemoteShim& remote, const BlockedStack& stack,
                                             uint64_t lock, ProcessView& view) {
  using namespace protocol;
  std::string where = view.data_symbol(lock);
  std::string text = magic_line;
  text += ProtocolLine(rec::report).num(key::report_pid, p.pid).num(key::report_ppid, p.stat.ppid).line();
  text += "# forkhazard: possible deadlock in process " + std::to_string(p.pid) +
          ", seen by the watchdog of forkhazard run: its only thread spins in " + stack.called +
          "() in glibc's rwlock code over the rwlock at " + hex(lock) + (where.empty() ? "" : " (" + where + ")") +
          ", write-locked by no writer, at two looks " + std::to_string(spin_look_s) + " s apart; left as it is\n";
  ProtocolLine lock_line(rec::lock);
  lock_line.hex(key::lock_addr, lock).word(key::lock_type, type_rwlock_write);
  if (!where.empty()) lock_line.text(key::lock_symbol, where);
  text += ProtocolLine(rec::hazard).word(key::hazard_kind, kind_possible_deadlock).text(key::hazard_call, stack.called)
              .num(key::hazard_spins, 1).line() +
          lock_line.line();
  std::vector<ThreadSlot> slots = read_slots(p.pid, remote);
  Culprit inside = inside_family(catalogued_family(stack.called), remote, slots);
  if (inside.tid != 0)
    text += ProtocolLine(rec::owner).num(key::owner_tid, inside.tid).text(key::owner_name, inside.name)
                .word(key::owner_relation, inside.relation).line();
  text += ProtocolLine(rec::stack).pcs(key::stack_pcs, stack.frames.pcs.data(), stack.frames.pcs.size()).line();
  const ThreadSlot* self = nullptr;
  for (const ThreadSlot& s : slots)
    if (is_live_here(s, remote.process.generation) && s.tid == p.pid) self = &s;
  std::vector<uint64_t> fork_pcs;
  if (self != nullptr) fork_pcs.assign(self->fork_pcs, self->fork_pcs + std::min<size_t>(self->nfork_pcs, max_site_pcs));
  text += ProtocolLine(rec::fork).num(key::fork_parent_pid, remote.process.fork_parent_pid)
              .num(key::fork_forking_tid, remote.process.fork_forking_tid)
              .pcs(key::fork_pcs, fork_pcs.data(), fork_pcs.size()).line();
  std::string python = python_text(p.pid, remote);
  for (const ThreadSlot& s : slots)
    if (is_vanished(s, remote.process.generation)) text += thread_lines(p.pid, s, s.tid, relation_vanished, python);
  return text + view.module_lines() + ProtocolLine(rec::end).line();
}

// The raw report of a judged process, in the shim's protocol (shim/protocol.h).
std::string Watchdog::Impl::report_text(const Process& p, const Judged& j, ProcessView& view) {
  const pid_t pid = p.pid;
  std::string where = view.data_symbol(j.word);
  std::string text = protocol::magic_line;
  using namespace protocol;
  text += ProtocolLine(rec::report).num(key::report_pid, pid).num(key::report_ppid, p.stat.ppid).line();
  text += "# forkhazard: deadlock in process " + std::to_string(pid) + ", judged by the watchdog of forkhazard run: " +
          (j.others.empty() ? std::string("its only thread")
                            : "every one of its " + std::to_string(j.others.size() + 1) +
                                  " threads is blocked for good (none can wake another); thread " +
                                  std::to_string(j.tid)) +
          " waits in " + j.stack.called + "() on private futex word " + hex(j.word) +
          (where.empty() ? "" : " (" + where + ")") + " with no timeout, and " +
          (j.interrupt_only ? "only its SIGINT handler could end the wait\n"
           : j.handlers     ? "it is a lock acquisition: its signal handlers can interrupt it, never make it succeed\n"
                            : "no signal handler it has could end the wait\n");
  if (j.culprit.tid != 0)
    text += "# forkhazard: it waits on " + std::string(wait_kind_name(j.kind)) + " held by thread " +
            std::to_string(j.culprit.tid) +
            (j.culprit.relation == std::string_view(protocol::relation_forker) ? ", this thread before fork()"
                                                                               : ", which vanished at fork()") +
            "\n";
  if (j.inside.tid != 0)
    text += "# forkhazard: thread " + std::to_string(j.inside.tid) + " was inside the glibc " +
            std::string(j.family->name) + " lock family when it vanished at fork()\n";
  text += "# forkhazard: " + j.ending.words + "\n#   symbolized: forkhazard report <this file>\n";
  ProtocolLine hazard(rec::hazard);
  hazard.word(key::hazard_kind, kind_deadlock).text(key::hazard_call, j.stack.called);
  if (j.interrupt_only) hazard.num(key::hazard_interrupt_only, 1);
  ProtocolLine lock(rec::lock);
  lock.hex(key::lock_addr, j.word).word(key::lock_type, type_futex);
  if (!where.empty()) lock.text(key::lock_symbol, where);
  text += hazard.line() + lock.line();
  const Culprit& owner = j.culprit.tid != 0 ? j.culprit : j.inside;
  if (owner.tid != 0)
    text += ProtocolLine(rec::owner).num(key::owner_tid, owner.tid).text(key::owner_name, owner.name)
                .word(key::owner_relation, owner.relation).line();
  const Frames& frames = j.stack.frames;
  text += ProtocolLine(rec::stack).pcs(key::stack_pcs, frames.pcs.data(), frames.pcs.size()).line();
  // Its Python stack now, read from outside (a CPython thread blocked in C: its frames are still).
  if (j.self != nullptr && j.self->tid == j.tid)
    text += pyframe_lines(python_thread_now(pid, *j.remote, static_cast<unsigned long>(j.self->handle)), 0);
  for (const ThreadWait* w : j.others) {
    std::string name;
    if (w->self != nullptr) name.assign(w->self->name, strnlen(w->self->name, sizeof w->self->name));
    if (name.empty()) name = task_comm(pid, w->tid, &buffer);
    const Frames& f = w->stack.frames;
    text += ProtocolLine(rec::waiting).num(key::waiting_tid, w->tid).text(key::waiting_name, name)
                .text(key::waiting_call, w->stack.called).pcs(key::waiting_pcs, f.pcs.data(), f.pcs.size()).line();
  }
  const ThreadSlot* self = j.self;
  std::vector<uint64_t> fork_pcs;
  if (self != nullptr) fork_pcs.assign(self->fork_pcs, self->fork_pcs + std::min<size_t>(self->nfork_pcs, max_site_pcs));
  text += ProtocolLine(rec::fork).num(key::fork_parent_pid, j.remote->process.fork_parent_pid)
              .num(key::fork_forking_tid, j.remote->process.fork_forking_tid)
              .pcs(key::fork_pcs, fork_pcs.data(), fork_pcs.size()).line();
  std::string python = python_text(pid, *j.remote);
  for (const ThreadSlot& s : j.slots)
    if (is_vanished(s, j.remote->process.generation)) text += thread_lines(pid, s, s.tid, relation_vanished, python);
  if (self != nullptr && self->nformer > 0 && self->nformer <= max_former_tids)
    text += thread_lines(pid, *self, self->former_tids[self->nformer - 1], relation_forker, python);
  return text + view.module_lines() + ProtocolLine(rec::end).line();
}

// <dir>/fh.<pid>.watchdog (or .1, .2... when taken), created exclusively, never followed through a link.
void Watchdog::Impl::write_report(pid_t pid, const std::string& text) {
  std::string path = config.dir + "/fh." + std::to_string(pid) + ".watchdog";
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    std::string name = attempt == 0 ? path : path + "." + std::to_string(attempt);
    fd = open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    notice("write", "forkhazard: cannot write the watchdog's report under " + config.dir + ": " + strerror(errno));
    return;
  }
  for (size_t done_bytes = 0; done_bytes < text.size();) {
    ssize_t n = write(fd, text.data() + done_bytes, text.size() - done_bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done_bytes += static_cast<size_t>(n);
  }
  close(fd);
}

// Carries out the ending prepared while the process was stopped (now let go), through `pidfd` only.
void Watchdog::Impl::carry_out(pid_t pid, const Ending& ending_, const ProcStatus& status, Fd& pidfd) {
  if (ending_.action.action == Action::report_only) return;
  if (pidfd.get() < 0) {
    // No pidfd (a kernel before 5.3, a sandbox that refuses it): no signal that could reach another process. An
    // injected exit takes effect all the same; otherwise the process is left as it is.
    if (ending_.kill_it || ending_.action.action == Action::abort)
      notice("pidfd." + std::to_string(pid), "forkhazard: cannot hold process " + std::to_string(pid) +
                                                 " by a pidfd: it is reported, not ended");
    return;
  }
  auto send = [&pidfd](int sig) { syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0); };
  if (ending_.action.action == Action::abort) send(abort_kills(status) ? SIGABRT : SIGKILL);
  else if (ending_.kill_it) send(SIGKILL);
  ending[pid] = {pidfd.release(), 1000 / config.poll_ms};  // about a second, then SIGKILL
}

Outcome Watchdog::Impl::judge(const Process& p, const std::vector<TaskWait>& team, const ProcStatus& status,
                              const RemoteShim& remote, Judgement signals, bool own_timer) {
  const pid_t pid = p.pid;
  // Every signal from here on goes through this pidfd, taken before the process is checked once more below: a
  // pid read earlier may name another process by the time a signal is sent (reaped, and the pid reused).
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  // One ptrace stop of every thread for everything: the stacks, then (on_deadlock=exit) the exit_group the judged
  // thread runs when resumed.
  std::vector<pid_t> stopped;
  auto let_go = [&] {
    for (pid_t tid : stopped) ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
  };
  int refused = 0;
  for (const TaskWait& t : team) {
    bool abandoned = false;
    int r = seize_and_stop(t.tid, &abandoned);
    if (abandoned) {
      let_go();
      return Outcome::retry;
    }
    if (r != 0) {
      refused = r;
      break;
    }
    stopped.push_back(t.tid);
  }
  bool traced = refused == 0;
  // Still in the same waits? (A signal we could not foresee may have come between the poll and the stop; and the
  // pidfd is then known to hold the process that was judged.)
  for (const TaskWait& t : team) {
    std::optional<SyscallLine> now;
    std::string path = proc_path(pid, "task") + "/" + std::to_string(t.tid) + "/syscall";
    if (read_file(path, &buffer)) now = parse_syscall(buffer);
    if (!now || now->nr != t.call.nr || now->args[0] != t.call.args[0]) {
      let_go();
      return Outcome::retry;
    }
  }
  if (!traced) {
    notice("ptrace", "forkhazard: cannot attach to " + std::to_string(pid) + " to take its stack (" +
                         strerror(refused) + "): reporting what /proc shows");
    // The stacks of a process judged as a whole are its evidence: none, no verdict.
    if (team.size() > 1) {
      let_go();
      return Outcome::declined;
    }
  }

  ProcessView view(pid);
  std::vector<ThreadSlot> slots = read_slots(pid, remote);
  std::vector<ThreadWait> threads;
  for (const TaskWait& t : team) {
    ThreadWait& w = threads.emplace_back();
    w.tid = t.tid;
    w.word = t.call.args[0];
    w.stack = take_stack(view, traced, t.call, t.tid);
    w.kind = classify_wait(w.stack.waits);
    for (const ThreadSlot& s : slots)
      if (is_live_here(s, remote.process.generation) && s.tid == t.tid) w.self = &s;
    // Lock waits are certain whatever the handlers: a lock by the table, or a semaphore the shim saw a vanished
    // thread take and never give back.
    w.lock_wait = is_lock_wait(w.kind) || (w.self != nullptr && w.self->fork_wait != nullptr && w.self->fork_wait_lock);
  }
  // Any other wait a handler may end is left alone (in a process judged as a whole, a handler running in one
  // thread may wake another).
  const bool all_locks = std::all_of(threads.begin(), threads.end(), [](const ThreadWait& w) { return w.lock_wait; });
  if (signals == Judgement::handler_may_wake && !all_locks) {
    let_go();
    return Outcome::declined;
  }
  // The second question of the rule: is a wait the fork's doing? The first thread (the main one first) whose is.
  std::string unrelated;
  Culprit culprit;
  size_t chosen = threads.size();
  for (size_t i = 0; i < threads.size() && chosen == threads.size(); ++i) {
    Culprit c;
    std::string why = fork_relation(pid, threads, i, remote, slots, &c);
    if (why.empty()) {
      chosen = i;
      culprit = c;
    } else if (i == 0) {
      unrelated = why;
    }
  }
  if (chosen == threads.size()) {
    let_go();
    const ThreadWait& main = threads.front();
    const bool interrupt_only = signals == Judgement::interrupt_only && !main.lock_wait;
    notice("unrelated." + std::to_string(pid),
           "forkhazard: note: process " + std::to_string(pid) +
               (threads.size() > 1 ? " has every thread blocked for good, its main thread" : "") + " waits in " +
               main.stack.called + "() on " + wait_kind_name(main.kind) + " that " +
               (interrupt_only ? "only a SIGINT can end" : "nothing left in it can end") + ", but " + unrelated +
               (threads.size() > 1 ? ", nor is any other thread's wait known to be" : "") +
               ": not judged a fork hazard, left as it is");
    return Outcome::declined;
  }
  const ThreadWait& judged = threads[chosen];
  // Only SIGINT's handler could run: it makes a wait give up, never succeed. A lock acquisition whose holder is
  // named and vanished (a mutex's owner, a semaphore a vanished thread took) is then certain whatever the other
  // threads' waits; one whose holder is not named (glibc's own lock, libgomp's team) is certain alone, or where
  // every thread's wait is a lock acquisition (a thread of the process whose signal-like wait a SIGINT ends may be
  // its holder). Any other wait is reported and left as it is (a SIGINT, from anyone, would end it).
  const bool named_holder = culprit.tid != 0 && culprit.relation == std::string_view(protocol::relation_vanished);
  const bool certain_lock = judged.lock_wait && (threads.size() == 1 || all_locks || named_holder);
  const bool interrupt_only = signals == Judgement::interrupt_only && !certain_lock;
  Judged j;
  j.word = judged.word;
  j.remote = &remote;
  j.stack = judged.stack;
  j.kind = judged.kind;
  j.lock_wait = judged.lock_wait;
  j.tid = judged.tid;
  j.self = judged.self;
  j.culprit = culprit;
  for (const ThreadWait& w : threads)
    if (&w != &judged) j.others.push_back(&w);
  j.interrupt_only = interrupt_only;
  j.handlers = signals != Judgement::endless;
  j.slots = std::move(slots);
  j.self = nullptr;  // into j.slots, which now holds them
  for (const ThreadSlot& s : j.slots)
    if (is_live_here(s, remote.process.generation) && s.tid == judged.tid) j.self = &s;
  j.family = catalogued_family(j.stack.called);
  j.inside = inside_family(j.family, remote, j.slots);
  j.ending = prepare_ending(judged.tid, remote, status, traced, j.word, interrupt_only, j.handlers && own_timer);
  write_report(pid, report_text(p, j, view));
  let_go();
  // A process left running: said at once, for a person watching a stalled log (the report follows at the end).
  if (j.ending.action.action == Action::report_only)
    notice("verdict." + std::to_string(pid), "forkhazard: deadlock in process " + std::to_string(pid) + ": " +
                                                 j.stack.called + "() waits forever on " + wait_kind_name(j.kind) +
                                                 "; " + j.ending.words + "; the report follows at the end of the run");
  carry_out(pid, j.ending, status, pidfd);
  return Outcome::judged;
}

Watchdog::Watchdog(Config config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->shim = read_shim_file(impl_->config.shim);
}

Watchdog::~Watchdog() = default;

void Watchdog::poll() { impl_->poll(); }

int Watchdog::poll_ms() const { return impl_->config.poll_ms; }

int poll_interval_from(const char* text) {
  int ms = 0;
  if (text == nullptr || !parse_dec(std::string_view(text), &ms) || ms < 10 || ms > 1000) return poll_interval_ms;
  return ms;
}

}  // namespace fh::watchdog
