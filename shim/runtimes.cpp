// Runtimes' locks taken only under their big lock (runtimes.h).
#include "shim/runtimes.h"

#include <cstddef>
#include <cstdint>

namespace fh::shim::runtimes {

namespace {

// The table. Ruby 3.x: `rb_vm_t *ruby_current_vm_ptr` (exported by libruby); the VM lock is
// vm->ractor.sync.lock, at offset 48 from 3.0 to 3.4 (self, then the ractor set: a list head, two counts, the main
// ractor and thread; checked on 3.1 and 3.3: the lock forkhazard predicted on is that address). Ruby takes it
// (RB_VM_LOCK_ENTER, the blocking-thread counts) only from a thread that holds its GVL, and a Ruby fork (Process.fork,
// Kernel#fork) holds the GVL across fork(): a vanished Ruby thread never holds the VM lock at a fork.
struct Row {
  const char* symbol;  // a pointer variable the runtime exports
  size_t offset;       // the lock's offset in the object it points at
};
constexpr Row rows[] = {
    {"ruby_current_vm_ptr", 48},
};
constexpr size_t row_count = sizeof rows / sizeof rows[0];

void* const* g_symbols[row_count];   // the exported variables, once found
const void* g_locks[row_count];      // their locks in this process, as at the last fork
bool g_resolved;

}  // namespace

void resolve(void* (*lookup)(const char* name)) {
  if (__atomic_exchange_n(&g_resolved, true, __ATOMIC_ACQ_REL)) return;
  for (size_t i = 0; i < row_count; i++)
    __atomic_store_n(&g_symbols[i], static_cast<void* const*>(lookup(rows[i].symbol)), __ATOMIC_RELEASE);
}

void note_at_fork() {
  for (size_t i = 0; i < row_count; i++) {
    void* const* symbol = __atomic_load_n(&g_symbols[i], __ATOMIC_ACQUIRE);
    void* object = symbol != nullptr ? *symbol : nullptr;
    g_locks[i] = object != nullptr ? static_cast<const char*>(object) + rows[i].offset : nullptr;
  }
}

bool taken_only_under_big_lock(const void* lock) {
  for (const void* l : g_locks)
    if (l != nullptr && l == lock) return true;
  return false;
}

}  // namespace fh::shim::runtimes
