// Robust mutexes (process-private) and fork. argv[1] selects:
//   recovered  (expect: no report) 10 times (times STRESS_SCALE): a thread takes `robust` and exits holding
//              it; the main thread's lock returns EOWNERDEAD, it calls pthread_mutex_consistent and unlocks;
//              then a fork (an idle thread keeps it multithreaded) whose child locks `robust`: free, returns 0.
//   dead-owner (expect: no deadlock; the child's lock returns EOWNERDEAD) a thread exits holding `robust` and
//              nobody recovers it before the fork: the kernel marked the lock word FUTEX_OWNER_DIED when the
//              thread exited, so the child's lock returns EOWNERDEAD at once (natively), it never blocks.
//   held       (probe) a live thread holds `robust` at fork and the child locks it. The kernel walks a
//              thread's robust list when that thread exits, in its own process: the child's copy of the lock
//              is never marked, so natively the child's lock never returns (alarm() ends it). The shim
//              should report a deadlock.
// Every child prints what its lock returned.
#include "stress_common.h"

static unsigned hang_seconds; // alarm() ends a child that would hang natively (STRESS_HANG_SECONDS)

static pthread_mutex_t robust;
static stress_park_t park, holder_park;
static pthread_barrier_t holding;
static pid_t owner_tid;

static void *idler(void *arg) {
  (void)arg;
  stress_park(&park);
  return NULL;
}

static void *takes_and_exits(void *arg) {
  (void)arg;
  pthread_mutex_lock(&robust);
  owner_tid = stress_tid();
  return NULL; // exits holding it: the kernel marks the lock FUTEX_OWNER_DIED
}

static void *holds(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "robust-holder");
  pthread_mutex_lock(&robust);
  owner_tid = stress_tid();
  pthread_barrier_wait(&holding);
  stress_park(&holder_park);
  pthread_mutex_unlock(&robust);
  return NULL;
}

static const char *name_of(int rc) {
  switch (rc) {
  case 0: return "0";
  case EOWNERDEAD: return "EOWNERDEAD";
  case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
  case EDEADLK: return "EDEADLK";
  case EINVAL: return "EINVAL";
  default: return "other";
  }
}

// The child: lock, say what it returned (async-signal-safe), exit 0 when it returned `want`.
static void child_locks(int want) {
  alarm(hang_seconds);
  int rc = pthread_mutex_lock(&robust);
  char line[96] = "outcome: child's pthread_mutex_lock returned ";
  strcat(line, name_of(rc));
  strcat(line, "\n");
  stress_say(line);
  if (rc == EOWNERDEAD)
    pthread_mutex_consistent(&robust);
  if (rc == 0 || rc == EOWNERDEAD)
    pthread_mutex_unlock(&robust);
  _exit(rc == want ? 0 : 1);
}

static void init_robust(void) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&robust, &attr);
  pthread_mutexattr_destroy(&attr);
}

int main(int argc, char **argv) {
  hang_seconds = stress_hang_seconds();
  const char *mode = argc > 1 ? argv[1] : "recovered";
  stress_park_init(&park);
  pthread_t idle;
  pthread_create(&idle, NULL, idler, NULL);
  init_robust();
  int ok = 1;

  if (strcmp(mode, "recovered") == 0) {
    int rounds = 10 * stress_scale(), recovered = 0, clean = 0;
    printf("ground-truth: expect=none\n");
    fflush(stdout);
    for (int i = 0; i < rounds; i++) {
      pthread_t t;
      pthread_create(&t, NULL, takes_and_exits, NULL);
      pthread_join(t, NULL);
      int rc = pthread_mutex_lock(&robust);
      if (rc == EOWNERDEAD) {
        recovered++;
        pthread_mutex_consistent(&robust);
      }
      if (rc == 0 || rc == EOWNERDEAD)
        pthread_mutex_unlock(&robust);
      pid_t pid = fork();
      if (pid == 0)
        child_locks(0);
      int status = stress_wait(pid);
      if (stress_clean_exit(status))
        clean++;
      else
        stress_describe("child", pid, status);
    }
    printf("outcome: %d of %d locks after the owner's death returned EOWNERDEAD; %d of %d children locked it, "
           "exit 0\n", recovered, rounds, clean, rounds);
    ok = recovered == rounds && clean == rounds;
  } else if (strcmp(mode, "dead-owner") == 0) {
    pthread_t t;
    pthread_create(&t, NULL, takes_and_exits, NULL);
    pthread_join(t, NULL);
    printf("ground-truth: expect=none owner_tid=%d\n", (int)owner_tid);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
      child_locks(EOWNERDEAD);
    int status = stress_wait(pid);
    stress_describe("child", pid, status);
    ok = stress_clean_exit(status);
  } else if (strcmp(mode, "held") == 0) {
    stress_park_init(&holder_park);
    pthread_barrier_init(&holding, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, holds, NULL);
    pthread_barrier_wait(&holding);
    printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&robust, (int)owner_tid);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
      child_locks(0);
    stress_describe("child", pid, stress_wait(pid));
    stress_unpark(&holder_park);
    pthread_join(t, NULL);
  } else {
    fprintf(stderr, "usage: %s recovered|dead-owner|held\n", argv[0]);
    return 2;
  }
  stress_unpark(&park);
  pthread_join(idle, NULL);
  return ok ? 0 : 1;
}
