// The main thread calls pthread_exit while other threads run on, and one of them forks. argv[1] selects:
//   clean    (expect: no report) 4 threads churn locks and the allocator; a "forker" thread forks 50 times
//            (times STRESS_SCALE), every child calls only _exit(0); then it stops the churners and ends the
//            process with exit(0) (exit(1) if a child failed).
//   deadlock (expect: deadlock) a "cache-owner" thread holds `cache_lock`; the forker forks and the child
//            locks it: its owner vanished at fork, it never returns (natively alarm() ends it; under
//            forkhazard it is reported and ends with 66).
#include "stress_common.h"

static unsigned hang_seconds; // alarm() ends a child that would hang natively (STRESS_HANG_SECONDS)

enum { CHURNERS = 4, FORKS = 50 };

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding;
static stress_park_t park;
static pthread_t owner;
static pid_t owner_tid;
static int deadlock_mode, forks;

static void *cache_owner(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "cache-owner");
  pthread_mutex_lock(&cache_lock);
  owner_tid = stress_tid();
  pthread_barrier_wait(&holding);
  stress_park(&park);
  pthread_mutex_unlock(&cache_lock);
  return NULL;
}

__attribute__((noinline)) static void child_locks_cache(void) {
  pthread_mutex_lock(&cache_lock); // the owner vanished at fork: never returns
  pthread_mutex_unlock(&cache_lock);
}

static void *forker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "forker");
  stress_churn_wait();
  int ok = 1;
  if (deadlock_mode) {
    pthread_barrier_wait(&holding);
    printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&cache_lock, (int)owner_tid);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(hang_seconds);
      child_locks_cache();
      _exit(0);
    }
    stress_describe("child", pid, stress_wait(pid));
    stress_unpark(&park);
    pthread_join(owner, NULL);
  } else {
    printf("ground-truth: expect=none\n");
    fflush(stdout);
    int clean = 0;
    for (int i = 0; i < forks; i++) {
      pid_t pid = fork();
      if (pid == 0)
        _exit(0);
      int status = stress_wait(pid);
      if (stress_clean_exit(status))
        clean++;
      else
        stress_describe("child", pid, status);
    }
    printf("outcome: %d of %d children of a fork after the main thread's pthread_exit exited 0\n", clean, forks);
    ok = clean == forks;
  }
  stress_churn_stop();
  fflush(stdout);
  exit(ok ? 0 : 1);
}

int main(int argc, char **argv) {
  hang_seconds = stress_hang_seconds();
  const char *mode = argc > 1 ? argv[1] : "clean";
  deadlock_mode = strcmp(mode, "deadlock") == 0;
  if (!deadlock_mode && strcmp(mode, "clean") != 0) {
    fprintf(stderr, "usage: %s clean|deadlock\n", argv[0]);
    return 2;
  }
  forks = FORKS * stress_scale();
  stress_park_init(&park);
  pthread_barrier_init(&holding, NULL, 2);
  stress_churn_start(CHURNERS, 0);
  if (deadlock_mode)
    pthread_create(&owner, NULL, cache_owner, NULL);
  pthread_t f;
  pthread_create(&f, NULL, forker, NULL);
  pthread_exit(NULL); // the others run on; the forker ends the process
}
