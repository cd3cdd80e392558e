// Writing raw reports (shim/protocol.h) from inside the watched process: async-signal-safe, no allocation,
// safe in a forked child whatever its vanished threads held.
#pragma once

#include "shim/core.h"

namespace fh {

struct Hazard {
  const char* kind;   // protocol::kind_*
  const char* call;   // the interposed function the program called
  const void* lock;   // the address the program passed; nullptr when not a lock call
  LockType held_as;   // how the blocking owner holds it
  int owner_tid;      // parent-side tid from glibc's lock word; 0 when unknown
};

// Writes one report block to stderr or to <log_path>.<pid>. errno is preserved.
void report_hazard(const Hazard& hazard);

// Applies on_deadlock after a deadlock report: _exit(exitcode), abort(), or return (the call then blocks).
void act_on_deadlock();

}  // namespace fh
