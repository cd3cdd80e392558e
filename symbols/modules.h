// The module map of the running process (path, address range, load bias, build-id), read from
// /proc/self/maps and the ELF headers in memory: async-signal-safe and free of the loader lock, so a forked
// child can write it whatever its vanished threads held.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fh {

struct ModuleEntry {
  uintptr_t lo, hi;   // address range of the module's PT_LOAD segments
  uintptr_t bias;     // file address = pc - bias
  uint8_t build_id[32];
  size_t build_id_len;
  const char* path;   // valid only during the callback
};

// Calls fn for every ELF file mapped in this process, in address order. Returns the number of modules, or -1
// when /proc/self/maps cannot be read.
int for_each_module(void (*fn)(const ModuleEntry& module, void* ctx), void* ctx);

}  // namespace fh
