// The wrapper contract probe: calls every function the shim interposes through its return paths and prints, for
// each call, one line: function, case, return value, errno after the call (errno is set to a sentinel before, so
// a success that leaves errno alone shows it) and whether the signal mask changed. tests/test_contract.cpp runs it
// natively and under LD_PRELOAD=build/libforkhazard.so and requires the outputs to be identical.
//
//   probe contract          every family, in a plain process (the shim only passes through)
//   probe child-contract    the lock, allocator, stdio and libc families in the child of a multithreaded fork
//                           (run with FORKHAZARD_OPTIONS=on_unsafe=report: catalogued calls are reported, go on)
//   probe cancel-nonpoints  a thread with a pending deferred cancel calls functions that are not cancellation
//                           points: each must return (the thread is cancelled only at pthread_testcancel)
//   probe cancel-fork-main  the only thread, cancel pending, forks: fork() must return in parent and child
//   probe cancel-create     a thread cancelled before it runs still enters its start routine
//   probe cancel-report     the child of a multithreaded fork, cancel pending, makes calls the shim reports
//   probe altstack SIZE CALL  the child of a multithreaded fork calls CALL (nothing, malloc, setenv, mutex) from
//                           a signal handler on a SIZE-byte alternate stack (0: sysconf(_SC_MINSIGSTKSZ)) with a
//                           guard page below it
//   probe altstack-depth CALL SIZE  the bytes of alternate stack the same handler uses (for messages, not compared)
//   probe old-condvar       pthread_cond_* of the GLIBC_2.2.5 ABI (a binary linked against the old symbols)
//   probe clone3-badptr     syscall(SYS_clone3) with an invalid pointer: EFAULT
//   probe clone-null-fn     clone(NULL, stack, SIGCHLD, NULL): EINVAL, no child
//   probe exec-target ...   what the exec cases run: prints its arguments and FHPROBE_ENV
//
// Output goes straight to fd 1 with write(2), formatted here: the probe's own printing never passes through
// the shim. Only values that are the same on every run are printed (no pids, addresses or times of day).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <iconv.h>
#include <libintl.h>
#include <limits.h>
#include <link.h>
#include <locale.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

// The fortified entry points (-D_FORTIFY_SOURCE builds call these); declared here, the probe is not fortified.
int __printf_chk(int flag, const char *fmt, ...);
int __fprintf_chk(FILE *s, int flag, const char *fmt, ...);
int __dprintf_chk(int fd, int flag, const char *fmt, ...);
int __sprintf_chk(char *s, int flag, size_t len, const char *fmt, ...);
int __snprintf_chk(char *s, size_t n, int flag, size_t len, const char *fmt, ...);
int __vprintf_chk(int flag, const char *fmt, va_list ap);
int __vfprintf_chk(FILE *s, int flag, const char *fmt, va_list ap);
int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap);
int __vsprintf_chk(char *s, int flag, size_t len, const char *fmt, va_list ap);
int __vsnprintf_chk(char *s, size_t n, int flag, size_t len, const char *fmt, va_list ap);
size_t __fread_chk(void *p, size_t len, size_t size, size_t n, FILE *f);
char *__fgets_chk(char *s, size_t len, int n, FILE *f);
void __syslog_chk(int pri, int flag, const char *fmt, ...);
void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap);
// The Itanium C++ ABI guards of function-local statics (libstdc++).
int __cxa_guard_acquire(int64_t *guard);
void __cxa_guard_release(int64_t *guard);
void __cxa_guard_abort(int64_t *guard);
// pthread_cond_* of the old ABI: a binary linked against glibc before 2.3.2 calls these.
// Built a second time as build/contract/probe_oldcond (-DPROBE_OLD_COND): there every pthread_cond_* reference
// of the program binds to that ABI, as in a binary linked before it changed (an object binds one version of a
// function). Only its old-condvar mode is meant to run.
#ifdef PROBE_OLD_COND
__asm__(".symver pthread_cond_init,pthread_cond_init@GLIBC_2.2.5");
__asm__(".symver pthread_cond_wait,pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver pthread_cond_timedwait,pthread_cond_timedwait@GLIBC_2.2.5");
__asm__(".symver pthread_cond_signal,pthread_cond_signal@GLIBC_2.2.5");
__asm__(".symver pthread_cond_broadcast,pthread_cond_broadcast@GLIBC_2.2.5");
__asm__(".symver pthread_cond_destroy,pthread_cond_destroy@GLIBC_2.2.5");
#endif
#define old_cond_init pthread_cond_init
#define old_cond_wait pthread_cond_wait
#define old_cond_timedwait pthread_cond_timedwait
#define old_cond_signal pthread_cond_signal
#define old_cond_destroy pthread_cond_destroy

extern char **environ;

enum { SENTINEL = 12345 };

static char g_self[PATH_MAX];  // this program, for the exec cases
static char g_prefix[32];      // "child: " in a forked child's lines

// ---- output: formatted here, written with write(2) ------------------------------------------------------------

struct line {
  char buf[1024];
  size_t len;
};

static void put(struct line *l, const char *s) {
  while (*s != '\0' && l->len < sizeof l->buf - 2) l->buf[l->len++] = *s++;
}

static void put_long(struct line *l, long v) {
  char tmp[24];
  int n = 0;
  unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
  do tmp[n++] = (char)('0' + u % 10); while ((u /= 10) != 0);
  if (v < 0) tmp[n++] = '-';
  char out[24];
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  put(l, out);
}

// A string as printable text, quoted; control characters and non-ASCII bytes as '?'.
static void put_quoted(struct line *l, const char *s, size_t max) {
  put(l, "\"");
  for (size_t i = 0; s[i] != '\0' && i < max && l->len < sizeof l->buf - 4; i++)
    l->buf[l->len++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  put(l, "\"");
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

static void flush_line(struct line *l) {
  l->buf[l->len++] = '\n';
  write_all(STDOUT_FILENO, l->buf, l->len);
  l->len = 0;
}

static void say(const char *text) {
  struct line l = {.len = 0};
  put(&l, g_prefix);
  put(&l, text);
  flush_line(&l);
}

static void say_num(const char *text, long v) {
  struct line l = {.len = 0};
  put(&l, g_prefix);
  put(&l, text);
  put_long(&l, v);
  flush_line(&l);
}

static void put_errno(struct line *l, int e) {
  if (e == SENTINEL) {
    put(l, "unchanged");
    return;
  }
  const char *name = e == 0 ? "0" : strerrorname_np(e);
  if (name != NULL) put(l, name);
  else put_long(l, e);
}

// The signal mask as a list of the signals it blocks.
static void put_mask(struct line *l, const sigset_t *m) {
  int any = 0;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sigismember(m, sig) != 1) continue;
    if (any) put(l, ",");
    put_long(l, sig);
    any = 1;
  }
  if (!any) put(l, "none");
}

// One call's line. `ret` is already formatted; `before` is the mask before the call.
static void emit(const char *fn, const char *label, const char *ret, int err, const sigset_t *before) {
  sigset_t after;
  sigprocmask(SIG_SETMASK, NULL, &after);
  struct line l = {.len = 0};
  put(&l, g_prefix);
  put(&l, fn);
  put(&l, " ");
  put(&l, label);
  put(&l, ": ret=");
  put(&l, ret);
  put(&l, " errno=");
  put_errno(&l, err);
  int same = 1;
  for (int sig = 1; sig < NSIG; sig++)
    if (sigismember(before, sig) != sigismember(&after, sig)) same = 0;
  if (same) {
    put(&l, " mask=same");
  } else {
    put(&l, " mask=CHANGED before=");
    put_mask(&l, before);
    put(&l, " after=");
    put_mask(&l, &after);
  }
  flush_line(&l);
}

static const char *fmt_long(char *buf, long v) {
  struct line l = {.len = 0};
  put_long(&l, v);
  l.buf[l.len] = '\0';
  memcpy(buf, l.buf, l.len + 1);
  return buf;
}

static const char *fmt_str(char *buf, size_t size, const char *s) {
  if (s == NULL) return "NULL";
  struct line l = {.len = 0};
  put(&l, "str:");
  put_quoted(&l, s, 80);
  l.buf[l.len] = '\0';
  if (l.len + 1 > size) l.len = size - 1;
  memcpy(buf, l.buf, l.len);
  buf[l.len] = '\0';
  return buf;
}

// The call runs with errno at SENTINEL; errno is read right after it, the mask after that.
#define CALL_INT(fn, label, expr)                                     \
  do {                                                                \
    sigset_t before_;                                                 \
    sigprocmask(SIG_SETMASK, NULL, &before_);                         \
    errno = SENTINEL;                                                 \
    long r_ = (long)(expr);                                           \
    int e_ = errno;                                                   \
    char rb_[32];                                                     \
    emit(fn, label, fmt_long(rb_, r_), e_, &before_);                 \
  } while (0)

#define CALL_PTR(fn, label, expr)                                     \
  do {                                                                \
    sigset_t before_;                                                 \
    sigprocmask(SIG_SETMASK, NULL, &before_);                         \
    errno = SENTINEL;                                                 \
    const void *r_ = (const void *)(expr);                            \
    int e_ = errno;                                                   \
    emit(fn, label, r_ != NULL ? "ptr" : "NULL", e_, &before_);       \
  } while (0)

#define CALL_STR(fn, label, expr)                                     \
  do {                                                                \
    sigset_t before_;                                                 \
    sigprocmask(SIG_SETMASK, NULL, &before_);                         \
    errno = SENTINEL;                                                 \
    const char *r_ = (expr);                                          \
    int e_ = errno;                                                   \
    char rb_[200];                                                    \
    emit(fn, label, fmt_str(rb_, sizeof rb_, r_), e_, &before_);      \
  } while (0)

#define CALL_VOID(fn, label, stmt)                                    \
  do {                                                                \
    sigset_t before_;                                                 \
    sigprocmask(SIG_SETMASK, NULL, &before_);                         \
    errno = SENTINEL;                                                 \
    stmt;                                                             \
    int e_ = errno;                                                   \
    emit(fn, label, "void", e_, &before_);                            \
  } while (0)

// A pid: its sign only. CALL_CHILD also waits for the child (printing how it ended) before the call's line, so
// the child's own lines come first.
#define CALL_CHILD(fn, label, expr, what)                                                   \
  do {                                                                                     \
    sigset_t before_;                                                                      \
    sigprocmask(SIG_SETMASK, NULL, &before_);                                              \
    errno = SENTINEL;                                                                      \
    long r_ = (long)(expr);                                                                \
    int e_ = errno;                                                                        \
    if (r_ > 0) report_child(what, (pid_t)r_);                                             \
    emit(fn, label, r_ > 0 ? "pid" : r_ == 0 ? "0" : r_ == -1 ? "-1" : "other", e_, &before_); \
  } while (0)

#define CALL_PID(fn, label, expr)                                                          \
  do {                                                                                     \
    sigset_t before_;                                                                      \
    sigprocmask(SIG_SETMASK, NULL, &before_);                                              \
    errno = SENTINEL;                                                                      \
    long r_ = (long)(expr);                                                                \
    int e_ = errno;                                                                        \
    emit(fn, label, r_ > 0 ? "pid" : r_ == 0 ? "0" : r_ == -1 ? "-1" : "other", e_, &before_); \
  } while (0)

static const struct timespec past = {1, 0};  // 1970 on CLOCK_REALTIME, boot + 1 s on CLOCK_MONOTONIC
static const struct timespec bad_nsec = {1, 2000000000};

static struct timespec from_now(int ms) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  t.tv_nsec += (long)ms * 1000000L;
  t.tv_sec += t.tv_nsec / 1000000000L;
  t.tv_nsec %= 1000000000L;
  return t;
}

// Waits for a child and prints how it ended.
static void report_child(const char *what, pid_t pid) {
  if (pid <= 0) return;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  struct line l = {.len = 0};
  put(&l, g_prefix);
  put(&l, what);
  if (WIFEXITED(status)) {
    put(&l, ": exited ");
    put_long(&l, WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    put(&l, ": killed by signal ");
    put_long(&l, WTERMSIG(status));
  } else {
    put(&l, ": other status");
  }
  flush_line(&l);
}

// ---- helper threads ----------------------------------------------------------------------------------------

enum hold_kind { HOLD_MUTEX, HOLD_RWLOCK_WRITE, HOLD_RWLOCK_READ, HOLD_MUTEX_AND_EXIT };

struct holder {
  pthread_t thread;
  enum hold_kind kind;
  void *lock;
  pthread_barrier_t barrier;
};

static void *holder_main(void *p) {
  struct holder *h = p;
  switch (h->kind) {
    case HOLD_MUTEX:
    case HOLD_MUTEX_AND_EXIT: pthread_mutex_lock(h->lock); break;
    case HOLD_RWLOCK_WRITE: pthread_rwlock_wrlock(h->lock); break;
    case HOLD_RWLOCK_READ: pthread_rwlock_rdlock(h->lock); break;
  }
  pthread_barrier_wait(&h->barrier);
  if (h->kind == HOLD_MUTEX_AND_EXIT) return NULL;  // a robust mutex's owner dies holding it
  pthread_barrier_wait(&h->barrier);
  if (h->kind == HOLD_MUTEX) pthread_mutex_unlock(h->lock);
  else pthread_rwlock_unlock(h->lock);
  return NULL;
}

// Starts a thread that takes `lock` and holds it until holder_stop.
static void holder_start(struct holder *h, enum hold_kind kind, void *lock) {
  h->kind = kind;
  h->lock = lock;
  pthread_barrier_init(&h->barrier, NULL, 2);
  pthread_create(&h->thread, NULL, holder_main, h);
  pthread_barrier_wait(&h->barrier);
}

static void holder_stop(struct holder *h) {
  if (h->kind != HOLD_MUTEX_AND_EXIT) pthread_barrier_wait(&h->barrier);
  pthread_join(h->thread, NULL);
  pthread_barrier_destroy(&h->barrier);
}

static int g_park_pipe[2] = {-1, -1};

// Taken and released by every parked thread before the fork: in the child, a lock call on it is a prediction
// (possible-deadlock) the shim reports.
static pthread_mutex_t g_taken_by_worker = PTHREAD_MUTEX_INITIALIZER;
static volatile int g_parked_ready;

static void *parked(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_taken_by_worker);
  pthread_mutex_unlock(&g_taken_by_worker);
  __atomic_fetch_add(&g_parked_ready, 1, __ATOMIC_SEQ_CST);
  char c;
  while (read(g_park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

enum { PARKED = 2 };
static pthread_t g_parked[PARKED];

// Makes the process multithreaded: threads blocked in read() until unpark().
static void park_threads(void) {
  if (pipe(g_park_pipe) != 0) _exit(100);
  for (int i = 0; i < PARKED; i++) pthread_create(&g_parked[i], NULL, parked, NULL);
  while (__atomic_load_n(&g_parked_ready, __ATOMIC_SEQ_CST) < PARKED) sched_yield();
}

static void unpark(void) {
  close(g_park_pipe[1]);
  for (int i = 0; i < PARKED; i++) pthread_join(g_parked[i], NULL);
  close(g_park_pipe[0]);
}

// ---- threads -----------------------------------------------------------------------------------------------

static void *return_errno(void *arg) {
  (void)arg;
  return (void *)(intptr_t)errno;  // a new thread starts with errno 0
}

static void *exits_with_42(void *arg) {
  (void)arg;
  pthread_exit((void *)42);
}

static void *waits_on_barrier(void *arg) {
  pthread_barrier_wait(arg);
  return NULL;
}

static void *sleeps_until_cancelled(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static void section_threads(void) {
  pthread_t t;
  void *res = NULL;
  CALL_INT("pthread_create", "success", pthread_create(&t, NULL, return_errno, NULL));
  CALL_INT("pthread_join", "success", pthread_join(t, &res));
  say_num("pthread_create new-thread-errno: ", (long)(intptr_t)res);

  pthread_attr_t huge;
  pthread_attr_init(&huge);
  pthread_attr_setstacksize(&huge, (size_t)1 << 46);
  CALL_INT("pthread_create", "huge-stack-EAGAIN", pthread_create(&t, &huge, return_errno, NULL));
  pthread_attr_destroy(&huge);

  CALL_INT("pthread_create", "exits", pthread_create(&t, NULL, exits_with_42, NULL));
  CALL_INT("pthread_join", "after-pthread_exit", pthread_join(t, &res));
  say_num("pthread_exit value: ", (long)(intptr_t)res);

  CALL_INT("pthread_join", "self-EDEADLK", pthread_join(pthread_self(), NULL));

  pthread_barrier_t b;
  pthread_barrier_init(&b, NULL, 2);
  pthread_create(&t, NULL, waits_on_barrier, &b);
  CALL_INT("pthread_setname_np", "success", pthread_setname_np(t, "probe-worker"));
  CALL_INT("pthread_setname_np", "ERANGE", pthread_setname_np(t, "a-name-longer-than-fifteen"));
  CALL_INT("pthread_setname_np", "self", pthread_setname_np(pthread_self(), "probe-main"));
  CALL_INT("pthread_tryjoin_np", "running-EBUSY", pthread_tryjoin_np(t, NULL));
  CALL_INT("pthread_timedjoin_np", "past-ETIMEDOUT", pthread_timedjoin_np(t, NULL, &past));
  pthread_barrier_wait(&b);
  struct timespec soon = from_now(5000);
  CALL_INT("pthread_timedjoin_np", "success", pthread_timedjoin_np(t, NULL, &soon));

  pthread_create(&t, NULL, waits_on_barrier, &b);
  CALL_INT("pthread_detach", "success", pthread_detach(t));
  CALL_INT("pthread_detach", "twice-EINVAL", pthread_detach(t));
  CALL_INT("pthread_join", "detached-EINVAL", pthread_join(t, NULL));
  pthread_barrier_wait(&b);

  pthread_create(&t, NULL, waits_on_barrier, &b);
  pthread_barrier_wait(&b);
  int rc;
  while ((rc = pthread_tryjoin_np(t, NULL)) == EBUSY) sched_yield();
  errno = SENTINEL;
  CALL_INT("pthread_tryjoin_np", "after-exit", rc);  // the last try, as returned
  pthread_barrier_destroy(&b);

  pthread_create(&t, NULL, sleeps_until_cancelled, NULL);
  CALL_INT("pthread_cancel", "success", pthread_cancel(t));
  CALL_INT("pthread_join", "cancelled", pthread_join(t, &res));
  say(res == PTHREAD_CANCELED ? "pthread_join result: PTHREAD_CANCELED" : "pthread_join result: other");
}

// ---- mutexes -----------------------------------------------------------------------------------------------

static void init_mutex(pthread_mutex_t *m, int type, int robust) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, type);
  if (robust) pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
}

static void section_mutex(int with_threads) {
  pthread_mutex_t m, em, rm;
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  CALL_INT("pthread_mutex_init", "default", pthread_mutex_init(&m, NULL));
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  CALL_INT("pthread_mutex_init", "errorcheck", pthread_mutex_init(&em, &a));
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  CALL_INT("pthread_mutex_init", "recursive", pthread_mutex_init(&rm, &a));
  pthread_mutexattr_destroy(&a);
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT);
  pthread_mutexattr_setprioceiling(&a, 1);
  pthread_mutex_t pp;
  CALL_INT("pthread_mutex_init", "prio-protect", pthread_mutex_init(&pp, &a));
  pthread_mutexattr_destroy(&a);

  CALL_INT("pthread_mutex_lock", "success", pthread_mutex_lock(&m));
  CALL_INT("pthread_mutex_trylock", "held-EBUSY", pthread_mutex_trylock(&m));
  CALL_INT("pthread_mutex_timedlock", "self-held-past-ETIMEDOUT", pthread_mutex_timedlock(&m, &past));
  CALL_INT("pthread_mutex_destroy", "locked-EBUSY", pthread_mutex_destroy(&m));
  CALL_INT("pthread_mutex_unlock", "success", pthread_mutex_unlock(&m));
  CALL_INT("pthread_mutex_trylock", "success", pthread_mutex_trylock(&m));
  CALL_INT("pthread_mutex_unlock", "after-trylock", pthread_mutex_unlock(&m));
  CALL_INT("pthread_mutex_timedlock", "free", pthread_mutex_timedlock(&m, &past));
  CALL_INT("pthread_mutex_unlock", "after-timedlock", pthread_mutex_unlock(&m));
  CALL_INT("pthread_mutex_clocklock", "free", pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &past));
  CALL_INT("pthread_mutex_unlock", "after-clocklock", pthread_mutex_unlock(&m));
  CALL_INT("pthread_mutex_clocklock", "bad-clock-EINVAL", pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &past));

  CALL_INT("pthread_mutex_lock", "errorcheck", pthread_mutex_lock(&em));
  CALL_INT("pthread_mutex_lock", "errorcheck-relock-EDEADLK", pthread_mutex_lock(&em));
  CALL_INT("pthread_mutex_timedlock", "errorcheck-relock-EDEADLK", pthread_mutex_timedlock(&em, &past));
  CALL_INT("pthread_mutex_trylock", "errorcheck-relock-EBUSY", pthread_mutex_trylock(&em));
  CALL_INT("pthread_mutex_unlock", "errorcheck", pthread_mutex_unlock(&em));
  CALL_INT("pthread_mutex_unlock", "errorcheck-unowned-EPERM", pthread_mutex_unlock(&em));

  CALL_INT("pthread_mutex_lock", "recursive-1", pthread_mutex_lock(&rm));
  CALL_INT("pthread_mutex_lock", "recursive-2", pthread_mutex_lock(&rm));
  CALL_INT("pthread_mutex_trylock", "recursive-3", pthread_mutex_trylock(&rm));
  CALL_INT("pthread_mutex_unlock", "recursive-3", pthread_mutex_unlock(&rm));
  CALL_INT("pthread_mutex_unlock", "recursive-2", pthread_mutex_unlock(&rm));
  CALL_INT("pthread_mutex_unlock", "recursive-1", pthread_mutex_unlock(&rm));
  CALL_INT("pthread_mutex_unlock", "recursive-unowned-EPERM", pthread_mutex_unlock(&rm));

  CALL_INT("pthread_mutex_lock", "prio-protect", pthread_mutex_lock(&pp));
  CALL_INT("pthread_mutex_unlock", "prio-protect", pthread_mutex_unlock(&pp));

  CALL_INT("pthread_mutex_destroy", "default", pthread_mutex_destroy(&m));
  CALL_INT("pthread_mutex_destroy", "errorcheck", pthread_mutex_destroy(&em));
  CALL_INT("pthread_mutex_destroy", "recursive", pthread_mutex_destroy(&rm));
  CALL_INT("pthread_mutex_destroy", "prio-protect", pthread_mutex_destroy(&pp));

  if (!with_threads) return;
  // Held by another thread.
  pthread_mutex_t other;
  init_mutex(&other, PTHREAD_MUTEX_ERRORCHECK, 0);
  struct holder h;
  holder_start(&h, HOLD_MUTEX, &other);
  CALL_INT("pthread_mutex_trylock", "other-held-EBUSY", pthread_mutex_trylock(&other));
  CALL_INT("pthread_mutex_timedlock", "other-held-past-ETIMEDOUT", pthread_mutex_timedlock(&other, &past));
  CALL_INT("pthread_mutex_timedlock", "other-held-bad-nsec-EINVAL", pthread_mutex_timedlock(&other, &bad_nsec));
  CALL_INT("pthread_mutex_clocklock", "other-held-past-ETIMEDOUT",
           pthread_mutex_clocklock(&other, CLOCK_MONOTONIC, &past));
  struct timespec soon = from_now(30);
  CALL_INT("pthread_mutex_timedlock", "other-held-30ms-ETIMEDOUT", pthread_mutex_timedlock(&other, &soon));
  CALL_INT("pthread_mutex_unlock", "other-held-EPERM", pthread_mutex_unlock(&other));
  holder_stop(&h);
  pthread_mutex_destroy(&other);

  // Robust: the owner exits holding it.
  pthread_mutex_t rob;
  init_mutex(&rob, PTHREAD_MUTEX_NORMAL, 1);
  holder_start(&h, HOLD_MUTEX_AND_EXIT, &rob);
  holder_stop(&h);
  CALL_INT("pthread_mutex_lock", "robust-EOWNERDEAD", pthread_mutex_lock(&rob));
  CALL_INT("pthread_mutex_unlock", "robust-inconsistent", pthread_mutex_unlock(&rob));
  CALL_INT("pthread_mutex_lock", "robust-ENOTRECOVERABLE", pthread_mutex_lock(&rob));
  CALL_INT("pthread_mutex_trylock", "robust-ENOTRECOVERABLE", pthread_mutex_trylock(&rob));
  pthread_mutex_destroy(&rob);
  init_mutex(&rob, PTHREAD_MUTEX_NORMAL, 1);
  holder_start(&h, HOLD_MUTEX_AND_EXIT, &rob);
  holder_stop(&h);
  CALL_INT("pthread_mutex_trylock", "robust-EOWNERDEAD", pthread_mutex_trylock(&rob));
  pthread_mutex_consistent(&rob);
  CALL_INT("pthread_mutex_unlock", "robust-consistent", pthread_mutex_unlock(&rob));
  holder_start(&h, HOLD_MUTEX_AND_EXIT, &rob);
  holder_stop(&h);
  CALL_INT("pthread_mutex_timedlock", "robust-EOWNERDEAD", pthread_mutex_timedlock(&rob, &past));
  pthread_mutex_consistent(&rob);
  CALL_INT("pthread_mutex_unlock", "robust-consistent-2", pthread_mutex_unlock(&rob));
  CALL_INT("pthread_mutex_destroy", "robust", pthread_mutex_destroy(&rob));
}

// ---- rwlocks -----------------------------------------------------------------------------------------------

static void section_rwlock(int with_threads) {
  pthread_rwlock_t rw;
  CALL_INT("pthread_rwlock_init", "default", pthread_rwlock_init(&rw, NULL));
  CALL_INT("pthread_rwlock_rdlock", "success", pthread_rwlock_rdlock(&rw));
  CALL_INT("pthread_rwlock_tryrdlock", "second-read", pthread_rwlock_tryrdlock(&rw));
  CALL_INT("pthread_rwlock_trywrlock", "read-held-EBUSY", pthread_rwlock_trywrlock(&rw));
  CALL_INT("pthread_rwlock_timedwrlock", "read-held-past-ETIMEDOUT", pthread_rwlock_timedwrlock(&rw, &past));
  CALL_INT("pthread_rwlock_clockwrlock", "read-held-past-ETIMEDOUT",
           pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &past));
  CALL_INT("pthread_rwlock_timedrdlock", "third-read", pthread_rwlock_timedrdlock(&rw, &past));
  CALL_INT("pthread_rwlock_clockrdlock", "fourth-read", pthread_rwlock_clockrdlock(&rw, CLOCK_REALTIME, &past));
  for (int i = 1; i <= 4; i++) CALL_INT("pthread_rwlock_unlock", "read", pthread_rwlock_unlock(&rw));
  CALL_INT("pthread_rwlock_wrlock", "success", pthread_rwlock_wrlock(&rw));
  CALL_INT("pthread_rwlock_wrlock", "self-write-EDEADLK", pthread_rwlock_wrlock(&rw));
  CALL_INT("pthread_rwlock_rdlock", "self-write-EDEADLK", pthread_rwlock_rdlock(&rw));
  CALL_INT("pthread_rwlock_timedwrlock", "self-write-EDEADLK", pthread_rwlock_timedwrlock(&rw, &past));
  CALL_INT("pthread_rwlock_timedrdlock", "self-write-EDEADLK", pthread_rwlock_timedrdlock(&rw, &past));
  CALL_INT("pthread_rwlock_clockwrlock", "self-write-EDEADLK", pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &past));
  CALL_INT("pthread_rwlock_clockrdlock", "self-write-EDEADLK", pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &past));
  CALL_INT("pthread_rwlock_tryrdlock", "self-write-EBUSY", pthread_rwlock_tryrdlock(&rw));
  CALL_INT("pthread_rwlock_trywrlock", "self-write-EBUSY", pthread_rwlock_trywrlock(&rw));
  CALL_INT("pthread_rwlock_unlock", "write", pthread_rwlock_unlock(&rw));
  CALL_INT("pthread_rwlock_trywrlock", "success", pthread_rwlock_trywrlock(&rw));
  CALL_INT("pthread_rwlock_unlock", "after-trywrlock", pthread_rwlock_unlock(&rw));
  CALL_INT("pthread_rwlock_timedwrlock", "free", pthread_rwlock_timedwrlock(&rw, &past));
  CALL_INT("pthread_rwlock_unlock", "after-timedwrlock", pthread_rwlock_unlock(&rw));
  CALL_INT("pthread_rwlock_clockwrlock", "free", pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &past));
  CALL_INT("pthread_rwlock_unlock", "after-clockwrlock", pthread_rwlock_unlock(&rw));
  CALL_INT("pthread_rwlock_clockwrlock", "bad-clock-EINVAL",
           pthread_rwlock_clockwrlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &past));
  CALL_INT("pthread_rwlock_clockrdlock", "bad-clock-EINVAL",
           pthread_rwlock_clockrdlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &past));

  pthread_rwlockattr_t a;
  pthread_rwlockattr_init(&a);
  pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_t wp;
  CALL_INT("pthread_rwlock_init", "prefer-writer", pthread_rwlock_init(&wp, &a));
  pthread_rwlockattr_destroy(&a);
  pthread_rwlock_destroy(&wp);

  if (with_threads) {
    struct holder h;
    holder_start(&h, HOLD_RWLOCK_WRITE, &rw);
    CALL_INT("pthread_rwlock_tryrdlock", "other-write-EBUSY", pthread_rwlock_tryrdlock(&rw));
    CALL_INT("pthread_rwlock_trywrlock", "other-write-EBUSY", pthread_rwlock_trywrlock(&rw));
    CALL_INT("pthread_rwlock_timedrdlock", "other-write-past-ETIMEDOUT", pthread_rwlock_timedrdlock(&rw, &past));
    CALL_INT("pthread_rwlock_timedrdlock", "other-write-bad-nsec-EINVAL", pthread_rwlock_timedrdlock(&rw, &bad_nsec));
    CALL_INT("pthread_rwlock_timedwrlock", "other-write-bad-nsec-EINVAL",
             pthread_rwlock_timedwrlock(&rw, &bad_nsec));
    CALL_INT("pthread_rwlock_clockrdlock", "other-write-past-ETIMEDOUT",
             pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &past));
    holder_stop(&h);
  }
  pthread_rwlock_destroy(&rw);
}

// ---- semaphores --------------------------------------------------------------------------------------------

static void on_alarm(int sig) { (void)sig; }

static void section_sem(int with_timer) {
  sem_t s;
  CALL_INT("sem_init", "success", sem_init(&s, 0, 1));
  CALL_INT("sem_init", "too-big-EINVAL", sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1u));
  CALL_INT("sem_wait", "success", sem_wait(&s));
  CALL_INT("sem_trywait", "zero-EAGAIN", sem_trywait(&s));
  CALL_INT("sem_timedwait", "zero-past-ETIMEDOUT", sem_timedwait(&s, &past));
  CALL_INT("sem_timedwait", "zero-bad-nsec-EINVAL", sem_timedwait(&s, &bad_nsec));
  CALL_INT("sem_clockwait", "zero-past-ETIMEDOUT", sem_clockwait(&s, CLOCK_MONOTONIC, &past));
  CALL_INT("sem_clockwait", "bad-clock-EINVAL", sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &past));
  struct timespec soon = from_now(20);
  CALL_INT("sem_timedwait", "zero-20ms-ETIMEDOUT", sem_timedwait(&s, &soon));
  CALL_INT("sem_post", "success", sem_post(&s));
  CALL_INT("sem_trywait", "success", sem_trywait(&s));
  CALL_INT("sem_post", "again", sem_post(&s));
  CALL_INT("sem_timedwait", "success", sem_timedwait(&s, &past));
  CALL_INT("sem_post", "again", sem_post(&s));
  CALL_INT("sem_clockwait", "success", sem_clockwait(&s, CLOCK_MONOTONIC, &past));
  CALL_INT("sem_destroy", "success", sem_destroy(&s));
  CALL_INT("sem_init", "at-max", sem_init(&s, 0, SEM_VALUE_MAX));
  CALL_INT("sem_post", "EOVERFLOW", sem_post(&s));
  sem_destroy(&s);
  CALL_INT("sem_init", "pshared", sem_init(&s, 1, 0));
  CALL_INT("sem_trywait", "pshared-EAGAIN", sem_trywait(&s));
  CALL_INT("sem_post", "pshared", sem_post(&s));
  CALL_INT("sem_wait", "pshared", sem_wait(&s));
  sem_destroy(&s);

  if (!with_timer) return;
  // A signal handler without SA_RESTART interrupts sem_wait: EINTR.
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, &old);
  sem_init(&s, 0, 0);
  struct itimerval it = {{0, 0}, {0, 30000}};
  setitimer(ITIMER_REAL, &it, NULL);
  CALL_INT("sem_wait", "signal-EINTR", sem_wait(&s));
  it.it_value.tv_usec = 30000;
  setitimer(ITIMER_REAL, &it, NULL);
  struct timespec later = from_now(5000);
  CALL_INT("sem_timedwait", "signal-EINTR", sem_timedwait(&s, &later));
  sigaction(SIGALRM, &old, NULL);
  sem_destroy(&s);
}

// ---- condition variables -----------------------------------------------------------------------------------

struct cond_pair {
  pthread_mutex_t m;
  pthread_cond_t c;
  int ready;
};

static void *signals_cond(void *p) {
  struct cond_pair *cp = p;
  pthread_mutex_lock(&cp->m);
  cp->ready = 1;
  pthread_cond_signal(&cp->c);
  pthread_mutex_unlock(&cp->m);
  return NULL;
}

static void section_cond(int with_threads) {
  struct cond_pair cp = {.ready = 0};
  init_mutex(&cp.m, PTHREAD_MUTEX_ERRORCHECK, 0);
  pthread_cond_init(&cp.c, NULL);
  pthread_mutex_lock(&cp.m);
  CALL_INT("pthread_cond_timedwait", "past-ETIMEDOUT", pthread_cond_timedwait(&cp.c, &cp.m, &past));
  CALL_INT("pthread_cond_timedwait", "bad-nsec-EINVAL", pthread_cond_timedwait(&cp.c, &cp.m, &bad_nsec));
  CALL_INT("pthread_cond_clockwait", "past-ETIMEDOUT", pthread_cond_clockwait(&cp.c, &cp.m, CLOCK_MONOTONIC, &past));
  CALL_INT("pthread_cond_clockwait", "bad-clock-EINVAL",
           pthread_cond_clockwait(&cp.c, &cp.m, CLOCK_PROCESS_CPUTIME_ID, &past));
  struct timespec soon = from_now(20);
  CALL_INT("pthread_cond_timedwait", "20ms-ETIMEDOUT", pthread_cond_timedwait(&cp.c, &cp.m, &soon));
  // The mutex is held again after every return: a second lock of the errorcheck mutex says so.
  CALL_INT("pthread_mutex_lock", "after-cond-wait-EDEADLK", pthread_mutex_lock(&cp.m));
  if (with_threads) {
    pthread_t t;
    pthread_create(&t, NULL, signals_cond, &cp);
    sigset_t before;
    sigprocmask(SIG_SETMASK, NULL, &before);
    errno = SENTINEL;
    int rc = 0;
    while (!cp.ready && rc == 0) rc = pthread_cond_wait(&cp.c, &cp.m);
    int e = errno;
    char rb[32];
    emit("pthread_cond_wait", "signalled", fmt_long(rb, rc), e, &before);
    pthread_mutex_unlock(&cp.m);
    pthread_join(t, NULL);
    cp.ready = 0;
    pthread_mutex_lock(&cp.m);
    pthread_create(&t, NULL, signals_cond, &cp);
    struct timespec later = from_now(10000);
    sigprocmask(SIG_SETMASK, NULL, &before);
    errno = SENTINEL;
    rc = 0;
    while (!cp.ready && rc == 0) rc = pthread_cond_timedwait(&cp.c, &cp.m, &later);
    e = errno;
    emit("pthread_cond_timedwait", "signalled", fmt_long(rb, rc), e, &before);
    pthread_mutex_unlock(&cp.m);
    pthread_join(t, NULL);
    pthread_mutex_lock(&cp.m);
  }
  CALL_INT("pthread_mutex_unlock", "after-cond-wait", pthread_mutex_unlock(&cp.m));
  // Not holding the mutex: glibc's unlock inside the wait fails and the wait returns its error.
  CALL_INT("pthread_cond_timedwait", "mutex-not-held-EPERM", pthread_cond_timedwait(&cp.c, &cp.m, &past));
  CALL_INT("pthread_mutex_unlock", "after-failed-wait-EPERM", pthread_mutex_unlock(&cp.m));
  CALL_INT("pthread_cond_destroy", "success", pthread_cond_destroy(&cp.c));
  pthread_cond_t c2 = PTHREAD_COND_INITIALIZER;
  CALL_INT("pthread_cond_destroy", "static-initializer", pthread_cond_destroy(&c2));
  pthread_mutex_destroy(&cp.m);
}

// ---- function-local statics --------------------------------------------------------------------------------

static void section_guard(void) {
  static int64_t guard, guard2;
  CALL_INT("__cxa_guard_acquire", "first", __cxa_guard_acquire(&guard));
  CALL_VOID("__cxa_guard_release", "first", __cxa_guard_release(&guard));
  CALL_INT("__cxa_guard_acquire", "done", __cxa_guard_acquire(&guard));
  CALL_INT("__cxa_guard_acquire", "first-2", __cxa_guard_acquire(&guard2));
  CALL_VOID("__cxa_guard_abort", "abandoned", __cxa_guard_abort(&guard2));
  CALL_INT("__cxa_guard_acquire", "after-abort", __cxa_guard_acquire(&guard2));
  CALL_VOID("__cxa_guard_release", "after-abort", __cxa_guard_release(&guard2));
}

// ---- the allocator -----------------------------------------------------------------------------------------

static void section_alloc(void) {
  void *volatile p = NULL;
  void *volatile q = NULL;
  // Sizes from a volatile: the compiler warns about (and may fold) constant impossible sizes.
  static volatile size_t size_max = SIZE_MAX;
  const size_t huge = size_max / 2;
  CALL_PTR("malloc", "small", p = malloc(24));
  CALL_VOID("free", "small", free(p));
  CALL_PTR("malloc", "zero", p = malloc(0));
  CALL_VOID("free", "zero", free(p));
  CALL_PTR("malloc", "large-mmap", p = malloc(1 << 22));
  CALL_VOID("free", "large-mmap", free(p));
  CALL_PTR("malloc", "huge-ENOMEM", malloc(huge));
  CALL_PTR("malloc", "SIZE_MAX-ENOMEM", malloc(size_max));
  CALL_VOID("free", "NULL", free(NULL));

  CALL_PTR("calloc", "small", p = calloc(4, 8));
  CALL_VOID("free", "calloc", free(p));
  CALL_PTR("calloc", "overflow-ENOMEM", calloc(size_max / 4, 8));
  CALL_PTR("calloc", "huge-ENOMEM", calloc(1, huge));
  CALL_PTR("calloc", "zero", p = calloc(0, 0));
  free(p);

  CALL_PTR("realloc", "from-NULL", p = realloc(NULL, 16));
  CALL_PTR("realloc", "grow", p = realloc(p, 4096));
  CALL_PTR("realloc", "huge-ENOMEM", q = realloc(p, huge));
  CALL_PTR("realloc", "to-zero-frees", realloc(p, 0));
  CALL_PTR("realloc", "NULL-huge-ENOMEM", realloc(NULL, huge));

  CALL_PTR("reallocarray", "from-NULL", p = reallocarray(NULL, 4, 8));
  CALL_PTR("reallocarray", "overflow-ENOMEM", q = reallocarray(p, size_max / 4, 8));
  CALL_VOID("free", "reallocarray", free(p));

  void *out = NULL;
  CALL_INT("posix_memalign", "success", posix_memalign(&out, 64, 100));
  CALL_VOID("free", "posix_memalign", free(out));
  CALL_INT("posix_memalign", "not-power-of-2-EINVAL", posix_memalign(&out, 24, 100));
  CALL_INT("posix_memalign", "below-pointer-EINVAL", posix_memalign(&out, 4, 100));
  CALL_INT("posix_memalign", "huge-ENOMEM", posix_memalign(&out, 64, huge));

  CALL_PTR("aligned_alloc", "success", p = aligned_alloc(64, 128));
  CALL_VOID("free", "aligned_alloc", free(p));
  CALL_PTR("aligned_alloc", "not-power-of-2", p = aligned_alloc(24, 48));
  free(p);
  CALL_PTR("aligned_alloc", "huge-ENOMEM", aligned_alloc(64, huge));

  CALL_PTR("memalign", "success", p = memalign(256, 10));
  CALL_VOID("free", "memalign", free(p));
  CALL_PTR("memalign", "huge-ENOMEM", memalign(64, huge));
  CALL_PTR("memalign", "huge-alignment-EINVAL", memalign(size_max / 2 + 1, 8));
  CALL_PTR("valloc", "success", p = valloc(100));
  CALL_VOID("free", "valloc", free(p));
  CALL_PTR("valloc", "huge-ENOMEM", valloc(huge));
  CALL_PTR("pvalloc", "success", p = pvalloc(100));
  CALL_VOID("free", "pvalloc", free(p));
  CALL_PTR("pvalloc", "huge-ENOMEM", pvalloc(size_max - 100));
  (void)q;
}

// ---- stdio -------------------------------------------------------------------------------------------------

static int via_vprintf(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int rc = vprintf(f, ap);
  va_end(ap);
  return rc;
}
static int via_vfprintf(FILE *s, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int rc = vfprintf(s, f, ap);
  va_end(ap);
  return rc;
}
static int via_vdprintf(int fd, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int rc = vdprintf(fd, f, ap);
  va_end(ap);
  return rc;
}
static int via_vsprintf(char *s, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int rc = vsprintf(s, f, ap);
  va_end(ap);
  return rc;
}
static int via_vsnprintf(char *s, size_t n, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int rc = vsnprintf(s, n, f, ap);
  va_end(ap);
  return rc;
}
static int via_vprintf_chk(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int rc = __vprintf_chk(1, f, ap);
  va_end(ap);
  return rc;
}
static int via_vfprintf_chk(FILE *s, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int rc = __vfprintf_chk(s, 1, f, ap);
  va_end(ap);
  return rc;
}
static int via_vdprintf_chk(int fd, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int rc = __vdprintf_chk(fd, 1, f, ap);
  va_end(ap);
  return rc;
}
static int via_vsprintf_chk(char *s, size_t len, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int rc = __vsprintf_chk(s, 1, len, f, ap);
  va_end(ap);
  return rc;
}
static int via_vsnprintf_chk(char *s, size_t n, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int rc = __vsnprintf_chk(s, n, 1, n, f, ap);
  va_end(ap);
  return rc;
}
static void via_vsyslog(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  vsyslog(LOG_DEBUG, f, ap);
  va_end(ap);
}
static void via_vsyslog_chk(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  __vsyslog_chk(LOG_DEBUG, 1, f, ap);
  va_end(ap);
}

// Flushes the probe's stdout FILE so that what printf wrote comes before the next line.
static void flush_stdout(void) { fflush(stdout); }

static void section_stdio(void) {
  char buf[256];
  FILE *f;
  CALL_INT("printf", "stdout", printf("printf says %d\n", 42));
  flush_stdout();
  CALL_INT("__printf_chk", "stdout", __printf_chk(1, "__printf_chk says %s\n", "hi"));
  flush_stdout();
  CALL_INT("vprintf", "stdout", via_vprintf("vprintf says %d\n", 7));
  flush_stdout();
  CALL_INT("__vprintf_chk", "stdout", via_vprintf_chk("__vprintf_chk says %d\n", 8));
  flush_stdout();
  CALL_INT("puts", "stdout", puts("puts says"));
  CALL_INT("putchar", "stdout", putchar('!'));
  CALL_INT("putc", "stdout", putc('\n', stdout));
  CALL_INT("fflush", "stdout", fflush(stdout));

  CALL_PTR("fopen", "/dev/null-w", f = fopen("/dev/null", "w"));
  CALL_INT("fprintf", "devnull", fprintf(f, "%s=%d", "x", 12));
  CALL_INT("__fprintf_chk", "devnull", __fprintf_chk(f, 1, "%s=%d", "y", 345));
  CALL_INT("vfprintf", "devnull", via_vfprintf(f, "%d", 123456));
  CALL_INT("__vfprintf_chk", "devnull", via_vfprintf_chk(f, "%d", 1234567));
  CALL_INT("fputs", "devnull", fputs("hello", f));
  CALL_INT("fputc", "devnull", fputc('z', f));
  CALL_INT("putc", "devnull", putc('z', f));
  CALL_INT("fwrite", "devnull", fwrite("abcdef", 2, 3, f));
  CALL_INT("fread", "write-only-EBADF", fread(buf, 1, 4, f));
  CALL_INT("fgetc", "write-only-EBADF", fgetc(f));
  CALL_INT("fflush", "devnull", fflush(f));
  CALL_INT("fclose", "devnull", fclose(f));

  CALL_PTR("fopen", "ENOENT", fopen("/nonexistent-forkhazard/x", "r"));
  CALL_PTR("fopen", "bad-mode-EINVAL", fopen("/dev/null", "q"));
  CALL_PTR("fopen", "directory-for-write-EISDIR", fopen("/", "w"));

  CALL_PTR("fopen", "/dev/null-r", f = fopen("/dev/null", "r"));
  CALL_INT("fprintf", "read-only-EBADF", fprintf(f, "x"));
  CALL_INT("fputs", "read-only-EBADF", fputs("x", f));
  CALL_INT("fwrite", "read-only-EBADF", fwrite("x", 1, 1, f));
  CALL_INT("fgetc", "eof", fgetc(f));
  CALL_INT("getc", "eof", getc(f));
  CALL_PTR("fgets", "eof", fgets(buf, sizeof buf, f));
  CALL_INT("fread", "eof", fread(buf, 1, 4, f));
  CALL_INT("fclose", "devnull-r", fclose(f));

  char path[] = "/tmp/forkhazard-probe.XXXXXX";
  int fd = mkstemp(path);
  write_all(fd, "line one\nline two\nxyz", 22);
  lseek(fd, 0, SEEK_SET);
  CALL_PTR("fdopen", "success", f = fdopen(fd, "r"));
  CALL_PTR("fgets", "line", fgets(buf, sizeof buf, f));
  say(strcmp(buf, "line one\n") == 0 ? "fgets text: line one" : "fgets text: WRONG");
  CALL_PTR("__fgets_chk", "line", __fgets_chk(buf, sizeof buf, (int)sizeof buf, f));
  CALL_INT("fgetc", "byte", fgetc(f));
  CALL_INT("getc", "byte", getc(f));
  CALL_INT("fread", "rest", fread(buf, 1, sizeof buf, f));
  CALL_INT("__fread_chk", "eof", __fread_chk(buf, sizeof buf, 1, 8, f));
  CALL_INT("fclose", "fdopen", fclose(f));
  unlink(path);
  CALL_PTR("fdopen", "bad-fd-EBADF", fdopen(-1, "r"));
  int wfd = open("/dev/null", O_WRONLY);
  CALL_PTR("fdopen", "mode-mismatch-EINVAL", fdopen(wfd, "r"));
  close(wfd);

  CALL_PTR("fopen", "/dev/full", f = fopen("/dev/full", "w"));
  CALL_INT("fputs", "full-buffered", fputs("will not fit", f));
  CALL_INT("fflush", "full-ENOSPC", fflush(f));
  CALL_INT("fputs", "full-again", fputs("again", f));
  CALL_INT("fclose", "full-ENOSPC", fclose(f));

  CALL_INT("sprintf", "success", sprintf(buf, "%s-%d", "ab", 5));
  CALL_INT("snprintf", "truncated", snprintf(buf, 4, "%s", "abcdefgh"));
  CALL_INT("snprintf", "n-zero", snprintf(NULL, 0, "%d", 123456));
  CALL_INT("__sprintf_chk", "success", __sprintf_chk(buf, 1, sizeof buf, "%d", 99));
  CALL_INT("__snprintf_chk", "truncated", __snprintf_chk(buf, 4, 1, 4, "%s", "abcdefgh"));
  CALL_INT("vsprintf", "success", via_vsprintf(buf, "%d/%d", 1, 2));
  CALL_INT("vsnprintf", "truncated", via_vsnprintf(buf, 3, "%s", "abcdef"));
  CALL_INT("__vsprintf_chk", "success", via_vsprintf_chk(buf, sizeof buf, "%x", 255));
  CALL_INT("__vsnprintf_chk", "truncated", via_vsnprintf_chk(buf, 3, "%s", "abcdef"));
  CALL_INT("snprintf", "bad-format-EINVAL", snprintf(buf, sizeof buf, "%lc", (wint_t)0x7fffffff));
  int nfd = open("/dev/null", O_WRONLY);
  CALL_INT("dprintf", "devnull", dprintf(nfd, "%d", 1234));
  CALL_INT("__dprintf_chk", "devnull", __dprintf_chk(nfd, 1, "%d", 12345));
  CALL_INT("vdprintf", "devnull", via_vdprintf(nfd, "%d", 1));
  CALL_INT("__vdprintf_chk", "devnull", via_vdprintf_chk(nfd, "%d", 12));
  close(nfd);
  CALL_INT("dprintf", "bad-fd-EBADF", dprintf(-1, "%d", 1));
  CALL_INT("__dprintf_chk", "bad-fd-EBADF", __dprintf_chk(-1, 1, "%d", 1));

  // perror writes to stderr, which the test does not compare; its errno contract is what matters.
  CALL_VOID("perror", "EDOM", (errno = EDOM, perror("probe perror")));
}

// ---- the loader --------------------------------------------------------------------------------------------

static int phdr_count(struct dl_phdr_info *info, size_t size, void *data) {
  (void)info;
  (void)size;
  ++*(int *)data;
  return 0;
}

static int phdr_stop(struct dl_phdr_info *info, size_t size, void *data) {
  (void)info;
  (void)size;
  (void)data;
  return 7;
}

static void section_loader(void) {
  void *h;
  CALL_PTR("dlopen", "missing", dlopen("libforkhazard-no-such-library.so", RTLD_NOW));
  CALL_STR("dlerror", "after-missing-dlopen", dlerror());
  CALL_STR("dlerror", "cleared", dlerror());
  CALL_PTR("dlopen", "libm", h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL));
  CALL_PTR("dlopen", "NULL-main", dlopen(NULL, RTLD_NOW));
  CALL_PTR("dlopen", "bad-flags", dlopen("libm.so.6", 0));
  CALL_STR("dlerror", "after-bad-flags", dlerror());
  CALL_PTR("dlsym", "found", dlsym(h, "cos"));
  CALL_PTR("dlsym", "missing", dlsym(h, "forkhazard_no_such_symbol"));
  CALL_STR("dlerror", "after-missing-dlsym", dlerror());
  CALL_PTR("dlsym", "default-found", dlsym(RTLD_DEFAULT, "strlen"));
  CALL_PTR("dlsym", "next-found", dlsym(RTLD_NEXT, "strlen"));
  CALL_PTR("dlsym", "default-missing", dlsym(RTLD_DEFAULT, "forkhazard_no_such_symbol"));
  CALL_STR("dlerror", "after-default-missing", dlerror());
  Dl_info info;
  CALL_INT("dladdr", "found", dladdr((void *)&section_loader, &info));
  CALL_INT("dladdr", "not-found", dladdr((void *)16, &info));
  int count = 0;
  CALL_INT("dl_iterate_phdr", "all", dl_iterate_phdr(phdr_count, &count));
  CALL_INT("dl_iterate_phdr", "stop-7", dl_iterate_phdr(phdr_stop, NULL));
  CALL_INT("dlclose", "success", dlclose(h));
}

// ---- the environment, time, NSS, syslog, locale, random, popen, iconv, gettext -----------------------------------

static void section_time(void) {
  time_t t = 1700000000;  // 2023-11-14 22:13:20 UTC; the test sets TZ=UTC
  struct tm tm, *tp;
  char buf[128];
  CALL_VOID("tzset", "TZ", tzset());
  CALL_PTR("localtime", "success", tp = localtime(&t));
  say_num("localtime hour: ", tp->tm_hour);
  CALL_PTR("localtime_r", "success", localtime_r(&t, &tm));
  time_t big = (time_t)LLONG_MAX;
  CALL_PTR("localtime", "EOVERFLOW", localtime(&big));
  CALL_PTR("localtime_r", "EOVERFLOW", localtime_r(&big, &tm));
  CALL_PTR("gmtime", "success", gmtime(&t));
  CALL_PTR("gmtime_r", "success", tp = gmtime_r(&t, &tm));
  CALL_PTR("gmtime", "EOVERFLOW", gmtime(&big));
  CALL_PTR("gmtime_r", "EOVERFLOW", gmtime_r(&big, &tm));
  gmtime_r(&t, &tm);
  CALL_INT("mktime", "success", mktime(&tm));
  struct tm far = tm;
  far.tm_year = INT_MAX;
  CALL_INT("mktime", "EOVERFLOW", mktime(&far));
  CALL_INT("strftime", "success", strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm));
  say(buf);
  CALL_INT("strftime", "too-small", strftime(buf, 4, "%Y-%m-%d", &tm));
  CALL_STR("ctime", "success", ctime(&t));
  CALL_STR("ctime_r", "success", ctime_r(&t, buf));
  CALL_PTR("ctime", "EOVERFLOW", ctime(&big));
  CALL_PTR("ctime_r", "EOVERFLOW", ctime_r(&big, buf));
  // Timers (noted in a forked child: its own timeout); armed far off, then cancelled: none fires.
  CALL_INT("alarm", "arm", (int)alarm(3600));
  CALL_INT("alarm", "previous", (int)alarm(0) > 3500);
  struct itimerval it = {{0, 0}, {3600, 0}}, old_it;
  CALL_INT("setitimer", "arm", setitimer(ITIMER_REAL, &it, &old_it));
  struct itimerval off = {{0, 0}, {0, 0}};
  CALL_INT("setitimer", "cancel", setitimer(ITIMER_REAL, &off, NULL));
  CALL_INT("setitimer", "bad-which-EINVAL", setitimer((__itimer_which_t)99, &it, NULL));
  timer_t timer;
  struct sigevent none_event;
  memset(&none_event, 0, sizeof none_event);
  none_event.sigev_notify = SIGEV_NONE;
  CALL_INT("timer_create", "success", timer_create(CLOCK_MONOTONIC, &none_event, &timer));
  timer_delete(timer);
  CALL_INT("timer_create", "bad-clock-EINVAL", timer_create((clockid_t)-99, &none_event, &timer));
}

static void section_nss(void) {
  struct passwd pw, *pres;
  struct group *gr;
  char buf[4096];
  CALL_PTR("getpwnam", "root", getpwnam("root"));
  CALL_PTR("getpwnam", "missing", getpwnam("forkhazard-no-such-user"));
  CALL_PTR("getpwuid", "0", getpwuid(0));
  CALL_PTR("getpwuid", "missing", getpwuid(3999999));
  CALL_INT("getpwnam_r", "root", getpwnam_r("root", &pw, buf, sizeof buf, &pres));
  CALL_INT("getpwnam_r", "ERANGE", getpwnam_r("root", &pw, buf, 4, &pres));
  CALL_INT("getpwnam_r", "missing", getpwnam_r("forkhazard-no-such-user", &pw, buf, sizeof buf, &pres));
  CALL_INT("getpwuid_r", "0", getpwuid_r(0, &pw, buf, sizeof buf, &pres));
  CALL_INT("getpwuid_r", "ERANGE", getpwuid_r(0, &pw, buf, 4, &pres));
  CALL_PTR("getgrnam", "root", gr = getgrnam("root"));
  CALL_PTR("getgrnam", "missing", getgrnam("forkhazard-no-such-group"));
  CALL_PTR("getgrgid", "0", getgrgid(0));
  CALL_PTR("getgrgid", "missing", getgrgid(3999999));
  (void)gr;

  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  CALL_INT("getaddrinfo", "numeric", getaddrinfo("127.0.0.1", "80", &hints, &res));
  if (res != NULL) freeaddrinfo(res);
  res = NULL;
  CALL_INT("getaddrinfo", "EAI_NONAME", getaddrinfo(NULL, NULL, &hints, &res));
  CALL_INT("getaddrinfo", "numeric-bad-EAI_NONAME", getaddrinfo("not-a-number", NULL, &hints, &res));
  hints.ai_flags = 0;
  CALL_INT("getaddrinfo", "localhost", getaddrinfo("localhost", NULL, &hints, &res));
  if (res != NULL) freeaddrinfo(res);
  hints.ai_family = 12345;
  CALL_INT("getaddrinfo", "bad-family", getaddrinfo("127.0.0.1", NULL, &hints, &res));
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(80);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char host[64], serv[32];
  CALL_INT("getnameinfo", "numeric", getnameinfo((struct sockaddr *)&sin, sizeof sin, host, sizeof host, serv,
                                                 sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV));
  say(host);
  CALL_INT("getnameinfo", "bad-len", getnameinfo((struct sockaddr *)&sin, 3, host, sizeof host, NULL, 0,
                                                 NI_NUMERICHOST));
  CALL_PTR("gethostbyname", "localhost", gethostbyname("localhost"));
  CALL_PTR("gethostbyname", "numeric", gethostbyname("127.0.0.1"));
  struct in_addr lo = {htonl(INADDR_LOOPBACK)};
  CALL_PTR("gethostbyaddr", "loopback", gethostbyaddr(&lo, sizeof lo, AF_INET));
  CALL_PTR("gethostbyaddr", "bad-len", gethostbyaddr(&lo, 1, AF_INET));
  CALL_PTR("getservbyname", "missing", getservbyname("forkhazard-no-such-service", "tcp"));
}

static void section_misc(void) {
  CALL_VOID("openlog", "success", openlog("fh-probe", LOG_ODELAY, LOG_USER));
  CALL_VOID("syslog", "debug", syslog(LOG_DEBUG, "forkhazard contract probe %d", 1));
  CALL_VOID("__syslog_chk", "debug", __syslog_chk(LOG_DEBUG, 1, "forkhazard contract probe %d", 2));
  CALL_VOID("vsyslog", "debug", via_vsyslog("forkhazard contract probe %d", 3));
  CALL_VOID("__vsyslog_chk", "debug", via_vsyslog_chk("forkhazard contract probe %d", 4));
  CALL_VOID("closelog", "success", closelog());

  CALL_STR("setlocale", "query", setlocale(LC_ALL, NULL));
  CALL_STR("setlocale", "C", setlocale(LC_ALL, "C"));
  CALL_STR("setlocale", "missing", setlocale(LC_ALL, "xx_XX.forkhazard"));
  CALL_STR("setlocale", "bad-category-EINVAL", setlocale(12345, "C"));
  locale_t loc;
  CALL_PTR("newlocale", "C", loc = newlocale(LC_ALL_MASK, "C", (locale_t)0));
  if (loc != (locale_t)0) freelocale(loc);
  CALL_PTR("newlocale", "missing-ENOENT", newlocale(LC_ALL_MASK, "xx_XX.forkhazard", (locale_t)0));
  CALL_PTR("newlocale", "bad-mask-EINVAL", newlocale(1 << 30, "C", (locale_t)0));

  CALL_VOID("srandom", "1", srandom(1));
  CALL_INT("random", "after-srandom-1", random());
  CALL_VOID("srand", "1", srand(1));
  CALL_INT("rand", "after-srand-1", rand());
  static char state[128], tiny[4];
  CALL_PTR("initstate", "success", initstate(7, state, sizeof state));
  CALL_INT("random", "after-initstate-7", random());
  CALL_PTR("initstate", "too-small-EINVAL", initstate(7, tiny, sizeof tiny));
  CALL_PTR("setstate", "success", setstate(state));
  CALL_INT("random", "after-setstate", random());

  FILE *p;
  CALL_PTR("popen", "success", p = popen("exit 3", "r"));
  CALL_INT("pclose", "exit-3", pclose(p));
  CALL_PTR("popen", "bad-mode-EINVAL", popen("true", "x"));
  CALL_PTR("popen", "write", p = popen("cat >/dev/null", "w"));
  CALL_INT("fputs", "to-popen", fputs("data\n", p));
  CALL_INT("pclose", "exit-0", pclose(p));

  iconv_t cd;
  CALL_INT("iconv_open", "success", (cd = iconv_open("UTF-8", "ISO-8859-1")) == (iconv_t)-1 ? -1 : 1);
  CALL_INT("iconv_close", "success", iconv_close(cd));
  CALL_INT("iconv_open", "missing-EINVAL", (long)(intptr_t)iconv_open("forkhazard-no-such", "UTF-8"));

  CALL_STR("gettext", "untranslated", gettext("forkhazard message"));
  CALL_STR("dgettext", "untranslated", dgettext("forkhazard", "forkhazard message"));
  CALL_STR("dcgettext", "untranslated", dcgettext("forkhazard", "forkhazard message", LC_MESSAGES));
  CALL_STR("ngettext", "plural", ngettext("one thing", "many things", 3));
}

// Last: clearenv empties the environment.
static void section_env(void) {
  CALL_INT("setenv", "success", setenv("FHPROBE_X", "1", 1));
  CALL_INT("setenv", "no-overwrite", setenv("FHPROBE_X", "2", 0));
  CALL_STR("getenv", "(not interposed)", getenv("FHPROBE_X"));
  CALL_INT("setenv", "name-with-equals-EINVAL", setenv("A=B", "1", 1));
  CALL_INT("setenv", "empty-name-EINVAL", setenv("", "1", 1));
  CALL_INT("setenv", "NULL-name-EINVAL", setenv(NULL, "1", 1));
  CALL_INT("unsetenv", "success", unsetenv("FHPROBE_X"));
  CALL_INT("unsetenv", "absent", unsetenv("FHPROBE_X"));
  CALL_INT("unsetenv", "empty-EINVAL", unsetenv(""));
  CALL_INT("unsetenv", "equals-EINVAL", unsetenv("A=B"));
  static char entry[] = "FHPROBE_Y=2";
  CALL_INT("putenv", "success", putenv(entry));
  CALL_INT("putenv", "remove-by-name", putenv((char *)"FHPROBE_Y"));
  CALL_INT("clearenv", "success", clearenv());
  CALL_STR("getenv", "after-clearenv", getenv("PATH"));
}

// ---- process creation, exec, exit ----------------------------------------------------------------------------

static char g_log[64];
static volatile size_t g_log_len;
static volatile int g_log_on;
static void log_char(char c) {
  if (g_log_on && g_log_len < sizeof g_log - 1) g_log[g_log_len++] = c;
}
static void prep1(void) { log_char('P'); }
static void par1(void) { log_char('p'); }
static void chi1(void) { log_char('c'); }
static void prep2(void) { log_char('Q'); }
static void par2(void) { log_char('q'); }
static void chi2(void) { log_char('d'); }

static int clone_child(void *arg) {
  struct line l = {.len = 0};
  put(&l, "clone child: errno=");
  put_errno(&l, errno);
  put(&l, " arg=");
  put(&l, arg);
  flush_line(&l);
  return 5;
}

static void exec_target_args(char *argv[], const char *mode) {
  argv[0] = g_self;
  argv[1] = (char *)"exec-target";
  argv[2] = (char *)mode;
  argv[3] = NULL;
}

static void on_exit_handler(void) { say("atexit handler ran"); }

static void section_process(void) {
  pid_t pid;
  // fork: errno and mask in both processes.
  sigset_t before;
  sigprocmask(SIG_SETMASK, NULL, &before);
  errno = SENTINEL;
  pid = fork();
  int e = errno;
  if (pid == 0) {
    strcpy(g_prefix, "child: ");
    emit("fork", "in-child", "0", e, &before);
    _exit(0);
  }
  report_child("fork child", pid);
  emit("fork", "in-parent", pid > 0 ? "pid" : "-1", e, &before);

  sigprocmask(SIG_SETMASK, NULL, &before);
  errno = SENTINEL;
  pid = _Fork();
  e = errno;
  if (pid == 0) {
    strcpy(g_prefix, "child: ");
    emit("_Fork", "in-child", "0", e, &before);
    _exit(0);
  }
  report_child("_Fork child", pid);
  emit("_Fork", "in-parent", pid > 0 ? "pid" : "-1", e, &before);

  // pthread_atfork reaches __register_atfork; the order the handlers run in is glibc's.
  CALL_INT("pthread_atfork", "first", pthread_atfork(prep1, par1, chi1));
  CALL_INT("pthread_atfork", "second", pthread_atfork(prep2, par2, chi2));
  CALL_INT("__register_atfork(via pthread_atfork)", "NULLs", pthread_atfork(NULL, NULL, NULL));
  g_log_on = 1;
  pid = fork();
  if (pid == 0) {
    g_log[g_log_len] = '\0';
    struct line l = {.len = 0};
    put(&l, "atfork order in child: ");
    put(&l, g_log);
    flush_line(&l);
    _exit(0);
  }
  g_log_on = 0;
  g_log[g_log_len] = '\0';
  report_child("atfork child", pid);  // first: the child's line comes before the parent's
  {
    struct line l = {.len = 0};
    put(&l, "atfork order in parent: ");
    put(&l, g_log);
    flush_line(&l);
  }
  pid = _Fork();
  if (pid == 0) _exit(g_log_len == 4 ? 0 : 1);  // _Fork runs no handlers: the log is as the parent left it
  report_child("_Fork without handlers", pid);

  // syscall(): pass-through numbers and the fork-like ones.
  CALL_PID("syscall", "getpid", syscall(SYS_getpid));
  CALL_INT("syscall", "close-EBADF", syscall(SYS_close, -1));
  CALL_INT("syscall", "unknown-ENOSYS", syscall(100000));
  char pbuf[8];
  int zfd = open("/dev/zero", O_RDONLY);
  CALL_INT("syscall", "pread64-6-args", syscall(SYS_pread64, zfd, pbuf, 4, 0));
  close(zfd);
  sigprocmask(SIG_SETMASK, NULL, &before);
  errno = SENTINEL;
  pid = (pid_t)syscall(SYS_fork);
  e = errno;
  if (pid == 0) {
    strcpy(g_prefix, "child: ");
    emit("syscall", "SYS_fork-in-child", "0", e, &before);
    syscall(SYS_exit_group, 0);
  }
  report_child("SYS_fork child", pid);
  emit("syscall", "SYS_fork-in-parent", pid > 0 ? "pid" : "-1", e, &before);
  sigprocmask(SIG_SETMASK, NULL, &before);
  errno = SENTINEL;
  pid = (pid_t)syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
  e = errno;
  if (pid == 0) {
    strcpy(g_prefix, "child: ");
    emit("syscall", "SYS_clone-in-child", "0", e, &before);
    syscall(SYS_exit_group, 0);
  }
  report_child("SYS_clone child", pid);
  emit("syscall", "SYS_clone-in-parent", pid > 0 ? "pid" : "-1", e, &before);
  CALL_INT("syscall", "SYS_clone-sighand-EINVAL", syscall(SYS_clone, (long)(CLONE_SIGHAND | SIGCHLD), 0L, 0L, 0L, 0L));
  uint64_t cargs[11] = {0};
  CALL_INT("syscall", "SYS_clone3-small-EINVAL", syscall(SYS_clone3, cargs, 8L));
  CALL_INT("syscall", "SYS_clone3-NULL-EFAULT", syscall(SYS_clone3, NULL, 88L));

  // clone(): fork-like, thread-like, and glibc's own argument checks.
  size_t stack_size = 64 * 1024;
  char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CALL_CHILD("clone", "fork-like", clone(clone_child, stack + stack_size, SIGCHLD, (void *)"fork-like"),
             "clone fork-like child");
  CALL_CHILD("clone", "CLONE_VM", clone(clone_child, stack + stack_size, CLONE_VM | SIGCHLD, (void *)"vm"),
             "clone CLONE_VM child");
  CALL_CHILD("clone", "NULL-stack-EINVAL", clone(clone_child, NULL, SIGCHLD, (void *)"x"), "clone NULL-stack child");
  CALL_CHILD("clone", "NULL-fn-CLONE_VM-EINVAL", clone(NULL, stack + stack_size, CLONE_VM | SIGCHLD, NULL),
             "clone NULL-fn-CLONE_VM child");
  munmap(stack, stack_size);

  // exec: the failures return here.
  char *argv[4];
  exec_target_args(argv, "failure");
  char *envp[] = {(char *)"FHPROBE_ENV=from-envp", NULL};
  CALL_INT("execve", "ENOENT", execve("/nonexistent-forkhazard/prog", argv, envp));
  CALL_INT("execve", "directory-EACCES", execve("/", argv, envp));
  CALL_INT("execve", "not-executable-EACCES", execve("/etc/passwd", argv, envp));
  CALL_INT("execv", "ENOENT", execv("/nonexistent-forkhazard/prog", argv));
  CALL_INT("execvp", "ENOENT", execvp("forkhazard-no-such-program", argv));
  CALL_INT("execvpe", "ENOENT", execvpe("forkhazard-no-such-program", argv, envp));
  CALL_INT("execl", "ENOENT", execl("/nonexistent-forkhazard/prog", "prog", "a", (char *)NULL));
  CALL_INT("execlp", "ENOENT", execlp("forkhazard-no-such-program", "prog", "a", (char *)NULL));
  CALL_INT("execle", "ENOENT", execle("/nonexistent-forkhazard/prog", "prog", "a", (char *)NULL, envp));
  CALL_INT("fexecve", "EBADF", fexecve(-1, argv, envp));
  int dfd = open("/etc/passwd", O_RDONLY);
  CALL_INT("fexecve", "not-executable-EACCES", fexecve(dfd, argv, envp));
  close(dfd);

  // exec: the successes, each in a child.
#define EXEC_IN_CHILD(what, stmt)           \
  do {                                      \
    pid_t c_ = fork();                      \
    if (c_ == 0) {                          \
      stmt;                                 \
      say("exec failed: " what);            \
      _exit(99);                            \
    }                                       \
    report_child(what, c_);                 \
  } while (0)
  exec_target_args(argv, "execve");
  EXEC_IN_CHILD("execve", execve(g_self, argv, envp));
  exec_target_args(argv, "execv");
  EXEC_IN_CHILD("execv", execv(g_self, argv));
  exec_target_args(argv, "execvpe");
  EXEC_IN_CHILD("execvpe", execvpe(g_self, argv, envp));
  exec_target_args(argv, "execvp-PATH");
  char dir[PATH_MAX];
  strcpy(dir, g_self);
  *strrchr(dir, '/') = '\0';
  const char *base = strrchr(g_self, '/') + 1;
  EXEC_IN_CHILD("execvp-PATH", (setenv("PATH", dir, 1), execvp(base, argv)));
  EXEC_IN_CHILD("execl", execl(g_self, g_self, "exec-target", "execl", "x", "y", (char *)NULL));
  EXEC_IN_CHILD("execlp-PATH", (setenv("PATH", dir, 1), execlp(base, base, "exec-target", "execlp", (char *)NULL)));
  EXEC_IN_CHILD("execle", execle(g_self, g_self, "exec-target", "execle", (char *)NULL, envp));
  // argv[0] NULL: glibc still takes the environment from after the terminating NULL.
  char *volatile no_arg0 = NULL;  // volatile: glibc declares the argument nonnull, the kernel allows it
  EXEC_IN_CHILD("execle-NULL-arg0", execle(g_self, no_arg0, (char *)NULL, envp));
  EXEC_IN_CHILD("execl-NULL-arg0", execl(g_self, no_arg0, (char *)NULL));
  exec_target_args(argv, "fexecve");
  EXEC_IN_CHILD("fexecve", fexecve(open(g_self, O_RDONLY | O_CLOEXEC), argv, envp));
#undef EXEC_IN_CHILD

  // Exits, each in a child.
  pid = fork();
  if (pid == 0) _exit(7);
  report_child("_exit(7)", pid);
  pid = fork();
  if (pid == 0) _Exit(8);
  report_child("_Exit(8)", pid);
  pid = fork();
  if (pid == 0) {
    atexit(on_exit_handler);
    exit(9);
  }
  report_child("exit(9)", pid);

  // Failures that need no exec: posix_spawn of a program that is not there (not interposed; glibc's clone).
  pid_t sp;
  CALL_INT("posix_spawn", "ENOENT(not interposed)", posix_spawn(&sp, "/nonexistent-forkhazard/prog", NULL, NULL, argv, envp));
  CALL_INT("posix_spawnp", "ENOENT(not interposed)", posix_spawnp(&sp, "forkhazard-no-such-program", NULL, NULL, argv, envp));
  CALL_PTR("popen", "missing-program", popen("forkhazard-no-such-program 2>/dev/null", "r"));
}

// ---- modes -------------------------------------------------------------------------------------------------

static void block_some_signals(void) {
  // A mask that is not empty, so that a wrapper that restored "nothing blocked" instead of the caller's
  // mask shows up.
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR2);
  sigaddset(&m, SIGRTMIN + 2);
  sigaddset(&m, SIGWINCH);
  sigprocmask(SIG_BLOCK, &m, NULL);
}

static int mode_contract(void) {
  section_threads();
  section_mutex(1);
  section_rwlock(1);
  section_sem(1);
  section_cond(1);
  section_guard();
  section_alloc();
  section_stdio();
  section_loader();
  section_time();
  section_nss();
  section_misc();
  section_process();
  section_env();
  say("contract done");
  return 0;
}

// The parent holds locks in worker threads across the fork: the child finds them held by vanished threads.
static pthread_mutex_t g_vanished_mutex;
static pthread_rwlock_t g_vanished_rw = PTHREAD_RWLOCK_INITIALIZER;
static sem_t g_zero_sem;

static void child_vanished_cases(void) {
  CALL_INT("pthread_mutex_trylock", "vanished-held-EBUSY", pthread_mutex_trylock(&g_vanished_mutex));
  CALL_INT("pthread_mutex_timedlock", "vanished-held-past-ETIMEDOUT", pthread_mutex_timedlock(&g_vanished_mutex, &past));
  CALL_INT("pthread_mutex_clocklock", "vanished-held-past-ETIMEDOUT",
           pthread_mutex_clocklock(&g_vanished_mutex, CLOCK_MONOTONIC, &past));
  CALL_INT("pthread_mutex_unlock", "vanished-held-EPERM", pthread_mutex_unlock(&g_vanished_mutex));
  CALL_INT("pthread_rwlock_tryrdlock", "vanished-write-EBUSY", pthread_rwlock_tryrdlock(&g_vanished_rw));
  CALL_INT("pthread_rwlock_trywrlock", "vanished-write-EBUSY", pthread_rwlock_trywrlock(&g_vanished_rw));
  CALL_INT("pthread_rwlock_timedrdlock", "vanished-write-past-ETIMEDOUT",
           pthread_rwlock_timedrdlock(&g_vanished_rw, &past));
  CALL_INT("pthread_rwlock_timedwrlock", "vanished-write-past-ETIMEDOUT",
           pthread_rwlock_timedwrlock(&g_vanished_rw, &past));
  CALL_INT("pthread_rwlock_clockwrlock", "vanished-write-past-ETIMEDOUT",
           pthread_rwlock_clockwrlock(&g_vanished_rw, CLOCK_MONOTONIC, &past));
  CALL_INT("sem_trywait", "zero-EAGAIN", sem_trywait(&g_zero_sem));
  CALL_INT("sem_timedwait", "zero-past-ETIMEDOUT", sem_timedwait(&g_zero_sem, &past));
  CALL_INT("sem_clockwait", "zero-past-ETIMEDOUT", sem_clockwait(&g_zero_sem, CLOCK_MONOTONIC, &past));
}

static int mode_child_contract(void) {
  init_mutex(&g_vanished_mutex, PTHREAD_MUTEX_ERRORCHECK, 0);
  sem_init(&g_zero_sem, 0, 0);
  park_threads();
  struct holder hm, hr;
  holder_start(&hm, HOLD_MUTEX, &g_vanished_mutex);
  holder_start(&hr, HOLD_RWLOCK_WRITE, &g_vanished_rw);
  sigset_t before;
  sigprocmask(SIG_SETMASK, NULL, &before);
  errno = SENTINEL;
  pid_t pid = fork();
  int e = errno;
  if (pid == 0) {
    strcpy(g_prefix, "child: ");
    alarm(30);
    emit("fork", "multithreaded-in-child", "0", e, &before);
    child_vanished_cases();
    section_mutex(0);
    section_rwlock(0);
    section_sem(0);
    section_cond(0);
    section_guard();
    section_alloc();
    section_stdio();
    section_time();
    section_misc();
    section_env();
    say("child contract done");
    _exit(0);
  }
  report_child("child-contract child", pid);
  emit("fork", "multithreaded-in-parent", pid > 0 ? "pid" : "-1", e, &before);
  holder_stop(&hm);
  holder_stop(&hr);
  unpark();
  return 0;
}

// Steps a thread with a pending cancel completes; none is a cancellation point. g_step names the last one done.
static volatile int g_step;
static const char *const g_step_names[] = {
    "(none)",          "pthread_mutex_lock",        "pthread_mutex_unlock",     "pthread_mutex_trylock",
    "pthread_mutex_timedlock", "pthread_mutex_init", "pthread_mutex_destroy",   "pthread_rwlock_init",
    "pthread_rwlock_rdlock", "pthread_rwlock_unlock", "pthread_rwlock_wrlock",  "pthread_rwlock_trywrlock",
    "pthread_rwlock_tryrdlock", "pthread_rwlock_timedwrlock", "pthread_rwlock_clockrdlock", "sem_init",
    "sem_post",        "sem_trywait",               "malloc",                   "calloc",
    "realloc",         "free",                      "posix_memalign",           "aligned_alloc",
    "pthread_cond_destroy", "__cxa_guard_acquire",  "__cxa_guard_release",      "pthread_setname_np",
    "snprintf",        "setenv",                    "syscall(getpid)",          "fork",
    "_Fork",           "pthread_create",            "pthread_detach",
};
enum { STEPS = sizeof g_step_names / sizeof g_step_names[0] };
static pid_t g_fork_child = -1, g_Fork_child = -1;

static void *noop_thread(void *arg) { return arg; }

static void *cancel_pending_thread(void *arg) {
  (void)arg;
  pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL);
  pthread_cancel(pthread_self());
  g_step = 0;
  pthread_mutex_t m;
  pthread_mutex_init(&m, NULL);
  pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
  sem_t s;
  static int64_t guard;
  void *p = NULL;
  char buf[32];
  pthread_mutex_lock(&m); g_step = 1;
  pthread_mutex_unlock(&m); g_step = 2;
  if (pthread_mutex_trylock(&m) == 0) pthread_mutex_unlock(&m);
  g_step = 3;
  if (pthread_mutex_timedlock(&m, &past) == 0) pthread_mutex_unlock(&m);
  g_step = 4;
  pthread_mutex_init(&m, NULL); g_step = 5;
  pthread_mutex_destroy(&m); g_step = 6;
  pthread_rwlock_init(&rw, NULL); g_step = 7;
  pthread_rwlock_rdlock(&rw); g_step = 8;
  pthread_rwlock_unlock(&rw); g_step = 9;
  pthread_rwlock_wrlock(&rw); g_step = 10;
  pthread_rwlock_unlock(&rw);
  if (pthread_rwlock_trywrlock(&rw) == 0) pthread_rwlock_unlock(&rw);
  g_step = 11;
  if (pthread_rwlock_tryrdlock(&rw) == 0) pthread_rwlock_unlock(&rw);
  g_step = 12;
  if (pthread_rwlock_timedwrlock(&rw, &past) == 0) pthread_rwlock_unlock(&rw);
  g_step = 13;
  if (pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &past) == 0) pthread_rwlock_unlock(&rw);
  g_step = 14;
  sem_init(&s, 0, 0); g_step = 15;
  sem_post(&s); g_step = 16;
  sem_trywait(&s); g_step = 17;
  p = malloc(100); g_step = 18;
  free(p);
  p = calloc(10, 10); g_step = 19;
  p = realloc(p, 1000); g_step = 20;
  free(p); g_step = 21;
  if (posix_memalign(&p, 64, 64) == 0) free(p);
  g_step = 22;
  p = aligned_alloc(64, 64);
  free(p);
  g_step = 23;
  pthread_cond_t c = PTHREAD_COND_INITIALIZER;
  pthread_cond_destroy(&c); g_step = 24;
  int first = __cxa_guard_acquire(&guard); g_step = 25;
  if (first) __cxa_guard_release(&guard);
  g_step = 26;
  pthread_setname_np(pthread_self(), "cancel-pending"); g_step = 27;
  snprintf(buf, sizeof buf, "%d", 42); g_step = 28;
  setenv("FHPROBE_CANCEL", "1", 1); g_step = 29;
  syscall(SYS_getpid); g_step = 30;
  // The children inherit the pending cancel: each ends with its own status only if fork() returned in it
  // (cancelled inside fork, the child's only thread would exit with status 0).
  pid_t pid = fork();
  if (pid == 0) _exit(42);
  g_fork_child = pid;
  g_step = 31;
  pid = _Fork();
  if (pid == 0) _exit(43);
  g_Fork_child = pid;
  g_step = 32;
  pthread_t t;
  if (pthread_create(&t, NULL, noop_thread, NULL) == 0) {
    g_step = 33;
    pthread_detach(t);
    g_step = 34;
  }
  pthread_testcancel();
  g_step = 99;  // not reached: testcancel acts on the pending request
  return NULL;
}

static int mode_cancel_nonpoints(void) {
  pthread_t t;
  void *res = NULL;
  pthread_create(&t, NULL, cancel_pending_thread, NULL);
  pthread_join(t, &res);
  int reached = g_step;
  struct line l = {.len = 0};
  put(&l, "cancel-pending thread completed: ");
  put(&l, reached >= 0 && reached < STEPS ? g_step_names[reached] : reached == 99 ? "pthread_testcancel" : "?");
  put(&l, res == PTHREAD_CANCELED ? " (then cancelled)" : " (not cancelled)");
  flush_line(&l);
  report_child("fork child (cancel pending)", g_fork_child);
  report_child("_Fork child (cancel pending)", g_Fork_child);
  return 0;
}

static int mode_cancel_fork_main(void) {
  pthread_cancel(pthread_self());  // deferred: acted on at the next cancellation point
  pid_t pid = fork();
  if (pid == 0) {
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    _exit(42);
  }
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
  say("fork returned in the parent (cancel pending)");
  report_child("fork child (cancel pending)", pid);
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
  pthread_cancel(pthread_self());
  pid = _Fork();
  if (pid == 0) {
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    _exit(43);
  }
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
  say("_Fork returned in the parent (cancel pending)");
  report_child("_Fork child (cancel pending)", pid);
  return 0;
}

static volatile int g_started, g_cancel_sent;
static void *sets_started(void *arg) {
  (void)arg;
  g_started = 1;
  while (!g_cancel_sent) sched_yield();  // sched_yield is no cancellation point
  pthread_testcancel();
  g_started = 2;
  return NULL;
}

// The cancel is sent right after pthread_create: often before the thread runs. Whenever it comes, the thread
// enters its start routine and is cancelled at pthread_testcancel.
static int mode_cancel_create(void) {
  pthread_t t;
  void *res = NULL;
  for (int i = 0; i < 20; i++) {
    g_started = 0;
    g_cancel_sent = 0;
    pthread_create(&t, NULL, sets_started, NULL);
    pthread_cancel(t);
    g_cancel_sent = 1;
    pthread_join(t, &res);
    if (g_started != 1 || res != PTHREAD_CANCELED) {
      say_num("thread cancelled before start: started=", g_started);
      return 0;
    }
  }
  say("thread cancelled before start: entered its start routine, cancelled at testcancel (20 of 20)");
  return 0;
}

// In the child of a multithreaded fork with a cancel pending: calls the shim reports. None of them is a
// cancellation point; the child must reach the end.
static volatile int g_report_step;
static int mode_cancel_report(void) {
  park_threads();
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL);
    pthread_cancel(pthread_self());
    void *p = malloc(64); g_report_step = 1;
    free(p); g_report_step = 2;
    setenv("FHPROBE_R", "1", 1); g_report_step = 3;
    p = calloc(2, 2); g_report_step = 4;
    free(p);
    char buf[32];
    snprintf(buf, sizeof buf, "%d", 1); g_report_step = 5;
    time_t t = 0;
    struct tm tm;
    gmtime_r(&t, &tm); g_report_step = 6;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&m); g_report_step = 7;
    pthread_mutex_unlock(&m);
    srandom(1); g_report_step = 8;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    say_num("child with a cancel pending reached step ", g_report_step);
    _exit(0);
  }
  report_child("cancel-report child", pid);
  unpark();
  return 0;
}

// ---- small alternate signal stacks ----------------------------------------------------------------------------

static volatile sig_atomic_t g_handled;

static void handler_nothing(int sig) {
  (void)sig;
  g_handled = 1;
}

static void handler_malloc(int sig) {
  (void)sig;
  void *volatile p = malloc(48);  // reported in the child, on the alternate stack
  (void)p;
  g_handled = 1;
}

static void handler_setenv(int sig) {
  (void)sig;
  setenv("FHPROBE_ALT", "1", 1);  // hang-prone (the env lock), reported in the child
  g_handled = 1;
}

static void handler_mutex(int sig) {
  (void)sig;
  pthread_mutex_lock(&g_taken_by_worker);  // free, but a vanished thread took it: reported as a prediction
  pthread_mutex_unlock(&g_taken_by_worker);
  g_handled = 1;
}

// altstack SIZE CALL: CALL is nothing, malloc, setenv or mutex.
static int mode_altstack(const char *arg, const char *call) {
  long size = strtol(arg, NULL, 10);
  if (size == 0) size = sysconf(_SC_MINSIGSTKSZ);
  void (*handler)(int) = strcmp(call, "malloc") == 0   ? handler_malloc
                         : strcmp(call, "setenv") == 0 ? handler_setenv
                         : strcmp(call, "mutex") == 0  ? handler_mutex
                                                       : handler_nothing;
  long page = sysconf(_SC_PAGESIZE);
  size_t map = (size_t)((size + page - 1) / page * page + page);
  park_threads();
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    // A guard page right below the stack: an overflow faults instead of writing over other memory.
    char *base = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED || mprotect(base, (size_t)page, PROT_NONE) != 0) _exit(101);
    stack_t ss = {.ss_sp = base + page, .ss_size = (size_t)size, .ss_flags = 0};
    errno = SENTINEL;
    int rc = sigaltstack(&ss, NULL);
    struct line l = {.len = 0};
    put(&l, "child: sigaltstack(");
    put_long(&l, size);
    put(&l, ") ret=");
    put_long(&l, rc);
    put(&l, " errno=");
    put_errno(&l, errno);
    flush_line(&l);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    say(g_handled ? "child: handler ran to its end" : "child: handler did not run");
    _exit(0);
  }
  report_child("altstack child", pid);
  unpark();
  return 0;
}

// altstack-depth CALL SIZE: how many bytes of a SIZE-byte alternate stack (filled with a pattern) the handler used, from
// the kernel's signal frame down to the deepest byte written. Printed for the test's messages, never compared.
static int mode_altstack_depth(const char *call, const char *size_arg) {
  void (*handler)(int) = strcmp(call, "malloc") == 0   ? handler_malloc
                         : strcmp(call, "setenv") == 0 ? handler_setenv
                         : strcmp(call, "mutex") == 0  ? handler_mutex
                                                       : handler_nothing;
  const size_t DEPTH_STACK = (size_t)strtol(size_arg, NULL, 10);
  park_threads();
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    unsigned char *base = mmap(NULL, DEPTH_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) _exit(101);
    memset(base, 0xa5, DEPTH_STACK);
    stack_t ss = {.ss_sp = base, .ss_size = DEPTH_STACK, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    size_t untouched = 0;
    while (untouched < DEPTH_STACK && base[untouched] == 0xa5) untouched++;
    struct line l = {.len = 0};
    put(&l, "child: ");
    put(&l, call);
    put(&l, " used ");
    put_long(&l, (long)(DEPTH_STACK - untouched));
    put(&l, " bytes of a ");
    put_long(&l, (long)DEPTH_STACK);
    put(&l, "-byte alternate stack");
    flush_line(&l);
    _exit(0);
  }
  report_child("altstack-depth child", pid);
  unpark();
  return 0;
}

// ---- the old condvar ABI -----------------------------------------------------------------------------------

#ifdef PROBE_OLD_COND
static pthread_mutex_t g_old_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_old_c;
static volatile int g_old_ready;

static void *old_signaller(void *arg) {
  (void)arg;
  usleep(20000);
  pthread_mutex_lock(&g_old_m);
  g_old_ready = 1;
  old_cond_signal(&g_old_c);
  pthread_mutex_unlock(&g_old_m);
  return NULL;
}

static int mode_old_condvar(void) {
  alarm(10);
  CALL_INT("pthread_cond_init@GLIBC_2.2.5", "success", old_cond_init(&g_old_c, NULL));
  pthread_mutex_lock(&g_old_m);
  CALL_INT("pthread_cond_timedwait@GLIBC_2.2.5", "past-ETIMEDOUT", old_cond_timedwait(&g_old_c, &g_old_m, &past));
  pthread_t t;
  pthread_create(&t, NULL, old_signaller, NULL);
  sigset_t before;
  sigprocmask(SIG_SETMASK, NULL, &before);
  errno = SENTINEL;
  int rc = 0;
  while (!g_old_ready && rc == 0) rc = old_cond_wait(&g_old_c, &g_old_m);
  int e = errno;
  char rb[32];
  emit("pthread_cond_wait@GLIBC_2.2.5", "signalled", fmt_long(rb, rc), e, &before);
  pthread_mutex_unlock(&g_old_m);
  pthread_join(t, NULL);
  CALL_INT("pthread_cond_destroy@GLIBC_2.2.5", "success", old_cond_destroy(&g_old_c));
  return 0;
}
#endif

// glibc's clone() checks fn and stack before any clone happens: EINVAL, no child.
static int mode_clone_null_fn(void) {
  size_t stack_size = 64 * 1024;
  char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CALL_CHILD("clone", "NULL-fn-EINVAL", clone(NULL, stack + stack_size, SIGCHLD, NULL), "clone NULL-fn child");
  munmap(stack, stack_size);
  return 0;
}

static int mode_clone3_badptr(void) {
  CALL_INT("syscall", "SYS_clone3-bad-pointer-EFAULT", syscall(SYS_clone3, (void *)8, 88L));
  return 0;
}

static int mode_exec_target(int argc, char **argv) {
  struct line l = {.len = 0};
  put(&l, "exec-target:");
  for (int i = 2; i < argc; i++) {
    put(&l, " ");
    put(&l, argv[i]);
  }
  const char *env = getenv("FHPROBE_ENV");
  put(&l, " FHPROBE_ENV=");
  put(&l, env != NULL ? env : "(unset)");
  flush_line(&l);
  return 0;
}

int main(int argc, char **argv) {
  ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
  if (n > 0) g_self[n] = '\0';
  if (argc < 2) {  // exec'd with argv[0] NULL (the execle/execl cases)
    char *fake[] = {g_self, (char *)"exec-target", (char *)"(no argv)", NULL};
    return mode_exec_target(3, fake);
  }
  const char *mode = argv[1];
  if (strcmp(mode, "exec-target") == 0) return mode_exec_target(argc, argv);
  block_some_signals();
  if (strcmp(mode, "contract") == 0) return mode_contract();
  if (strcmp(mode, "child-contract") == 0) return mode_child_contract();
  if (strcmp(mode, "cancel-nonpoints") == 0) return mode_cancel_nonpoints();
  if (strcmp(mode, "cancel-fork-main") == 0) return mode_cancel_fork_main();
  if (strcmp(mode, "cancel-create") == 0) return mode_cancel_create();
  if (strcmp(mode, "cancel-report") == 0) return mode_cancel_report();
  if (strcmp(mode, "altstack") == 0 && argc > 3) return mode_altstack(argv[2], argv[3]);
  if (strcmp(mode, "altstack-depth") == 0 && argc > 3) return mode_altstack_depth(argv[2], argv[3]);
#ifdef PROBE_OLD_COND
  if (strcmp(mode, "old-condvar") == 0) return mode_old_condvar();
#endif
  if (strcmp(mode, "clone3-badptr") == 0) return mode_clone3_badptr();
  if (strcmp(mode, "clone-null-fn") == 0) return mode_clone_null_fn();
  say("usage: probe contract|child-contract|cancel-nonpoints|cancel-fork-main|cancel-create|cancel-report|"
      "altstack SIZE CALL|altstack-depth CALL SIZE|old-condvar|clone3-badptr|clone-null-fn|exec-target ARGS");
  return 2;
}
