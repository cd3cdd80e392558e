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

// Every thread of the live interpreter of process `pid` whose `_PyRuntime` is at `runtime` (Py_Version
// `version`, 0 if unknown). Empty when the layout is not one the walk knows or the runtime cannot be read;
// *known (if given) says whether the layout was known.
std::string live_text(pid_t pid, uint64_t runtime, uint64_t version, bool* known = nullptr);

// One thread's stack (`thread`: its id, a pthread_t) of the live interpreter of process `pid`, by a known layout;
// no header. Empty when that thread has no thread state.
std::string live_text(pid_t pid, uint64_t runtime, const shim::python::walk::Layout& layout, unsigned long thread);

// The stack of the thread whose kernel id is `tid` in the live interpreter of process `pid` (`_PyRuntime` at
// `runtime`, Py_Version `version`); the only thread state's when the interpreter has one and none has that id
// (a fork's child, whose one thread state may keep the forking thread's id). Empty when none.
std::string live_stack_of(pid_t pid, uint64_t runtime, uint64_t version, pid_t tid);

}  // namespace fh::watchdog
