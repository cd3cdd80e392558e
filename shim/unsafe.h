// The catalogue of calls that are not async-signal-safe (interpose.def's FH_UNSAFE rows) and the per-process
// table of their call sites (each reported once, repeats counted).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fh {

// vanished_thread: a call about another thread (join, detach, cancel), reported only when that thread vanished at
// fork: glibc answers for it at once with a made-up result.
enum class UnsafeClass : uint8_t { hang_prone, non_portable, vanished_thread };
const char* unsafe_class_name(UnsafeClass c);

// The glibc lock a hang-prone call takes (interpose.def's family column; the families: shim/families.def).
enum class Family : uint8_t {
#define FH_FAMILY(name, lock, seen) name,
#include "shim/families.def"
#undef FH_FAMILY
};
inline constexpr size_t family_count = 0
#define FH_FAMILY(name, lock, seen) + 1
#include "shim/families.def"
#undef FH_FAMILY
    ;
const char* family_name(Family f);
// Every function that takes the family's lock is interposed (families.def's `seen` column is `all`).
bool family_fully_seen(Family f);

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

// The name a report gives a call: a fortified entry point (__syslog_chk, __fprintf_chk) is the call the
// program's source made (syslog, fprintf). Returns a pointer into `name` and sets *len.
const char* call_shown_name(const char* name, size_t* len);

// Counts one call at (id, site) in this process; true the first time (and whenever the table is full).
bool first_call_at(CallId id, uintptr_t site);
// Calls that found the site table full (each was reported as if new).
uint32_t call_sites_full();

// Writes the repeat counts of this process's reported calls (before exec, _exit, exit). Async-signal-safe.
void flush_repeats();

// Forgets the call sites seen: a forked child is a new process with its own counts.
void reset_call_sites();

}  // namespace fh
