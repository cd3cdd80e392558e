// Cancellation during pthread_cond_wait, then fork. glibc re-takes the mutex when a cond_wait is cancelled,
// before the cleanup handlers run (nptl/pthread_cond_wait.c, __condvar_cleanup_waiting).
//   cleanup    (expect: no report) 20 waiters (times STRESS_SCALE), one after another, wait on `queue_cond`
//              with a cleanup handler that unlocks `queue_lock`, and are cancelled there; an idle thread keeps
//              the process multithreaded; after each cancellation the main thread forks and the child locks
//              `queue_lock`, which is free: it returns at once, the child exits 0.
//   nocleanup  (expect: deadlock) one waiter is cancelled in the wait without such a handler: it ends holding
//              `queue_lock` (the main thread's trylock says EBUSY). The idle thread keeps the fork
//              multithreaded; the child locks `queue_lock`, owned by a thread that had already exited before
//              the fork: natively it never returns (alarm() ends it).
#include "stress_common.h"

static unsigned hang_seconds; // alarm() ends a child that would hang natively (STRESS_HANG_SECONDS)

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static int waiting;
static pid_t waiter_tid;
static stress_park_t park;

static void unlock_queue(void *arg) { pthread_mutex_unlock((pthread_mutex_t *)arg); }

static void *waiter_with_cleanup(void *arg) {
  (void)arg;
  pthread_mutex_lock(&queue_lock);
  pthread_cleanup_push(unlock_queue, &queue_lock);
  waiting = 1;
  for (;;)
    pthread_cond_wait(&queue_cond, &queue_lock); // only a cancellation ends this
  pthread_cleanup_pop(1);
  return NULL;
}

static void *waiter_without_cleanup(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "cancelled-waitr");
  pthread_mutex_lock(&queue_lock);
  waiter_tid = stress_tid();
  waiting = 1;
  for (;;)
    pthread_cond_wait(&queue_cond, &queue_lock);
  return NULL;
}

static void *idler(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "idler");
  stress_park(&park);
  return NULL;
}

// Starts a waiter, waits until it is inside pthread_cond_wait (it set `waiting` under the lock, and the lock
// is free again only once the wait released it), cancels it and joins it.
static int cancel_one(void *(*body)(void *)) {
  pthread_t t;
  waiting = 0;
  pthread_create(&t, NULL, body, NULL);
  for (;;) {
    pthread_mutex_lock(&queue_lock);
    int in_wait = waiting;
    pthread_mutex_unlock(&queue_lock);
    if (in_wait)
      break;
    stress_sleep_us(100);
  }
  pthread_cancel(t);
  void *result = NULL;
  pthread_join(t, &result);
  return result == PTHREAD_CANCELED;
}

__attribute__((noinline)) static void child_locks_queue(void) {
  pthread_mutex_lock(&queue_lock);
  pthread_mutex_unlock(&queue_lock);
}

int main(int argc, char **argv) {
  hang_seconds = stress_hang_seconds();
  const char *mode = argc > 1 ? argv[1] : "cleanup";
  stress_park_init(&park);
  pthread_t idle;
  pthread_create(&idle, NULL, idler, NULL);
  int ok = 1;

  if (strcmp(mode, "cleanup") == 0) {
    int rounds = 20 * stress_scale(), clean = 0, cancelled = 0;
    printf("ground-truth: expect=none\n");
    fflush(stdout);
    for (int i = 0; i < rounds; i++) {
      cancelled += cancel_one(waiter_with_cleanup);
      pid_t pid = fork();
      if (pid == 0) {
        alarm(hang_seconds);
        child_locks_queue();
        _exit(0);
      }
      int status = stress_wait(pid);
      if (stress_clean_exit(status))
        clean++;
      else
        stress_describe("child", pid, status);
    }
    printf("outcome: %d of %d waiters cancelled; %d of %d children locked the mutex and exited 0\n", cancelled, rounds,
           clean, rounds);
    ok = clean == rounds && cancelled == rounds;
  } else if (strcmp(mode, "nocleanup") == 0) {
    int cancelled = cancel_one(waiter_without_cleanup);
    int busy = pthread_mutex_trylock(&queue_lock);
    printf("outcome: waiter %d cancelled: %s; then trylock in the parent: %s\n", (int)waiter_tid,
           cancelled ? "yes" : "no", busy == 0 ? "0 (free)" : strerror(busy));
    printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&queue_lock, (int)waiter_tid);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(hang_seconds); // natively the lock below never returns
      child_locks_queue();
      _exit(0);
    }
    stress_describe("child", pid, stress_wait(pid));
  } else {
    fprintf(stderr, "usage: %s cleanup|nocleanup\n", argv[0]);
    return 2;
  }
  stress_unpark(&park);
  pthread_join(idle, NULL);
  return ok ? 0 : 1;
}
