// glibc keeps two pthread_cond_* ABIs on x86_64: GLIBC_2.3.2 (today's) and GLIBC_2.2.5 (before 2003: the
// condvar holds a pointer to a real one, allocated on first use). The shim exports one unversioned wrapper per
// function, so a caller of either version reaches it; the wrapper must forward to the version the caller was
// linked against, which only the caller's object says (its version requirement for the symbol).
#pragma once

#include <cstdint>

namespace fh::shim {

enum class CondCall { wait, timedwait, destroy, signal, broadcast };

// Whether the object containing `caller` binds `call` with version GLIBC_2.2.5. Lock-free (_dl_find_object,
// then the object's own dynamic section), answered once per object, and kept per call site (a signal's
// wrapper asks on every call). (An object that binds one function under
// both versions, which only a hand-written .symver makes, gets the old one everywhere.)
bool caller_uses_old_cond_abi(uintptr_t caller, CondCall call);

}  // namespace fh::shim
