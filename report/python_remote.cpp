// CPython's Python stacks read from outside a process (python_remote.h).
#include "report/python_remote.h"

#include <vector>

#include "report/proc_files.h"

namespace fh::watchdog {

namespace walk = shim::python::walk;

bool RemoteMemory::read(uint64_t at, void* out, size_t n) { return n == 0 || read_remote(pid, at, out, n); }

std::string snapshot_text(pid_t pid, const walk::Snapshot& snapshot) {
  RemoteMemory memory{pid};
  walk::Walker<RemoteMemory> walker(memory, snapshot.layout);
  std::vector<char> buffer(256 * 1024);
  walk::Text text{buffer.data(), buffer.size()};
  walker.format(snapshot, text);
  return std::string(buffer.data(), text.len);
}

std::string live_stack(pid_t pid, uint64_t runtime, const walk::Layout& layout, uint64_t id_offset, uint64_t id,
                       bool only_state_will_do) {
  RemoteMemory memory{pid};
  walk::Walker<RemoteMemory> walker(memory, layout);
  uint64_t match = 0, only = 0;
  int states = 0;
  walker.for_each_thread(runtime, [&](uint64_t, uint64_t ts) {
    uint64_t value = 0;
    if (match == 0 && memory.read(ts + id_offset, &value, sizeof value) && value == id) match = ts;
    only = ts;
    states++;
  });
  uint64_t ts = match != 0 ? match : only_state_will_do && states == 1 ? only : 0;
  if (ts == 0) return {};
  std::vector<char> buffer(64 * 1024);
  walk::Text text{buffer.data(), buffer.size()};
  walker.frames(ts, text);
  return std::string(buffer.data(), text.len);
}

}  // namespace fh::watchdog
