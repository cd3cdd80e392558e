// Helpers shared by the stress programs (tests/stress/*.c): the scale knob, tids, waiting for children, the
// ground-truth and outcome lines the stress runner reads. Programs a user could have written: nothing of the
// project is included.
#pragma once
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// STRESS_SCALE multiplies the repeat counts: 1 in `make test`, larger in `make stress`. Read before any thread
// starts (getenv is not thread-safe against setenv).
static inline int stress_scale(void) {
  const char *text = getenv("STRESS_SCALE");
  int scale = text ? atoi(text) : 1;
  return scale > 0 ? scale : 1;
}

// How long a child that would hang natively waits before alarm() ends it: STRESS_HANG_SECONDS, default 20.
// Read in main, before fork (the child stays async-signal-safe).
static inline unsigned stress_hang_seconds(void) {
  const char *text = getenv("STRESS_HANG_SECONDS");
  int seconds = text ? atoi(text) : 20;
  return seconds > 0 ? (unsigned)seconds : 20;
}

static inline pid_t stress_tid(void) { return (pid_t)syscall(SYS_gettid); }

static inline void stress_sleep_us(long us) {
  struct timespec t = {us / 1000000, (us % 1000000) * 1000};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

// waitpid that survives EINTR (signal handlers run in these programs); the raw status, or -1.
static inline int stress_wait(pid_t pid) {
  int status = 0;
  for (;;) {
    if (waitpid(pid, &status, 0) == pid)
      return status;
    if (errno != EINTR)
      return -1;
  }
}

static inline int stress_clean_exit(int status) { return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

// "child 123 exited with status 66" / "child 123 killed by signal 14 (Alarm clock)": the same words as
// examples/, which the end-to-end tests look for.
static inline void stress_describe(const char *who, pid_t pid, int status) {
  if (status == -1)
    printf("outcome: %s %d not waited for: %s\n", who, (int)pid, strerror(errno));
  else if (WIFSIGNALED(status))
    printf("outcome: %s %d killed by signal %d (%s)\n", who, (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("outcome: %s %d exited with status %d\n", who, (int)pid, WEXITSTATUS(status));
  fflush(stdout);
}

// Write a line with write(2) only: for children of a multithreaded fork, which must stay async-signal-safe.
static inline void stress_say(const char *text) {
  size_t len = strlen(text);
  while (len > 0) {
    ssize_t n = write(STDOUT_FILENO, text, len);
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      return;
    }
    text += n;
    len -= (size_t)n;
  }
}

// A pipe whose read end parks threads until the write end is closed.
typedef struct {
  int fds[2];
} stress_park_t;

static inline void stress_park_init(stress_park_t *park) {
  if (pipe(park->fds) != 0) {
    perror("pipe");
    exit(1);
  }
}
static inline void stress_park(stress_park_t *park) {
  char c;
  while (read(park->fds[0], &c, 1) < 0 && errno == EINTR) {
  }
}
static inline void stress_unpark(stress_park_t *park) { close(park->fds[1]); }

// Churners: threads that take random mutexes of a small set around malloc/free until stopped, so a fork lands
// in the middle of lock and allocator calls. stress_churn_start returns once they have churned a while.
enum { STRESS_CHURN_LOCKS = 8, STRESS_CHURNERS_MAX = 16 };
typedef struct {
  pthread_mutex_t locks[STRESS_CHURN_LOCKS];
  pthread_t threads[STRESS_CHURNERS_MAX];
  int n;
  atomic_int stop;
  atomic_long churned;
} stress_churn_t;

static stress_churn_t stress_churn;

static inline void *stress_churner(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  while (!atomic_load(&stress_churn.stop)) {
    seed = seed * 1103515245u + 12345u;
    pthread_mutex_t *m = &stress_churn.locks[(seed >> 16) % STRESS_CHURN_LOCKS];
    pthread_mutex_lock(m);
    void *p = malloc(32 + (seed >> 8) % 1024);
    pthread_mutex_unlock(m);
    free(p);
    atomic_fetch_add(&stress_churn.churned, 1);
  }
  return NULL;
}

// Starts n churners (at most STRESS_CHURNERS_MAX); `wait`: return only once they have taken 2000 locks.
static inline void stress_churn_start(int n, int wait) {
  atomic_store(&stress_churn.stop, 0);
  atomic_store(&stress_churn.churned, 0);
  for (int i = 0; i < STRESS_CHURN_LOCKS; i++)
    pthread_mutex_init(&stress_churn.locks[i], NULL);
  stress_churn.n = n < STRESS_CHURNERS_MAX ? n : STRESS_CHURNERS_MAX;
  for (int i = 0; i < stress_churn.n; i++)
    pthread_create(&stress_churn.threads[i], NULL, stress_churner, (void *)(size_t)(i + 1));
  while (wait && atomic_load(&stress_churn.churned) < 2000)
    stress_sleep_us(100);
}

static inline void stress_churn_wait(void) {
  while (atomic_load(&stress_churn.churned) < 2000)
    stress_sleep_us(100);
}

static inline void stress_churn_stop(void) {
  atomic_store(&stress_churn.stop, 1);
  for (int i = 0; i < stress_churn.n; i++)
    pthread_join(stress_churn.threads[i], NULL);
}
