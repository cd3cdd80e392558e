// The raw report protocol: written by the shim (async-signal-safe) and the watchdog, read by report/. Defined once,
// here; its records and keys are the table shim/protocol.def, which the writers and the reader use by name.
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
// An unsafe call (a function that is not async-signal-safe, called in the restricted child) has no lock/owner:
//
//   report pid=4242 ppid=4241
//   hazard kind=unsafe-call call=malloc class=non-portable site=0x55d5d2a2b2f0 why=allocates
//   stack pcs=...
//   fork ... / thread ... / held ... / module ...   (as above)
//   end
//
// `class` is hang-prone (takes a glibc lock that fork() does not reset) or non-portable (undefined by POSIX,
// kept working by glibc); `site` is the return address of the call (the program's call site), `why` a phrase.
// Each (call, site) is reported once per process; how often it was called in all is said later, when the
// process execs or calls _exit/exit, by a block of its own (a missing one means: once):
//
//   repeats pid=4242
//   repeat call=malloc site=0x55d5d2a2b2f0 count=17
//   end
//
// A deadlock on a condition variable a vanished thread waited on (its destroy waits for that waiter forever)
// has `type=condvar`; on a function-local static a vanished thread was constructing `type=static-init` (addr =
// the guard variable); on a futex word the process waits on with no thread left to wake it, judged from
// outside by the watchdog of `forkhazard run`, `type=futex` (addr = the word; `symbol=` the symbol+offset the
// word lies at, when the watchdog could name it, e.g. _rtld_global+0xa30). `type=libc:<family>` (no addr)
// is read for reports of older shims, which judged glibc-internal locks by calls in flight; no longer written.
//
// A process the watchdog judged as a whole (every thread of it blocked for good, one of them in a wait the fork
// caused): the hazard is that thread's wait, and each other thread of the process is a `waiting` line after the
// hazard's `stack` line, with the call it waits in and its stack:
//
//   waiting tid=4250 name=helper call=pthread_cond_wait pcs=0x7f1c2a09e1b0,0x55d5d2a2b310
//
// An unsafe call of a family (the family column of shim/interpose.def: env, tz, random, loader, locale,
// syslog, nss, iconv, gettext, popen) may carry an `owner` line: a vanished thread that was inside a call of
// the same family at fork (relation=vanished), the explanation should the call block.
//
// A possible deadlock (the prediction) has the lock the child takes while it is free, and as `owner` the
// vanished thread that took it during the parent's life (relation=vanished), `acquired` where it did:
//
//   hazard kind=possible-deadlock call=pthread_mutex_lock
//   lock addr=0x55d5d2a2c040 type=mutex
//   owner tid=4239 name=logger relation=vanished
//   acquired pcs=0x55d5d2a2b1c9
//   stack ... / fork ... / thread ... / module ...   (as above)
//
// A timed acquisition that can never succeed (its holder vanished at fork(): each call times out, and a program
// that retries it waits forever) is a possible deadlock with `never_succeeds=1`, the lock, and the vanished
// owner; reported once per lock:
//
//   hazard kind=possible-deadlock call=pthread_mutex_timedlock never_succeeds=1
//
// A process the watchdog saw spinning inside glibc's rwlock code (its only thread running, never leaving it, with an
// rwlock in a register left write-locked by no writer: a writer vanished inside its unlock) is a possible deadlock
// with `spins=1`, a `lock` line of type rwlock-write at that address, and no owner it can be sure of; left as it is
// (a warning: from outside the lock's address is found, not read from the call):
//
//   hazard kind=possible-deadlock call=setlocale spins=1
//
// A thread of a CPython process has its Python stack at the fork (shim/python.h), innermost first, as `pyframe`
// lines after its `thread` line (and its `held` lines); `line=0` when CPython did not know it:
//
//   thread tid=4239 name=writer relation=vanished created=0x55d5d2a2b290
//   pyframe file=/usr/lib/python3.11/logging/__init__.py line=1113 function=emit
//
// A process made by a raw fork (syscall(SYS_fork), clone without CLONE_VM: no atfork handler ran, glibc reset
// nothing) has `raw=1` on its fork line; its allocator and stdio calls are hang-prone there.
//
// A block may carry what the shim's fixed-size records could not hold (never silent):
//
//   overflow held=N threads=N sites=N     (acquisitions dropped by full held stacks, threads the full
//                                          registry did not take, call sites reported again by a full table)
//
// Semaphores are not held locks (they are often signals): no `held` line names one; a semaphore deadlock's
// `acquired` is where the owner last took it without posting it back.
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

// Record words and keys, from the table (shim/protocol.def).
namespace rec {
#define FH_RECORD(name) inline constexpr const char name[] = #name;
#define FH_KEY(record, key)
#include "shim/protocol.def"
#undef FH_RECORD
#undef FH_KEY
}  // namespace rec
namespace key {
#define FH_RECORD(name)
#define FH_KEY(record, key) inline constexpr const char record##_##key[] = #key;
#include "shim/protocol.def"
#undef FH_RECORD
#undef FH_KEY
}  // namespace key

// Hazard kinds (`hazard kind=`).
inline constexpr const char kind_deadlock[] = "deadlock";
inline constexpr const char kind_unsafe_call[] = "unsafe-call";
inline constexpr const char kind_possible_deadlock[] = "possible-deadlock";

// Lock types (`lock type=`, `held type=`): how the lock is held.
inline constexpr const char type_mutex[] = "mutex";
inline constexpr const char type_rwlock_read[] = "rwlock-read";
inline constexpr const char type_rwlock_write[] = "rwlock-write";
inline constexpr const char type_semaphore[] = "semaphore";
inline constexpr const char type_condvar[] = "condvar";
inline constexpr const char type_static_init[] = "static-init";
inline constexpr const char type_futex[] = "futex";  // written by the watchdog of `forkhazard run`
inline constexpr const char type_libc_prefix[] = "libc:";  // + family name (read only: older shims)

// Unsafe-call classes (`hazard class=`).
inline constexpr const char class_hang_prone[] = "hang-prone";
inline constexpr const char class_non_portable[] = "non-portable";
inline constexpr const char class_vanished_thread[] = "vanished-thread";  // join/detach/cancel of a vanished thread

// Owner relations (`owner relation=`, `thread relation=`).
inline constexpr const char relation_vanished[] = "vanished";  // a thread that did not survive fork()
inline constexpr const char relation_forker[] = "forker";      // this thread, under its tid before fork()
inline constexpr const char relation_unknown[] = "unknown";    // a tid the shim never tracked (raw clone)

}  // namespace fh::protocol
