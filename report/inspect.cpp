// `forkhazard inspect` (inspect.h).
#include "report/inspect.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "report/blocked.h"
#include "report/phrases.h"
#include "report/ptrace_ops.h"
#include "report/python_remote.h"
#include "report/remote_shim.h"
#include "report/watchdog.h"
#include "shim/python.h"
#include "shim/protocol.h"

namespace fh::watchdog {

namespace {

// One thread as /proc shows it.
struct Seen {
  pid_t tid = 0;
  char state = '?';
  std::optional<SyscallLine> call;
  std::string comm;
};

// "sleeps in a futex wait on 0x... (private, no timeout)", "runs", "sleeps in system call 0 (read)"...
std::string wait_words(const Seen& t) {
  switch (t.state) {
    case 'R': return "runs";
    case 'T':
    case 't': return "is stopped";
    case 'Z': return "has exited";
    case 'D': return "sleeps in the kernel (uninterruptible)";
    default: break;
  }
  if (!t.call) return "sleeps outside a system call";
  const SyscallLine& c = *t.call;
  if (c.nr != futex_syscall) {
    const char* name = c.nr == 0 ? " (read)" : c.nr == 7 ? " (poll)" : c.nr == 23 ? " (select)"
                     : c.nr == 34 ? " (pause)" : c.nr == 35 ? " (nanosleep)" : c.nr == 61 ? " (wait4)"
                     : c.nr == 232 ? " (epoll_wait)" : c.nr == 230 ? " (clock_nanosleep)" : c.nr == 271 ? " (ppoll)"
                     : c.nr == 281 ? " (epoll_pwait)" : "";
    return "sleeps in system call " + std::to_string(c.nr) + name + ": another process or a signal may end it";
  }
  ProcStatus quiet;
  quiet.threads = 1;
  Judgement j = judge_wait(c, quiet, 0);
  std::string where = "sleeps in a futex wait on " + hex(c.args[0]);
  if (j == Judgement::endless) return where + " (private, no timeout)";
  return where + ": " + judgement_words(j);
}

std::vector<Seen> look(pid_t pid, std::string* buffer) {
  std::vector<Seen> out;
  for (pid_t tid : task_ids(pid)) {
    std::string dir = proc_path(pid, "task") + "/" + std::to_string(tid) + "/";
    Seen& t = out.emplace_back();
    t.tid = tid;
    if (read_file(dir + "stat", buffer))
      if (std::optional<ProcStat> stat = parse_stat(*buffer)) t.state = stat->state;
    if (read_file(dir + "syscall", buffer)) t.call = parse_syscall(*buffer);
    t.comm = task_comm(pid, tid, buffer);
  }
  return out;
}

// Who a thread's wait is for, and whether that is the fork's doing, from what the process and its parent show
// (no shim: no registry of vanished threads). Empty: the fork's doing (*culprit named where the lock names one).
struct Blocked {
  pid_t tid = 0;
  uint64_t word = 0;
  BlockedStack stack;
  WaitKind kind = WaitKind::unknown;
  bool lock_wait = false;
  std::string python;  // its Python stack now (dumper's text, one stack)
  std::string comm;
};

struct Culprit {
  int tid = 0;
  std::string name;
};

std::string relation(pid_t pid, pid_t ppid, const std::vector<Blocked>& threads, size_t i, Culprit* culprit,
                     std::string* buffer) {
  const Blocked& t = threads[i];
  const bool alone = threads.size() == 1;
  auto any_in_handler = [&] {
    return std::any_of(threads.begin(), threads.end(), [](const Blocked& w) { return in_signal_handler(w.stack.waits); });
  };
  switch (t.kind) {
    case WaitKind::internal_lock:
      // Only a thread inside glibc holds it: with one thread left, one that vanished at fork(), unless a signal
      // handler of this thread re-entered glibc over its own hold. With more threads, any of them may hold it.
      if (in_signal_handler(t.stack.waits)) return "it waits inside a signal handler, which may have interrupted its own hold";
      if (alone) return {};
      return "another thread of it may hold that glibc lock (glibc's own locks record no owner)";
    case WaitKind::team_barrier: {
      return team_of_its_own(threads, i);
    }
    case WaitKind::mutex: {
      int owner = 0;
      std::string why = mutex_owner_outside(pid, threads, i, any_in_handler(), &owner);
      if (!why.empty() || owner == 0) return why;
      std::string task = proc_path(ppid, "task") + "/" + std::to_string(owner);
      if (ppid > 1 && access(task.c_str(), F_OK) == 0) {
        *culprit = {owner, task_comm(ppid, owner, buffer)};
        return {};
      }
      return "its mutex is held by thread " + std::to_string(owner) +
             ", which is not a thread of this process, nor a live thread of its parent";
    }
    case WaitKind::unknown:
    case WaitKind::rwlock:
    case WaitKind::condvar:
    case WaitKind::semaphore:
    case WaitKind::static_init:
      break;
  }
  return "nothing read shows it is the fork's doing (from outside, " + std::string(wait_kind_name(t.kind)) +
         " records no holder)";
}

std::string stack_lines(ProcessView& view, const BlockedStack& stack, const std::string& indent) {
  std::string out;
  for (size_t i = 0; i < stack.frames.pcs.size(); ++i) {
    uint64_t pc = stack.frames.pcs[i];
    const FrameSymbols& s = stack.symbols[i];
    std::string module = view.module_path(stack.frames.activation[i] ? pc : pc - 1);
    module = module.substr(module.rfind('/') + 1);
    out += indent + "#" + std::to_string(i) + " " + hex(pc) + (s.symbol.empty() ? "" : " in " + s.symbol) +
           (module.empty() ? "" : " (" + module + ")") + "\n";
  }
  return out;
}

std::string python_lines(const std::string& python, const std::string& indent) {
  std::string out;
  shim::python::for_each_frame(python.data(), python.size(), 0,
                               [&](const char* file, size_t file_len, long line, const char* func, size_t func_len) {
                                 out += indent + "File \"" + std::string(file, file_len) + "\", line " +
                                        (line > 0 ? std::to_string(line) : std::string("?")) + ", in " +
                                        std::string(func, func_len) + "\n";
                               });
  return out;
}

}  // namespace

std::vector<pid_t> blocked_processes() {
  std::vector<pid_t> out;
  std::string buffer;
  uid_t me = getuid();
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* entry = readdir(d)) {
    pid_t pid = 0;
    if (!parse_dec(std::string_view(entry->d_name), &pid) || pid == getpid()) continue;
    struct stat st;
    if (me != 0 && (::stat(proc_path(pid, "").c_str(), &st) != 0 || st.st_uid != me)) continue;
    if (stuck_threads(pid, &buffer)) out.push_back(pid);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Inspection inspect_process(pid_t pid) {
  Inspection r;
  std::string buffer;
  std::string head = "forkhazard: inspect: process " + std::to_string(pid);
  if (!read_file(proc_path(pid, "stat"), &buffer)) {
    r.status = Inspection::Status::no_such_process;
    r.summary = head + ": no such process\n";
    return r;
  }
  std::optional<ProcStat> stat = parse_stat(buffer);
  if (!stat) {
    r.status = Inspection::Status::gone;
    r.summary = head + ": ended during inspection\n";
    return r;
  }
  const pid_t ppid = static_cast<pid_t>(stat->ppid);
  std::string name = task_comm(pid, pid, &buffer);
  head += " \"" + name + "\" (child of " + std::to_string(ppid) + ")";
  if (stat->state == 'Z') {
    r.summary = head + " has exited (a zombie its parent has not reaped): nothing to inspect\n";
    return r;
  }
  if (!read_file(proc_path(pid, "syscall"), &buffer) && (errno == EACCES || errno == EPERM)) {
    r.status = Inspection::Status::not_permitted;
    r.summary = head + ": not permitted to read its state (another user's process: inspect it as that user, or root)\n";
    return r;
  }

  std::vector<Seen> first = look(pid, &buffer);
  std::string threads_text;
  for (const Seen& t : first)
    threads_text += "  thread " + std::to_string(t.tid) + " \"" + t.comm + "\" " + wait_words(t) + "\n";
  head += ": " + std::to_string(first.size()) + (first.size() == 1 ? " thread\n" : " threads\n");
  std::optional<std::vector<TaskWait>> before = stuck_threads(pid, &buffer);
  if (!before) {
    r.summary = head + threads_text + "  not blocked for good: no verdict\n";
    return r;
  }
  usleep(inspect_look_ms * 1000);
  std::optional<std::vector<TaskWait>> after = stuck_threads(pid, &buffer);
  if (access(proc_path(pid, "stat").c_str(), F_OK) != 0) {
    r.status = Inspection::Status::gone;
    r.summary = head + "  ended during inspection\n";
    return r;
  }
  if (!after || *after != *before) {
    r.summary = head + threads_text + "  its waits changed within " + std::to_string(inspect_look_ms) +
                " ms (it runs): no verdict\n";
    return r;
  }
  std::optional<ProcStatus> status;
  if (read_file(proc_path(pid, "status"), &buffer)) status = parse_status(buffer);
  uint64_t timers = read_file(proc_path(pid, "timers"), &buffer) ? parse_timer_signals(buffer) : 0;
  if (!status) {
    r.status = Inspection::Status::gone;
    r.summary = head + "  ended during inspection\n";
    return r;
  }
  ProcStatus one = *status;
  one.threads = 1;  // the handlers are the whole process's; the thread count is judged here, as a whole
  Judgement signals = judge_wait(before->front().call, one, timers);

  // Stopped an instant, every thread, for the stacks; let go before anything is printed.
  std::vector<pid_t> stopped;
  auto let_go = [&] {
    for (pid_t tid : stopped) ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
    stopped.clear();
  };
  int refused = 0;
  for (const TaskWait& t : *before) {
    bool abandoned = false;
    int e = seize_and_stop(t.tid, &abandoned);
    if (abandoned) {
      let_go();
      r.summary = head + threads_text + "  a signal came, or it ended, while it was being stopped: no verdict\n";
      return r;
    }
    if (e != 0) {
      refused = e;
      break;
    }
    stopped.push_back(t.tid);
  }
  if (refused != 0) {
    let_go();
    r.summary = head + threads_text + "  every thread waits for good, but it cannot be stopped to read its stacks (" +
                strerror(refused) +
                ": ptrace refused, by kernel.yama.ptrace_scope, a container, or another tracer): no verdict\n";
    return r;
  }

  ProcessView view(pid);
  // A CPython: its layout, once for every thread.
  uint64_t runtime = view.symbol_address("_PyRuntime"), version = 0;
  if (uint64_t at = view.symbol_address("Py_Version")) read_remote(pid, at, &version, sizeof version);
  shim::python::walk::Layout layout;
  RemoteMemory memory{pid};
  const bool python = runtime != 0 && shim::python::walk::layout_for(memory, runtime, version, &layout);
  std::vector<Blocked> threads;
  for (const TaskWait& t : *before) {
    Blocked& b = threads.emplace_back();
    b.tid = t.tid;
    b.word = t.call.args[0];
    b.stack = take_stack(view, true, t.call, t.tid);
    b.kind = classify_wait(b.stack.waits);
    b.lock_wait = is_lock_wait(b.kind);
    b.comm = task_comm(pid, t.tid, &buffer);
    if (python) b.python = live_stack(pid, runtime, layout, layout.ts_native_id, static_cast<uint64_t>(t.tid),
                                      before->size() == 1);
  }
  const bool all_locks = std::all_of(threads.begin(), threads.end(), [](const Blocked& b) { return b.lock_wait; });
  std::string why_not;
  Culprit culprit;
  size_t chosen = threads.size();
  if (signals == Judgement::handler_may_wake && !all_locks) {
    why_not = "a signal handler it has may end a wait that is not a lock acquisition";
  } else {
    for (size_t i = 0; i < threads.size() && chosen == threads.size(); ++i) {
      Culprit c;
      std::string why = relation(pid, ppid, threads, i, &c, &buffer);
      if (why.empty()) {
        chosen = i;
        culprit = c;
      } else if (i == 0) {
        why_not = why;
      }
    }
  }
  std::string modules = view.module_lines();
  let_go();

  // What was seen, every thread: its wait, and its stacks when no report will show them.
  const bool verdict = chosen != threads.size();
  std::string seen = head;
  for (const Blocked& b : threads) {
    seen += "  thread " + std::to_string(b.tid) + " \"" + b.comm + "\" waits for good in " + b.stack.called +
            "() on futex word " + hex(b.word) + " (" + wait_kind_name(b.kind) + ")\n";
    if (verdict) continue;
    seen += stack_lines(view, b.stack, "    ");
    if (!b.python.empty()) seen += "    Python stack:\n" + python_lines(b.python, "      ");
  }
  if (!verdict) {
    r.summary = seen + "  no verdict: " + why_not + "\n";
    return r;
  }

  const Blocked& judged = threads[chosen];
  const bool named = culprit.tid != 0;
  const bool certain_lock = judged.lock_wait && (threads.size() == 1 || all_locks || named);
  const bool interrupt_only = signals == Judgement::interrupt_only && !certain_lock;
  using namespace protocol;
  std::string where = view.data_symbol(judged.word);
  std::string text = magic_line;
  text += ProtocolLine(rec::report).num(key::report_pid, pid).num(key::report_ppid, ppid).line();
  text += "# forkhazard: deadlock in process " + std::to_string(pid) + ", found by forkhazard inspect: " +
          (threads.size() == 1 ? std::string("its only thread")
                               : "every one of its " + std::to_string(threads.size()) +
                                     " threads is blocked for good; thread " + std::to_string(judged.tid)) +
          " waits in " + judged.stack.called + "() on private futex word " + hex(judged.word) +
          (named ? ", held by thread " + std::to_string(culprit.tid) + " of its parent, which vanished at fork()" : "") +
          "\n";
  ProtocolLine hazard(rec::hazard);
  hazard.word(key::hazard_kind, kind_deadlock).text(key::hazard_call, judged.stack.called);
  if (interrupt_only) hazard.num(key::hazard_interrupt_only, 1);
  ProtocolLine lock(rec::lock);
  lock.hex(key::lock_addr, judged.word).word(key::lock_type, type_futex);
  if (!where.empty()) lock.text(key::lock_symbol, where);
  text += hazard.line() + lock.line();
  if (named)
    text += ProtocolLine(rec::owner).num(key::owner_tid, culprit.tid).text(key::owner_name, culprit.name)
                .word(key::owner_relation, relation_vanished).line();
  const Frames& frames = judged.stack.frames;
  text += ProtocolLine(rec::stack).pcs(key::stack_pcs, frames.pcs.data(), frames.pcs.size()).line();
  text += pyframe_lines(judged.python, 0);
  for (const Blocked& b : threads) {
    if (&b == &judged) continue;
    const Frames& f = b.stack.frames;
    text += ProtocolLine(rec::waiting).num(key::waiting_tid, b.tid).text(key::waiting_name, b.comm)
                .text(key::waiting_call, b.stack.called).pcs(key::waiting_pcs, f.pcs.data(), f.pcs.size()).line();
  }
  text += modules + ProtocolLine(rec::end).line();
  r.deadlock = true;
  r.raw = text;
  r.summary = seen + "  verdict: deadlock (the report follows)\n";
  return r;
}

}  // namespace fh::watchdog
