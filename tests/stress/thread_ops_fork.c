// Expect: no report — forks while other threads are inside pthread_create, thread exit and pthread_cond_wait.
//
// Two spawner threads create short-lived threads without pause (joinable ones they join, detached ones that
// end on their own), so at most fork instants some thread is inside pthread_create or exiting; four waiters
// sit in untimed pthread_cond_wait on two condition variables that a signaller thread broadcasts every 100 µs.
// The main thread forks 150 times (times STRESS_SCALE); every child calls only _exit(0). Exit status 0 when
// every child exited 0.
#include "stress_common.h"

enum { SPAWNERS = 2, WAITERS = 4, FORKS = 150 };

static pthread_mutex_t wait_lock[2] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};
static pthread_cond_t wait_cond[2] = {PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};
static long generation[2];
static pthread_mutex_t spawned_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int stop;
static atomic_long spawned, woken;
static atomic_int detached_running;

static void *short_lived(void *arg) {
  if ((size_t)arg % 2) {
    pthread_mutex_lock(&spawned_lock);
    pthread_mutex_unlock(&spawned_lock);
  }
  atomic_fetch_add(&spawned, 1);
  return NULL;
}

static void *short_detached(void *arg) {
  short_lived(arg);
  atomic_fetch_sub(&detached_running, 1);
  pthread_exit(NULL); // the explicit exit path too
}

static void *spawner(void *arg) {
  (void)arg;
  pthread_attr_t detached;
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
  for (size_t i = 0; !atomic_load(&stop); i++) {
    pthread_t t;
    if (i % 3 == 2) {
      if (atomic_load(&detached_running) > 16)
        continue;
      atomic_fetch_add(&detached_running, 1);
      if (pthread_create(&t, &detached, short_detached, (void *)i) != 0)
        atomic_fetch_sub(&detached_running, 1);
    } else if (pthread_create(&t, NULL, short_lived, (void *)i) == 0) {
      pthread_join(t, NULL);
    }
  }
  pthread_attr_destroy(&detached);
  return NULL;
}

static void *waiter(void *arg) {
  int which = (int)(size_t)arg % 2;
  pthread_mutex_lock(&wait_lock[which]);
  while (!atomic_load(&stop)) {
    long seen = generation[which];
    while (generation[which] == seen && !atomic_load(&stop))
      pthread_cond_wait(&wait_cond[which], &wait_lock[which]);
    atomic_fetch_add(&woken, 1);
  }
  pthread_mutex_unlock(&wait_lock[which]);
  return NULL;
}

static void *signaller(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    for (int which = 0; which < 2; which++) {
      pthread_mutex_lock(&wait_lock[which]);
      generation[which]++;
      pthread_cond_broadcast(&wait_cond[which]);
      pthread_mutex_unlock(&wait_lock[which]);
    }
    stress_sleep_us(100);
  }
  for (int which = 0; which < 2; which++) { // the last word: every waiter sees stop
    pthread_mutex_lock(&wait_lock[which]);
    generation[which]++;
    pthread_cond_broadcast(&wait_cond[which]);
    pthread_mutex_unlock(&wait_lock[which]);
  }
  return NULL;
}

int main(void) {
  int forks = FORKS * stress_scale();
  pthread_t spawners[SPAWNERS], waiters[WAITERS], signal_thread;
  for (int i = 0; i < WAITERS; i++)
    pthread_create(&waiters[i], NULL, waiter, (void *)(size_t)i);
  pthread_create(&signal_thread, NULL, signaller, NULL);
  for (int i = 0; i < SPAWNERS; i++)
    pthread_create(&spawners[i], NULL, spawner, NULL);
  while (atomic_load(&spawned) < 500 || atomic_load(&woken) < 100)
    stress_sleep_us(200);

  printf("ground-truth: expect=none\n");
  fflush(stdout);
  int clean = 0;
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      break;
    }
    if (pid == 0)
      _exit(0);
    int status = stress_wait(pid);
    if (stress_clean_exit(status))
      clean++;
    else
      stress_describe("child", pid, status);
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < SPAWNERS; i++)
    pthread_join(spawners[i], NULL);
  pthread_join(signal_thread, NULL);
  for (int i = 0; i < WAITERS; i++)
    pthread_join(waiters[i], NULL);
  while (atomic_load(&detached_running) > 0)
    stress_sleep_us(200);
  printf("outcome: %d of %d children exited 0; %ld threads started and ended meanwhile, %ld wake-ups\n", clean, forks,
         atomic_load(&spawned), atomic_load(&woken));
  return clean == forks ? 0 : 1;
}
