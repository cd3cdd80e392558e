// Runtimes' own locks that only a holder of the runtime's big lock takes (issue "No false warning", (b)): a lock
// taken only while holding a big lock that the forking thread holds across the fork cannot be held by a vanished
// thread at any fork, so its past uses predict nothing. The big locks are flags under a mutex (Ruby's GVL), which
// the shim cannot see held, so the locks are named by a small table of runtimes, found by their exported symbols
// (never linked). Leaving a lock out of predictions can only lose a warning, never make one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fh::shim::runtimes {

// The address the first 64-bit RIP-relative load (`mov disp32(%rip),%reg`, REX.W 8B, ModRM mod 00 rm 101) among
// the first `n` bytes of the code at `code` (mapped at `address`) reads; 0 when none. How a variable a runtime no
// longer exports is found through an exported function that reads it first thing (Ruby 3.3's
// ruby_current_vm_ptr, through ruby_vm_at_exit).
uint64_t first_rip_load(const unsigned char* code, size_t n, uint64_t address);

// Once per process, outside any fork (pthread_create's wrapper): finds the runtimes' symbols with `lookup`.
void resolve(void* (*lookup)(const char* name));

// In a forked child, first thing: the addresses of the table's locks in this process (read from the runtimes'
// own state).
void note_at_fork();

// Whether `lock` is one of them (a prediction on it is not made).
bool taken_only_under_big_lock(const void* lock);

}  // namespace fh::shim::runtimes
