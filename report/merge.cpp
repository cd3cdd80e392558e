// Merging the hazards of all processes of a run by signature, and the one-line summary of what remains.
#include "report/merge.h"
#include "report/phrases.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>

namespace fh {

namespace {


// One machine frame: module and file address. A PC outside every recorded module has nothing but its address
// (the same program exec'd twice may well put it elsewhere, but there is nothing better to compare).
std::string frame_key(const Frame& frame) {
  if (frame.module.empty()) return "?" + hex(frame.pc);
  return frame.module + "+" + hex(frame.offset);
}

}  // namespace

std::string hazard_signature(const Hazard& hazard) {
  // One field per line: module paths may hold spaces, but a path with a newline is not worth a quoting scheme.
  std::string signature = std::string(spelling(hazard.kind, hazard.kind_spelling)) + " " + hazard.call;
  if (hazard.lock) signature += " " + std::string(spelling(hazard.lock->type, hazard.lock->type_spelling));
  signature += '\n';
  // Inlined frames share their machine frame's pc: the last of each run (not `inlined`) stands for it.
  for (const Frame& frame : hazard.stack)
    if (!frame.inlined) signature += frame_key(frame) + '\n';
  if (hazard.kind == HazardKind::unsafe_call && hazard.site) signature += "site " + frame_key(*hazard.site) + '\n';
  // A CPython program's C stacks are the interpreter's, the same for every Python call site: its Python frames
  // tell them apart (the children of one multiprocessing.Pool calling from one line still merge).
  for (const PyFrame& frame : hazard.python_stack)
    signature += "py " + frame.file + ":" + std::to_string(frame.line) + " " + frame.function + '\n';
  return signature;
}

std::vector<HazardGroup> merge_hazards(const std::vector<Report>& reports) {
  std::vector<HazardGroup> groups;
  std::unordered_map<std::string, size_t> index;  // signature -> groups[i]
  for (const Report& report : reports) {
    for (const Hazard& hazard : report.hazards) {
      int64_t pid = hazard.pid != 0 ? hazard.pid : report.pid;
      auto [it, inserted] = index.emplace(hazard_signature(hazard), groups.size());
      if (inserted) {
        groups.push_back(HazardGroup{hazard, 1, {pid}});
        continue;
      }
      HazardGroup& group = groups[it->second];
      ++group.occurrences;
      // An unsafe call's count is its calls at that site: merged processes add up.
      if (hazard.kind == HazardKind::unsafe_call) group.hazard.count += hazard.count;
      // What any of them could not record stays visible. The largest count per field, not the sum: a child
      // inherits its parent's counters at fork(), so processes' counts overlap.
      Overflow& overflow = group.hazard.overflow;
      overflow.held = std::max(overflow.held, hazard.overflow.held);
      overflow.threads = std::max(overflow.threads, hazard.overflow.threads);
      overflow.sites = std::max(overflow.sites, hazard.overflow.sites);
      bool seen = false;
      for (int64_t p : group.pids) seen = seen || p == pid;
      if (!seen) group.pids.push_back(pid);
    }
  }
  return groups;
}

std::string format_summary(const std::vector<HazardGroup>& groups) {
  size_t deadlocks = 0, possible_deadlocks = 0, unsafe_calls = 0, others = 0;
  std::set<int64_t> pids;
  for (const HazardGroup& group : groups) {
    switch (group.hazard.kind) {
      case HazardKind::deadlock: ++deadlocks; break;
      case HazardKind::possible_deadlock: ++possible_deadlocks; break;
      case HazardKind::unsafe_call: ++unsafe_calls; break;
      case HazardKind::other: ++others; break;
    }
    pids.insert(group.pids.begin(), group.pids.end());
  }
  if (groups.empty()) return "forkhazard: no hazards\n";
  std::string counts;
  auto add = [&](size_t n, const char* one, const char* many) {
    if (n == 0) return;
    if (!counts.empty()) counts += ", ";
    counts += std::to_string(n) + " " + (n == 1 ? one : many);
  };
  add(deadlocks, "deadlock", "deadlocks");
  add(possible_deadlocks, "possible deadlock", "possible deadlocks");
  add(unsafe_calls, "unsafe call", "unsafe calls");
  add(others, "hazard of a kind unknown to this forkhazard", "hazards of a kind unknown to this forkhazard");
  const char* processes = pids.size() == 1 ? " process\n" : " processes\n";
  return "forkhazard: " + counts + " in " + std::to_string(pids.size()) + processes;
}

}  // namespace fh
