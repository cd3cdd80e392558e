// Runtimes' locks taken only under their big lock (runtimes.h).
#include "shim/runtimes.h"

#include <cstddef>
#include <cstdint>

namespace fh::shim::runtimes {

namespace {

// The table. Ruby 3.x: `rb_vm_t *ruby_current_vm_ptr`; the VM lock is vm->ractor.sync.lock, at offset 48 from 3.0
// to 3.4 (self, then the ractor set: a list head, two counts, the main ractor and thread; checked on 3.1 and 3.3:
// the lock forkhazard predicted on is that address, and 3.3's vm_lock_enter locks `0x30(vm)`). 3.1 exports the
// variable; 3.3 (Debian 13) does not, and is found through the exported ruby_vm_at_exit, whose first RIP-relative
// load reads it (checked by disassembly). Ruby takes the VM lock (RB_VM_LOCK_ENTER, the blocking-thread counts)
// only from a thread that holds its GVL, and a Ruby fork (Process.fork, Kernel#fork) holds the GVL across fork():
// a vanished Ruby thread never holds the VM lock at a fork.
struct Row {
  const char* symbol;  // a pointer variable the runtime exports
  size_t offset;       // the lock's offset in the object it points at
  const char* reader;  // where it is not exported: an exported function whose first RIP-relative load reads it
};
constexpr Row rows[] = {
    {"ruby_current_vm_ptr", 48, "ruby_vm_at_exit"},
};
constexpr size_t row_count = sizeof rows / sizeof rows[0];

void* const* g_symbols[row_count];   // the exported variables, once found
const void* g_locks[row_count];      // their locks in this process, as at the last fork
bool g_resolved;

}  // namespace

uint64_t first_rip_load(const unsigned char* code, size_t n, uint64_t address) {
  for (size_t i = 0; i + 7 <= n; i++) {
    bool rex_w = code[i] == 0x48 || code[i] == 0x4c;
    if (!rex_w || code[i + 1] != 0x8b || (code[i + 2] & 0xc7) != 0x05) continue;
    int32_t disp;
    __builtin_memcpy(&disp, code + i + 3, sizeof disp);
    uint64_t target = address + i + 7 + static_cast<uint64_t>(static_cast<int64_t>(disp));
    // A variable of the same object (its data lies within a few MiB of its code), pointer-aligned.
    bool near = disp > 0 && disp < (64 << 20);
    return near && target % 8 == 0 ? target : 0;
  }
  return 0;
}

void resolve(void* (*lookup)(const char* name)) {
  if (__atomic_exchange_n(&g_resolved, true, __ATOMIC_ACQ_REL)) return;
  for (size_t i = 0; i < row_count; i++) {
    auto symbol = static_cast<void* const*>(lookup(rows[i].symbol));
    if (symbol == nullptr && rows[i].reader != nullptr)
      if (auto* code = static_cast<const unsigned char*>(lookup(rows[i].reader)))
        symbol = reinterpret_cast<void* const*>(first_rip_load(code, 48, reinterpret_cast<uint64_t>(code)));
    __atomic_store_n(&g_symbols[i], symbol, __ATOMIC_RELEASE);
  }
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
