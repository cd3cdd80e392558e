// Runtimes' own locks that only a holder of the runtime's big lock takes (issue "No false warning", (b)): a lock
// taken only while holding a big lock that the forking thread holds across the fork cannot be held by a vanished
// thread at any fork, so its past uses predict nothing. The big locks are flags under a mutex (Ruby's GVL), which
// the shim cannot see held, so the locks are named by a small table of runtimes, found by their exported symbols
// (never linked). Leaving a lock out of predictions can only lose a warning, never make one.
#pragma once

namespace fh::shim::runtimes {

// Once per process, outside any fork (pthread_create's wrapper): finds the runtimes' symbols with `lookup`.
void resolve(void* (*lookup)(const char* name));

// In a forked child, first thing: the addresses of the table's locks in this process (read from the runtimes'
// own state).
void note_at_fork();

// Whether `lock` is one of them (a prediction on it is not made).
bool taken_only_under_big_lock(const void* lock);

}  // namespace fh::shim::runtimes
