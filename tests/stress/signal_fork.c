// Expect: no report — fork() from signal handlers while threads churn, so a handler interrupts the shim's own
// bookkeeping of a lock call (and, under the shim, its own wrappers) in the interrupted thread.
//
// The main thread and 4 "lockers" churn mutexes, an rwlock and a condition variable (no allocator, no stdio:
// fork() in a handler that interrupted malloc would deadlock natively, glibc's fork takes the arena locks). An
// interval timer (SIGALRM, only the main thread leaves it unblocked) and a kicker thread (SIGUSR1 to a random
// locker with pthread_kill) make handlers fork in the middle of that churn; 4 more threads churn the allocator
// with both signals blocked. Each handler's child calls only _exit(0); the handler reaps it (waitpid is
// async-signal-safe). 150 forks (times STRESS_SCALE). Exit status 0 when every child exited 0.
// argv[1] = spawn: the lockers also start and join a short thread every 16 rounds, so handlers also interrupt
// pthread_create and pthread_join (and the shim's thread bookkeeping in them).
#include "stress_common.h"

#include <sys/time.h>

enum { LOCKERS = 4, ALLOCATORS = 4, LOCKS = 8, FORKS = 150 };

static pthread_mutex_t locks[LOCKS];
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t pair_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pair_cond = PTHREAD_COND_INITIALIZER;
static int pair_turn;
static atomic_int stop;
static atomic_int forks_started, forks_done, forks_clean, forks_failed;
static atomic_long churned;
static int target; // forks to make; set before any handler can run
static int spawn;  // argv[1] = spawn

static void *short_lived(void *arg) { return arg; }

static void fork_in_handler(int sig) {
  (void)sig;
  // A handler that outlasts the timer's interval would run back to back and starve the interrupted thread:
  // once the target is reached the handlers do nothing.
  if (atomic_fetch_add(&forks_started, 1) >= target)
    return;
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0)
    _exit(0);
  if (pid < 0) {
    atomic_fetch_add(&forks_failed, 1);
  } else {
    int status = stress_wait(pid);
    atomic_fetch_add(&forks_done, 1);
    if (stress_clean_exit(status))
      atomic_fetch_add(&forks_clean, 1);
  }
  errno = saved;
}

// Lock calls only: what the handler may interrupt.
static void churn_locks(unsigned *seed) {
  *seed = *seed * 1103515245u + 12345u;
  pthread_mutex_t *first = &locks[(*seed >> 16) % LOCKS];
  pthread_mutex_t *second = &locks[(*seed >> 20) % LOCKS];
  pthread_mutex_lock(first);
  if (second != first && pthread_mutex_trylock(second) == 0)
    pthread_mutex_unlock(second);
  if ((*seed >> 8) % 4 == 0) {
    pthread_rwlock_wrlock(&rwlock);
    pthread_rwlock_unlock(&rwlock);
  } else {
    pthread_rwlock_rdlock(&rwlock);
    pthread_rwlock_unlock(&rwlock);
  }
  pthread_mutex_unlock(first);
  atomic_fetch_add(&churned, 1);
}

static void *locker(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  int index = (int)(size_t)arg;
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
  for (unsigned round = 1; !atomic_load(&stop); round++) {
    churn_locks(&seed);
    pthread_t t;
    if (spawn && round % 16 == 0 && pthread_create(&t, NULL, short_lived, NULL) == 0)
      pthread_join(t, NULL);
    if (index <= 2) { // lockers 1 and 2 also pass a turn back and forth through a condition variable
      struct timespec deadline;
      clock_gettime(CLOCK_REALTIME, &deadline);
      deadline.tv_nsec += 1000000;
      if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
      }
      pthread_mutex_lock(&pair_lock);
      while (pair_turn != index && !atomic_load(&stop))
        if (pthread_cond_timedwait(&pair_cond, &pair_lock, &deadline) != 0)
          break;
      pair_turn = 3 - index;
      pthread_cond_broadcast(&pair_cond);
      pthread_mutex_unlock(&pair_lock);
    }
  }
  return NULL;
}

static void *allocator(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  void *keep[32] = {0};
  while (!atomic_load(&stop)) {
    seed = seed * 1103515245u + 12345u;
    size_t i = (seed >> 16) % 32;
    pthread_mutex_lock(&locks[i % LOCKS]);
    free(keep[i]);
    keep[i] = malloc(16 + (seed >> 4) % 4096);
    pthread_mutex_unlock(&locks[i % LOCKS]);
  }
  for (size_t i = 0; i < 32; i++)
    free(keep[i]);
  return NULL;
}

static pthread_t lockers[LOCKERS];

static void *kicker(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  while (!atomic_load(&stop) && atomic_load(&forks_started) < target) {
    seed = seed * 1103515245u + 12345u;
    pthread_kill(lockers[(seed >> 16) % LOCKERS], SIGUSR1);
    stress_sleep_us(1500);
  }
  return NULL;
}

int main(int argc, char **argv) {
  spawn = argc > 1 && strcmp(argv[1], "spawn") == 0;
  target = FORKS * stress_scale();
  for (int i = 0; i < LOCKS; i++)
    pthread_mutex_init(&locks[i], NULL);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = fork_in_handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &action, NULL);
  sigaction(SIGUSR1, &action, NULL);

  // Threads start with both signals blocked; the lockers unblock SIGUSR1, the main thread SIGALRM.
  sigset_t both;
  sigemptyset(&both);
  sigaddset(&both, SIGALRM);
  sigaddset(&both, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &both, NULL);
  pthread_t allocators[ALLOCATORS], kick;
  for (int i = 0; i < LOCKERS; i++)
    pthread_create(&lockers[i], NULL, locker, (void *)(size_t)(i + 1));
  for (int i = 0; i < ALLOCATORS; i++)
    pthread_create(&allocators[i], NULL, allocator, (void *)(size_t)(i + 11));
  while (atomic_load(&churned) < 5000)
    stress_sleep_us(100);
  pthread_create(&kick, NULL, kicker, (void *)(size_t)7);

  printf("ground-truth: expect=none\n");
  fflush(stdout);
  sigset_t alrm;
  sigemptyset(&alrm);
  sigaddset(&alrm, SIGALRM);
  pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
  struct itimerval every = {{0, 2000}, {0, 2000}};
  setitimer(ITIMER_REAL, &every, NULL);
  unsigned seed = 99;
  while (atomic_load(&forks_done) + atomic_load(&forks_failed) < target)
    churn_locks(&seed);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  pthread_sigmask(SIG_BLOCK, &alrm, NULL);

  atomic_store(&stop, 1);
  pthread_join(kick, NULL);
  for (int i = 0; i < LOCKERS; i++)
    pthread_join(lockers[i], NULL);
  for (int i = 0; i < ALLOCATORS; i++)
    pthread_join(allocators[i], NULL);
  int done = atomic_load(&forks_done), clean = atomic_load(&forks_clean), failed = atomic_load(&forks_failed);
  printf("outcome: %d of %d children forked in handlers exited 0, %d forks failed\n", clean, done, failed);
  return clean == done && failed == 0 ? 0 : 1;
}
