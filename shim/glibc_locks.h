// Reading glibc's own lock words (glibc 2.36, x86_64 layouts in bits/struct_mutex.h, bits/struct_rwlock.h,
// nptl/semaphoreP.h): they tell who owns a lock even when the shim never saw it being taken.
#pragma once

#if !defined(__x86_64__)
#error "forkhazard reads glibc's x86_64 lock layouts and keys sites by 48-bit addresses (README, Limits)"
#endif

#include <pthread.h>
#include <semaphore.h>

#include <climits>
#include <cstdint>

namespace fh::glibc {

// nptl/pthreadP.h: mutex kind bits.
inline constexpr int mutex_kind_type_mask = 3;       // PTHREAD_MUTEX_KIND_MASK_NP: normal, recursive, errorcheck, adaptive
inline constexpr int mutex_kind_pshared_bit = 128;  // PTHREAD_MUTEX_PSHARED_BIT: also set on *every* robust mutex
inline constexpr int mutex_kind_robust = 16;        // PTHREAD_MUTEX_ROBUST_NORMAL_NP
inline constexpr int mutex_kind_pi = 32;            // PTHREAD_MUTEX_PRIO_INHERIT_NP
// A robust mutex whose owner died and was not made consistent / is unrecoverable (nptl/pthreadP.h).
inline constexpr int mutex_owner_inconsistent = INT_MAX;
inline constexpr int mutex_owner_notrecoverable = INT_MAX - 1;

inline int mutex_owner(const pthread_mutex_t* m) { return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED); }
// The futex word; on a robust mutex the kernel sets FUTEX_OWNER_DIED there when its owner thread exits, and the
// next lock returns EOWNERDEAD at once (nptl/pthread_mutex_lock.c) whatever __owner still says.
inline constexpr int futex_owner_died = 0x40000000;  // linux/futex.h FUTEX_OWNER_DIED
inline int mutex_lock_word(const pthread_mutex_t* m) { return __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED); }
inline int mutex_kind(const pthread_mutex_t* m) { return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED); }
// A normal or adaptive mutex, not robust, priority-inheriting or -protecting (the low 7 bits of __kind; 128 is
// process-shared, 256/512 elision): pthread_mutex_lock on it returns only 0 (nptl/pthread_mutex_lock.c: every
// error path is the other kinds', or a destroyed mutex's __kind of -1).
inline bool mutex_lock_cannot_fail(const pthread_mutex_t* m) {
  int kind = mutex_kind(m) & 0x7f;
  return kind == PTHREAD_MUTEX_TIMED_NP || kind == PTHREAD_MUTEX_ADAPTIVE_NP;
}

// nptl/pthread_rwlock_common.c: __readers holds the reader count above PTHREAD_RWLOCK_READER_SHIFT.
inline constexpr unsigned rwlock_reader_shift = 3;
inline int rwlock_writer(const pthread_rwlock_t* rw) {
  return __atomic_load_n(&rw->__data.__cur_writer, __ATOMIC_RELAXED);
}
inline unsigned rwlock_readers(const pthread_rwlock_t* rw) {
  return __atomic_load_n(&rw->__data.__readers, __ATOMIC_RELAXED) >> rwlock_reader_shift;
}
// PTHREAD_RWLOCK_WRPHASE: in a write phase the readers counted are readers *trying* to start a read phase (the
// state table in nptl/pthread_rwlock_common.c); only in a read phase have they acquired the lock.
inline constexpr unsigned rwlock_wrphase_bit = 1;
inline bool rwlock_read_phase(const pthread_rwlock_t* rw) {
  return (__atomic_load_n(&rw->__data.__readers, __ATOMIC_RELAXED) & rwlock_wrphase_bit) == 0;
}
inline bool rwlock_shared(const pthread_rwlock_t* rw) { return rw->__data.__shared != 0; }
// PTHREAD_RWLOCK_WRLOCKED: a primary writer owns the lock (or is taking it, or releasing it: __cur_writer is written
// last by wrlock and cleared first by wrunlock). PTHREAD_RWLOCK_WRHANDOVER (in __writers): a releasing writer
// offered the lock to a waiting one instead of clearing WRLOCKED.
inline constexpr unsigned rwlock_wrlocked_bit = 2;
inline constexpr unsigned rwlock_wrhandover_bit = 0x80000000u;
inline constexpr unsigned rwlock_futex_used_bit = 0x80000000u;  // PTHREAD_RWLOCK_FUTEX_USED, in the futex words
inline bool rwlock_write_locked(const pthread_rwlock_t* rw) {
  return (__atomic_load_n(&rw->__data.__readers, __ATOMIC_RELAXED) & rwlock_wrlocked_bit) != 0;
}
inline bool rwlock_handed_over(const pthread_rwlock_t* rw) {
  return (__atomic_load_n(&rw->__data.__writers, __ATOMIC_RELAXED) & rwlock_wrhandover_bit) != 0;
}
// glibc's EDEADLK test of rdlock and wrlock: the calling thread (kernel tid `tid`) holds it for writing.
inline bool rwlock_written_by(const pthread_rwlock_t* rw, int tid) { return rwlock_writer(rw) == tid; }
// PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP: the one kind whose rdlock waits in a read phase (for a waiting
// writer) before it counts itself a reader (__pthread_rwlock_rdlock_full); every other kind's reader, once
// counted, holds the lock as soon as the phase is a read phase.
inline bool rwlock_readers_wait_for_writers(const pthread_rwlock_t* rw) {
  return __atomic_load_n(&rw->__data.__flags, __ATOMIC_RELAXED) == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
}

// nptl/pthread_cond_common.c: bit 0 of __wrefs is the process-shared flag (bit 1 the clock; waiter references
// from bit 3). Checked on glibc 2.36: 0 for a default condvar, 1 with PTHREAD_PROCESS_SHARED.
inline bool cond_shared(const pthread_cond_t* c) { return (__atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED) & 1) != 0; }
// The waiter references pthread_cond_destroy waits out (__wrefs >> 3): a waiter drops its own in
// __condvar_confirm_wakeup, before it re-takes the mutex, so this count, not who is inside the wait call, decides.
inline unsigned cond_waiter_refs(const pthread_cond_t* c) {
  return __atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED) >> 3;
}

// nptl/semaphoreP.h (64-bit atomics): struct new_sem { uint64_t data; int private; int pad; };
// value in the low 32 bits of data. sem_init stores glibc's FUTEX_PRIVATE (0) for a process-private semaphore
// and FUTEX_SHARED (128) for a shared one: glibc's names are the futex flag to add, inverted (checked).
struct new_sem {
  uint64_t data;
  int private_flag;
  int pad;
};
inline unsigned sem_value(const sem_t* s) {
  return static_cast<unsigned>(__atomic_load_n(&reinterpret_cast<const new_sem*>(s)->data, __ATOMIC_RELAXED));
}
inline bool sem_private(const sem_t* s) { return reinterpret_cast<const new_sem*>(s)->private_flag == 0; }

}  // namespace fh::glibc
