// The forked child's policy: judge a call before it blocks, report, act (on_deadlock, on_unsafe). The
// wrappers ask it before the real call; it reads lock words and the core's frozen records, never guesses.
// Linked into the test runner with the core (no LD_PRELOAD), so each rule has a unit test.
#pragma once

#include <pthread.h>
#include <semaphore.h>

#include <cstdint>

#include "shim/core.h"
#include "shim/unsafe.h"

namespace fh::shim::policy {

// Before a blocking, untimed lock call in a forked child: a deadlock report and on_deadlock when the call can
// never return (a mutex or write-held rwlock whose owner is gone; an rwlock read-held by a vanished thread
// when writing). A timed call returns ETIMEDOUT instead of hanging: never judged.
// Otherwise, in a restricted process, the prediction: a lock free now that a vanished thread used (and the
// forking thread did not hold across the fork, and nobody re-initialised since) is a possible-deadlock,
// reported once per lock; the call goes on.
void before_mutex_lock(const pthread_mutex_t* m, const char* call);
void before_rwlock_lock(const pthread_rwlock_t* rw, bool write, const char* call);
// pthread_mutex_init / pthread_rwlock_init: a lock re-initialised in the child is fresh (no prediction).
void lock_initialised(const void* lock);
// sem_wait: a private semaphore at 0 in a restricted process left with one thread and no handler that could post
// it, which a vanished thread took or used (else the wait is the process's own: core::own_wait, no report).
void before_sem_wait(const sem_t* sem, const char* call);
// A semaphore the child takes while its value is 1 (sem_wait, and sem_trywait: CPython tries before it waits):
// the prediction of core::predict_sem_hang, reported once per semaphore per process; the call goes on.
void predict_sem(const sem_t* sem, const char* call);
// A timed acquisition (pthread_mutex_timedlock/clocklock, pthread_rwlock_timed*/clock*, sem_timedwait/clockwait)
// in a restricted process on a lock whose holder vanished (a mutex or a write-held rwlock whose owner is gone, a
// semaphore at 0 a vanished thread took, in a process left alone): it times out rather than hangs, but it can
// never succeed, and a program that retries it waits forever: a possible deadlock saying so, once per lock; the
// call goes on. `type`: the lock's protocol word.
void before_timed_lock(const void* lock, const char* type, const char* call);

// pthread_cond_wait (untimed): a private condvar in a restricted process left with one thread and no handler to
// end it, which a vanished thread waited on, or whose mutex `m` a vanished thread used.
void before_cond_wait(const pthread_cond_t* c, const pthread_mutex_t* m);
// pthread_cond_destroy waits for every waiter reference glibc counts; a vanished waiter's never goes.
void before_cond_destroy(const pthread_cond_t* c);
// __cxa_guard_acquire waits for the thread constructing the static; one that vanished never finishes.
void before_guard_acquire(const int64_t* guard);

// A catalogued (not async-signal-safe) call the program made in a restricted process: reported once per call
// site, with the vanished thread that was inside the same glibc lock at fork as the explanation; then
// on_unsafe. It is never a deadlock verdict: the lock inside glibc cannot be read (the watchdog of
// `forkhazard run` judges the wait itself if the call blocks).
// `about`: the vanished thread a join/detach/cancel named (class vanished_thread), reported as the owner.
void unsafe_call(CallId id, uintptr_t site, const ThreadSlot* about = nullptr);

// After a deadlock report: _exit(exitcode), abort, or return (the call then blocks, as it would have).
void act_on_deadlock();

}  // namespace fh::shim::policy
