// Stack capture for the shim: raw return addresses, innermost first, with the shim's own frames dropped.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fh {

// Frames whose PC lies in [lo, hi) (the shim's own code) are dropped from the innermost end of every capture.
void capture_set_own_range(uintptr_t lo, uintptr_t hi);

// libunwind's unw_backtrace: fast when warm (~0.2 us for 16 frames), but it takes the loader lock through
// dl_iterate_phdr on a cache miss. For live processes only: in a forked child whose vanished thread held
// that lock it hangs forever (DESIGN.md section 4).
size_t capture_stack(uintptr_t* pcs, size_t max);

// libgcc's _Unwind_Backtrace: finds unwind tables through glibc's lock-free _dl_find_object, so it is safe in
// a forked child whatever the vanished threads held. Slower; used for reports, never on a hot path.
size_t capture_stack_loader_free(uintptr_t* pcs, size_t max);

}  // namespace fh
