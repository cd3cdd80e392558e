// A blocked process seen from outside (blocked.h).
#include "report/blocked.h"

#include <dirent.h>

#include <algorithm>

#include "report/watchdog.h"

namespace fh::watchdog {

std::optional<std::vector<TaskWait>> stuck_threads(pid_t pid, std::string* buffer) {
  std::vector<pid_t> tids;
  std::string task = proc_path(pid, "task");
  if (DIR* d = opendir(task.c_str())) {
    while (dirent* entry = readdir(d)) {
      pid_t tid = 0;
      if (parse_dec(std::string_view(entry->d_name), &tid) && tid != pid) tids.push_back(tid);
    }
    closedir(d);
  }
  std::sort(tids.begin(), tids.end());
  tids.insert(tids.begin(), pid);
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

}  // namespace fh::watchdog
