// Atfork-style protection whose trace the forker's memory of recent locks lost (regressions of the review's
// reproducers, fixed in ecff115). The main thread holds `L` across fork() and unlocks it in both processes
// afterwards: a correct, protected use; the child then takes `L` again. Before the fork, while holding `L`, the
// main thread takes and releases every other mutex of a pool of 256 contiguous ones: in a direct-mapped memory
// of recent locks (the shim's has 64 entries) some of them map to `L`'s entry and evict it. A worker alive at the
// fork used `L`; it never held it at the fork (the main thread did), so no prediction may name it.
//   waiter (expect: no report) the worker is blocked in pthread_mutex_lock(L) at the fork (noted as it starts).
//   prior  (expect: no report) the worker took and released `L` before, and is parked at the fork.
// Each mode runs STRESS_SCALE rounds, a fresh worker and a fork each. Every child exits 0.
#include "stress_common.h"

enum { POOL = 256 };

static pthread_mutex_t pool[POOL];
static pthread_mutex_t *const L = &pool[0];
static stress_park_t park;
static pthread_barrier_t used;
static atomic_int about_to_wait;
static atomic_int worker_tid;

__attribute__((noinline)) static void worker_waits_for_l(void) {
  pthread_mutex_lock(L); // blocks until the main thread lets go after the fork
  pthread_mutex_unlock(L);
}

static void *waiter(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "l-waiter");
  atomic_store(&worker_tid, stress_tid());
  atomic_store(&about_to_wait, 1);
  worker_waits_for_l();
  return NULL;
}

__attribute__((noinline)) static void worker_uses_l(void) {
  pthread_mutex_lock(L);
  pthread_mutex_unlock(L);
}

static void *prior_user(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "l-prior-user");
  worker_uses_l();
  pthread_barrier_wait(&used);
  stress_park(&park);
  return NULL;
}

// The thread's state letter in /proc (S: sleeping, here in the futex wait of its lock call).
static char thread_state(pid_t tid) {
  char path[64], text[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return '?';
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  char *close_paren = strrchr(text, ')');
  return close_paren != NULL && close_paren[1] == ' ' ? close_paren[2] : '?';
}

// The main thread holds L; returns once the waiter sleeps in its lock call (or after 5 s).
static int waiter_blocked(void) {
  while (!atomic_load(&about_to_wait))
    stress_sleep_us(100);
  for (int i = 0; i < 5000; i++) {
    if (thread_state(atomic_load(&worker_tid)) == 'S')
      return 1;
    stress_sleep_us(1000);
  }
  return 0;
}

// The child: let go of the copy of L the main thread held at the fork, take it again (free), exit 0.
__attribute__((noinline)) static void child_takes_l(void) {
  pthread_mutex_unlock(L);
  pthread_mutex_lock(L);
  pthread_mutex_unlock(L);
}

int main(int argc, char **argv) {
  unsigned hang_seconds = stress_hang_seconds();
  const char *mode = argc > 1 ? argv[1] : "waiter";
  int waiting = strcmp(mode, "waiter") == 0;
  if (!waiting && strcmp(mode, "prior") != 0) {
    fprintf(stderr, "usage: %s waiter|prior\n", argv[0]);
    return 2;
  }
  for (int i = 0; i < POOL; i++)
    pthread_mutex_init(&pool[i], NULL);
  printf("ground-truth: expect=none lock=%p\n", (void *)L);
  fflush(stdout);
  int rounds = stress_scale(), clean = 0, blocked = 0;
  for (int round = 0; round < rounds; round++) {
    pthread_t t;
    if (waiting) {
      atomic_store(&about_to_wait, 0);
      pthread_mutex_lock(L);
      pthread_create(&t, NULL, waiter, NULL);
      blocked += waiter_blocked();
    } else {
      stress_park_init(&park);
      pthread_barrier_init(&used, NULL, 2);
      pthread_create(&t, NULL, prior_user, NULL);
      pthread_barrier_wait(&used);
      pthread_mutex_lock(L);
    }
    for (int i = 1; i < POOL; i++) { // evicts L's entry from the main thread's memory of recent locks
      pthread_mutex_lock(&pool[i]);
      pthread_mutex_unlock(&pool[i]);
    }
    pid_t pid = fork();
    if (pid == 0) {
      alarm(hang_seconds);
      child_takes_l();
      _exit(0);
    }
    pthread_mutex_unlock(L);
    int status = stress_wait(pid);
    if (stress_clean_exit(status))
      clean++;
    else
      stress_describe("child", pid, status);
    if (!waiting)
      stress_unpark(&park);
    pthread_join(t, NULL);
    if (!waiting) {
      close(park.fds[0]);
      pthread_barrier_destroy(&used);
    }
  }
  if (waiting)
    printf("outcome: %d of %d waiters were asleep in pthread_mutex_lock at the fork; ", blocked, rounds);
  else
    printf("outcome: ");
  printf("%d of %d children exited 0\n", clean, rounds);
  return clean == rounds && (!waiting || blocked == rounds) ? 0 : 1;
}
