// What `forkhazard run`'s hang watchdog reads of a watched process from outside (process_vm_readv): one
// exported object, found by name in the shim's dynamic symbol table, that points at the core's state. The CLI
// is built from the same headers, so it reads ProcessState and ThreadSlot with their own layouts; the sizes
// here let it refuse a shim from another build instead of misreading it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fh {

inline constexpr uint64_t remote_magic = 0x31657461747368'66ull;  // "fhstate1", little-endian
// 3: the process's own options, vm_peers, own_wait; 4: fork_wait; 5: the Python stacks at the fork; 6: their
// snapshot (shim/python_walk.h)
inline constexpr uint32_t remote_version = 6;
inline constexpr const char remote_symbol[] = "forkhazard_remote_state";

struct RemoteState {
  uint64_t magic;          // remote_magic
  uint32_t version;        // remote_version
  uint32_t process_size;   // sizeof(ProcessState)
  uint32_t slot_size;      // sizeof(ThreadSlot)
  uint32_t max_threads;    // entries of g_slots
  const void* process;     // &g_process (pointers: an address constant, so the object is initialised statically)
  const void* slots;       // g_slots
  const char* python_text;      // the Python stacks at the fork as text (shim/python.h), python_size bytes at most
  const size_t* python_len;     // its length (0: not made, or none)
  size_t python_size;
  const void* python_snapshot;  // the raw snapshot the text is made from (python_walk.h's Snapshot)
  size_t snapshot_size;         // sizeof(Snapshot)
};

}  // namespace fh
