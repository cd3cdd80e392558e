// The shim inside a watched process, read from outside: where its exported state lies, the state itself
// (shim/remote.h), and its registry's slots written as raw-protocol `thread` and `held` lines.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shim/core.h"
#include "shim/remote.h"

namespace fh::watchdog {

// The shim's state layout the watchdog reads from outside, and nothing else of the shim's names (the report model
// has its own LockType, HeldLock and Hazard).
using shim::is_live_here;
using shim::is_vanished;
using shim::max_families;
using shim::max_former_tids;
using shim::max_site_pcs;
using shim::ProcessState;
using shim::ThreadSlot;

// libforkhazard.so's own facts: where its forkhazard_remote_state lies relative to its load address.
struct ShimFile {
  bool usable = false;
  uint64_t symbol = 0;      // st_value of forkhazard_remote_state
  uint64_t first_page = 0;  // page of the PT_LOAD at file offset 0: load bias = that mapping's start - first_page
  ino_t inode = 0;
  std::string problem;      // why it is not usable
};
ShimFile read_shim_file(const std::string& path);

// The load bias of the shim in process `pid` (its mapping at file offset 0, found by path or inode), or nullopt
// when the process has not loaded it (a static program, one exec'd without LD_PRELOAD).
std::optional<uint64_t> shim_bias(pid_t pid, const std::string& path, const ShimFile& shim, std::string* buffer);

struct RemoteShim {
  RemoteState remote;
  ProcessState process;
};
// The shim state of `pid`; nullopt when it cannot be read, with *problem set when the shim is from another build.
std::optional<RemoteShim> read_remote_shim(pid_t pid, uint64_t bias, const ShimFile& shim, std::string* problem);
// The registry slots [0, slots_used) of a process (empty when they cannot be read).
std::vector<ThreadSlot> read_slots(pid_t pid, const RemoteShim& shim);

// ---- raw-protocol lines (shim/protocol.h) ---------------------------------------------------------------------

// `thread` and `held` lines of one slot of process `pid`, as the shim's own report writes them
// (shim/report.cpp write_thread): the held stack, then the mutexes whose lock words name the thread.
// `python`: what CPython's dumper wrote at the fork in that process (python_text), for the thread's `pyframe` lines.
std::string thread_lines(pid_t pid, const ThreadSlot& s, int tid, const char* relation, const std::string& python = {});

// The Python stacks at the fork in process `pid` (shim/python.h), in the dumper's text; empty when none.
std::string python_text(pid_t pid, const RemoteShim& shim);

// The Python stack of thread `thread` (its pthread_t) of process `pid` now, read from outside by the layout the
// shim found (its snapshot's); one stack, no header. Empty when none (not CPython, no snapshot, not a Python thread).
std::string python_thread_now(pid_t pid, const RemoteShim& shim, unsigned long thread);

// `pyframe` lines for thread `thread` of a dumper's text (0: every frame of a single stack).
std::string pyframe_lines(const std::string& python, unsigned long thread);

}  // namespace fh::watchdog
