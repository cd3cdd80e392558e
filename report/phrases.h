// Phrases the text and SARIF printers share: how a thread, a lock and its owner are named.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "report/model.h"

namespace fh {

std::string hex(uint64_t value);                                   // "0x55d5d2a2c040"
std::string basename_of(const std::string& path);
// Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when it is not one (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF): the one check the JSON, SARIF and text printers share.
size_t utf8_sequence(std::string_view s, size_t i);
// Bytes a program chose (thread names, paths, function names) made safe for a terminal: control characters,
// backslashes and bytes that are not UTF-8 become \xNN; whole UTF-8 sequences stay.
std::string printable(std::string_view text);
std::string thread_label(int64_t tid, const std::string& name);    // `thread 4239 "worker"` or `thread 4239`
std::string lock_noun(const LockRef& lock);                        // "mutex", "condition variable", ...
std::string owner_phrase(const Owner& owner);                      // `thread 4239 "w", which vanished at fork()`
std::string owner_was(const std::optional<Owner>& owner, const std::string& doing);
// "the glibc env lock family (setenv/unsetenv/putenv/clearenv)", the calls from shim/interpose.def.
std::string libc_family_phrase(std::string_view family);
// "futex word 0x7f..a50 (_rtld_global+0xa50 in ld-linux-x86-64.so.2)", "... (libc.so.6+0x1d79b0)".
std::string futex_word(const LockRef& lock);
// The deadlock sentence of a futex wait the watchdog judged: "popen() would block forever on futex word ...: a
// wait no thread left in this process can end; thread 812 \"popener\" was inside the glibc popen lock family when
// it vanished at fork()".
std::string futex_wait_sentence(const Hazard& hazard);
// The sentence of a deadlock: "pthread_mutex_lock(0x...) would block forever: the mutex is held by thread 4239
// \"w\", which vanished at fork()", and for every lock type its own account.
std::string deadlock_sentence(const Hazard& hazard);
// The sentence of a possible deadlock: "pthread_mutex_lock(0x...) took the mutex while it was free, but thread 4239
// \"logger\", which vanished at fork(), used it in the parent. Had the fork come while thread 4239 held it, this
// call would never have returned".
std::string possible_deadlock_sentence(const Hazard& hazard);
// What to do about a possible deadlock (lower case, no full stop): protect the lock with pthread_atfork handlers,
// or do not take it in the child.
std::string possible_deadlock_hint();
// For a CPython program (a Python stack in the report): the fixes that fit, or "" when it is none.
std::string python_hint(const Hazard& h);
// Why an unsafe call with an `owner` may block: "thread 812 \"w\" was inside the glibc env lock family (...) when
// it vanished at fork(): if it held that lock, this call never returns"; empty without an owner.
std::string unsafe_call_owner_sentence(const Hazard& hazard);

}  // namespace fh
