// Stack capture for the shim: raw return addresses, innermost first, with the shim's own frames dropped.
//
// Every capture uses libgcc's _Unwind_Backtrace, which finds unwind tables through glibc's lock-free
// _dl_find_object (glibc >= 2.35). libunwind's unw_backtrace is faster when warm, but on a cache miss it calls
// dl_iterate_phdr, which takes the loader lock: a thread sitting in a dl_iterate_phdr callback then blocks the
// capture, and if that callback waits for the capturing thread the *parent* deadlocks because of the shim
// (examples/loader_lock_held.c did exactly that). In a forked child whose vanished thread held the loader lock
// it would hang forever. So the shim never uses it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fh {

// Frames whose PC lies in [lo, hi) (the shim's own code) are dropped from the innermost end of every capture.
void capture_set_own_range(uintptr_t lo, uintptr_t hi);

// From now on in this process (a forked child copy keeps its own), every capture returns nothing: set where the
// unwinder itself could block (libgcc's object_mutex, held by a thread that vanished at fork: shim/core.h,
// ProcessState::frames_registered). Reports then carry the call site alone.
void capture_forbid();

// Up to `max` return addresses of the calling thread's stack, innermost first, the shim's frames dropped.
// Never takes a lock of the loader or of the allocator; safe in a forked child.
size_t capture_stack(uintptr_t* pcs, size_t max);

}  // namespace fh
