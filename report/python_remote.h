// CPython's Python stacks read from outside a process (process_vm_readv), by the walk the shim uses inside
// (shim/python_walk.h): a watched child's snapshot taken at its fork, or the live threads of any CPython process
// (`forkhazard inspect`). The text is the dumper's, which shim/python.h's parser reads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "shim/python_walk.h"

namespace fh::watchdog {

// Another process's memory, as the walk reads it.
struct RemoteMemory {
  pid_t pid;
  bool read(uint64_t at, void* out, size_t n);
};

// The text of a snapshot taken in process `pid` (its code objects are read there).
std::string snapshot_text(pid_t pid, const shim::python::walk::Snapshot& snapshot);

// One thread's stack, no header, in the live interpreter of process `pid` (`_PyRuntime` at `runtime`, laid out as
// `layout`): the thread state whose word at `id_offset` (the layout's ts_thread_id: a pthread_t; ts_native_id: a
// kernel tid) is `id`; when none is and `only_state_will_do`, the interpreter's only thread state (a fork's child
// whose one thread state kept the forking thread's ids: for a caller that knows the process has one thread).
// Empty when none.
std::string live_stack(pid_t pid, uint64_t runtime, const shim::python::walk::Layout& layout, uint64_t id_offset,
                       uint64_t id, bool only_state_will_do);

}  // namespace fh::watchdog
