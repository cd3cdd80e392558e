// The raw report protocol: written by the shim (async-signal-safe), read by report/. Defined once, here.
//
// A raw report file is text. Its first line is the magic line, then any number of report blocks:
//
//   forkhazard-raw v=1
//   report pid=4242 ppid=4241
//   # free text for people (bare LD_PRELOAD use prints this file to stderr); readers skip '#' lines
//   hazard kind=deadlock call=pthread_mutex_lock
//   lock addr=0x55d5d2a2c040 type=mutex
//   owner tid=4239 name=worker relation=vanished
//   acquired pcs=0x55d5d2a2b1c9
//   stack pcs=0x55d5d2a2b2f0,0x7f1c2a02324a
//   fork parent_pid=4241 forking_tid=4241 pcs=0x55d5d2a2b2a0
//   thread tid=4239 name=worker relation=vanished created=0x55d5d2a2b290
//   held addr=0x55d5d2a2c040 type=mutex depth=1 pcs=0x55d5d2a2b1c9
//   module lo=0x55d5d2a2a000 hi=0x55d5d2a2f010 bias=0x55d5d2a2a000 build_id=3f2a... path=/abs/path
//   end
//
// Grammar: every line is RECORD (' ' KEY '=' VALUE)*. VALUE is percent-escaped: bytes outside 0x21..0x7e and
// the bytes '%' ',' '=' are written %XX, so a value never contains a space. A value of exactly "-" is empty (a
// leading '-' of a real value is escaped as %2D). A PC list is comma-separated hex, "-" when empty.
// 'held' lines belong to the 'thread' line before them. 'module' lines map PCs to files: a PC belongs to the
// module with lo <= pc < hi, at file address pc - bias. A block without its 'end' line is truncated.
// Readers ignore unknown records and keys (forward compatibility); the version changes when meaning changes.
#pragma once

namespace fh::protocol {

inline constexpr const char magic_line[] = "forkhazard-raw v=1\n";
inline constexpr int version = 1;

// Hazard kinds (`hazard kind=`).
inline constexpr const char kind_deadlock[] = "deadlock";
inline constexpr const char kind_unsafe_call[] = "unsafe-call";

// Lock types (`lock type=`, `held type=`): how the lock is held.
inline constexpr const char type_mutex[] = "mutex";
inline constexpr const char type_rwlock_read[] = "rwlock-read";
inline constexpr const char type_rwlock_write[] = "rwlock-write";
inline constexpr const char type_semaphore[] = "semaphore";

// Owner relations (`owner relation=`, `thread relation=`).
inline constexpr const char relation_vanished[] = "vanished";  // a thread that did not survive fork()
inline constexpr const char relation_forker[] = "forker";      // this thread, under its tid before fork()
inline constexpr const char relation_unknown[] = "unknown";    // a tid the shim never tracked (raw clone)

}  // namespace fh::protocol
