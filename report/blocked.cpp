// A blocked process seen from outside (blocked.h).
#include "report/blocked.h"

#include <dirent.h>
#include <pthread.h>

#include <algorithm>

#include "report/watchdog.h"
#include "shim/glibc_locks.h"

namespace fh::watchdog {

std::vector<pid_t> task_ids(pid_t pid) {
  std::vector<pid_t> tids;
  if (DIR* d = opendir(proc_path(pid, "task").c_str())) {
    while (dirent* entry = readdir(d)) {
      pid_t tid = 0;
      if (parse_dec(std::string_view(entry->d_name), &tid) && tid != pid) tids.push_back(tid);
    }
    closedir(d);
  }
  std::sort(tids.begin(), tids.end());
  tids.insert(tids.begin(), pid);
  return tids;
}

std::string task_comm(pid_t pid, pid_t tid, std::string* buffer) {
  if (!read_file(proc_path(pid, "task") + "/" + std::to_string(tid) + "/comm", buffer)) return {};
  return buffer->substr(0, buffer->find('\n'));
}

std::optional<std::vector<TaskWait>> stuck_threads(pid_t pid, std::string* buffer) {
  std::vector<pid_t> tids = task_ids(pid);
  std::string task = proc_path(pid, "task");
  ProcStatus quiet;  // the syscall line alone (the handlers are the whole process's: judged after)
  quiet.threads = 1;
  std::vector<TaskWait> out;
  for (pid_t tid : tids) {
    std::string dir = task + "/" + std::to_string(tid) + "/";
    std::optional<ProcStat> stat;
    if (read_file(dir + "stat", buffer)) stat = parse_stat(*buffer);
    if (!stat || stat->state != 'S') return std::nullopt;
    std::optional<SyscallLine> call;
    if (read_file(dir + "syscall", buffer)) call = parse_syscall(*buffer);
    if (!call || judge_wait(*call, quiet, 0) != Judgement::endless) return std::nullopt;
    std::optional<ProcStatus> status;
    if (read_file(dir + "status", buffer)) status = parse_status(*buffer);
    if (!status) return std::nullopt;
    out.push_back({tid, *call, status->voluntary_switches, status->blocked});
  }
  return out;
}


BlockedStack take_stack(ProcessView& view, bool traced, const SyscallLine& call, pid_t tid) {
  BlockedStack stack;
  if (traced) stack.frames = view.unwind(tid);
  if (stack.frames.pcs.empty()) {  // what /proc shows: the pc of the system call
    stack.frames.pcs = {call.pc};
    stack.frames.activation = {true};
  }
  const Frames& f = stack.frames;
  for (size_t i = 0; i < f.pcs.size(); ++i) {
    uint64_t pc = f.activation[i] ? f.pcs[i] : f.pcs[i] - 1;
    FrameSymbols symbols = view.symbols(pc);
    if (i + 1 < f.pcs.size() && view.module_of(pc) != view.module_of(f.pcs[i + 1] - 1))
      symbols.entered = view.entered_through(f.pcs[i + 1]);
    stack.waits.push_back({symbols.symbol, symbols.exported, view.module_path(pc), i > 0 && f.activation[i]});
    stack.symbols.push_back(std::move(symbols));
  }
  stack.called = pick_call(stack.symbols);
  return stack;
}

std::string mutex_owner_outside(pid_t pid, uint64_t word, pid_t waiter, const std::vector<pid_t>& tids,
                                bool any_in_handler, int* owner) {
  pthread_mutex_t m;
  if (!read_remote(pid, word, &m, sizeof m)) return "its mutex cannot be read";
  *owner = m.__data.__owner;
  if (*owner == 0)
    return any_in_handler ? "a thread of it waits inside a signal handler, and the mutex names no owner" : std::string();
  if (*owner < 0 || *owner >= glibc::mutex_owner_notrecoverable) return "its mutex names no owner";
  for (pid_t tid : tids)
    if (tid == *owner)
      return tid == waiter ? "its mutex is held by its own thread"
                           : "its mutex is held by thread " + std::to_string(tid) + " of this process";
  return {};
}

std::string team_of_its_own(const std::vector<std::pair<pid_t, WaitKind>>& kinds, size_t self) {
  for (size_t k = 0; k < kinds.size(); ++k)
    if (k != self && kinds[k].second == WaitKind::team_barrier)
      return "thread " + std::to_string(kinds[k].first) + " of it waits in libgomp's team too: the team may be its own";
  return {};
}

}  // namespace fh::watchdog
