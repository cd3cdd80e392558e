// The catalogue of calls that are not async-signal-safe (interpose.def's FH_UNSAFE rows) and what the shim
// does when a restricted process makes one: upgrade to a deadlock where it is certain, else report it once
// per call site, counting repeats.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fh {

enum class UnsafeClass : uint8_t { hang_prone, non_portable };
const char* unsafe_class_name(UnsafeClass c);

// The glibc lock a hang-prone call takes (interpose.def's family column).
enum class Family : uint8_t { none, env, tz, random, loader, locale, syslog, nss, iconv, gettext };
inline constexpr size_t family_count = 10;
const char* family_name(Family f);

enum CallId : uint16_t {
#define FH_UNSAFE(name, cls, family, why) call_##name,
#include "shim/interpose.def"
  call_count
};

struct CallInfo {
  const char* name;
  UnsafeClass cls;
  Family family;
  const char* why;
};
extern const CallInfo g_calls[call_count];

// In a restricted process, a catalogued call from the program (not from inside another one): reports it,
// or a deadlock when a vanished thread was inside the same glibc lock family; applies on_unsafe/on_deadlock.
// errno is preserved.
void on_unsafe_call(CallId id, uintptr_t site);

// Writes the repeat counts of this process's reported calls (before exec, _exit, exit). Async-signal-safe.
void flush_repeats();

// Forgets the call sites seen: a forked child is a new process with its own counts.
void reset_call_sites();

}  // namespace fh
