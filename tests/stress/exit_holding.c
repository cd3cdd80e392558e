// A thread that exits holding a mutex, then a fork whose child locks it. Natively the lock never returns (in
// the parent too: the owner is gone); alarm() ends the child.
//   threaded (expect: deadlock) an idle thread keeps the fork multithreaded; the owner had exited before the
//            fork (it did not vanish at it).
//   single   (probe) the owner was the only other thread: the fork is single-threaded, which the shim never
//            judges; the watchdog of `forkhazard run` may still see the child's endless wait.
#include "stress_common.h"

static unsigned hang_seconds; // alarm() ends a child that would hang natively (STRESS_HANG_SECONDS)

static pthread_mutex_t settings_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t owner_tid;
static stress_park_t park;

static void *takes_and_exits(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "settings-owner");
  pthread_mutex_lock(&settings_lock);
  owner_tid = stress_tid();
  return NULL; // exits holding settings_lock
}

static void *idler(void *arg) {
  (void)arg;
  stress_park(&park);
  return NULL;
}

__attribute__((noinline)) static void child_locks_settings(void) {
  pthread_mutex_lock(&settings_lock); // its owner exited: never returns
  pthread_mutex_unlock(&settings_lock);
}

int main(int argc, char **argv) {
  hang_seconds = stress_hang_seconds();
  const char *mode = argc > 1 ? argv[1] : "threaded";
  int threaded = strcmp(mode, "threaded") == 0;
  if (!threaded && strcmp(mode, "single") != 0) {
    fprintf(stderr, "usage: %s threaded|single\n", argv[0]);
    return 2;
  }
  stress_park_init(&park);
  pthread_t idle, owner;
  if (threaded)
    pthread_create(&idle, NULL, idler, NULL);
  pthread_create(&owner, NULL, takes_and_exits, NULL);
  pthread_join(owner, NULL);
  int busy = pthread_mutex_trylock(&settings_lock);
  printf("outcome: owner %d exited; trylock in the parent: %s\n", (int)owner_tid, busy ? strerror(busy) : "0");
  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&settings_lock, (int)owner_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(hang_seconds);
    child_locks_settings();
    _exit(0);
  }
  stress_describe("child", pid, stress_wait(pid));
  if (threaded) {
    stress_unpark(&park);
    pthread_join(idle, NULL);
  }
  return 0;
}
