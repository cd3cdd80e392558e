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

std::string live_text(pid_t pid, uint64_t runtime, uint64_t version, bool* known) {
  RemoteMemory memory{pid};
  walk::Layout layout;
  bool ok = walk::layout_for(memory, runtime, version, &layout);
  if (known != nullptr) *known = ok;
  if (!ok) return {};
  walk::Walker<RemoteMemory> walker(memory, layout);
  std::vector<char> buffer(256 * 1024);
  walk::Text text{buffer.data(), buffer.size()};
  if (walker.all_threads(runtime, 0, text) < 0) return {};
  return std::string(buffer.data(), text.len);
}

std::string live_text(pid_t pid, uint64_t runtime, const walk::Layout& layout, unsigned long thread) {
  RemoteMemory memory{pid};
  walk::Walker<RemoteMemory> walker(memory, layout);
  std::vector<char> buffer(64 * 1024);
  walk::Text text{buffer.data(), buffer.size()};
  walker.for_each_thread(runtime, [&](uint64_t id, uint64_t ts) {
    if (id == thread && text.len == 0) walker.frames(ts, text);
  });
  return std::string(buffer.data(), text.len);
}

std::string live_stack_of(pid_t pid, uint64_t runtime, uint64_t version, pid_t tid) {
  RemoteMemory memory{pid};
  walk::Layout layout;
  if (!walk::layout_for(memory, runtime, version, &layout)) return {};
  walk::Walker<RemoteMemory> walker(memory, layout);
  uint64_t match = 0, only = 0;
  int states = 0;
  walker.for_each_thread(runtime, [&](uint64_t, uint64_t ts) {
    uint64_t native = 0;
    if (memory.read(ts + layout.ts_native_id, &native, sizeof native) && native == static_cast<uint64_t>(tid))
      match = ts;
    only = ts;
    states++;
  });
  uint64_t ts = match != 0 ? match : states == 1 ? only : 0;
  if (ts == 0) return {};
  std::vector<char> buffer(64 * 1024);
  walk::Text text{buffer.data(), buffer.size()};
  walker.frames(ts, text);
  return std::string(buffer.data(), text.len);
}

}  // namespace fh::watchdog
