// Expect: no report — a fork storm. 9 threads churn mutexes, rwlocks, a condition variable and the allocator
// while the main thread forks 50 children a round (argv[2] overrides), 2 rounds (times STRESS_SCALE); the threads are joined and
// started again between rounds. Every child calls only _exit(0) or execs /bin/true (argv[1]: exit, exec or
// mixed, default mixed; mixed also makes every 16th child with a raw syscall(SYS_fork)). Nothing any child does
// touches a lock: no hazard, no hang, every child exits 0. Exit status 0 when every child did.
#include "stress_common.h"

#include <pthread.h>

enum { MUTEXERS = 4, RWLOCKERS = 2, CONDERS = 3, LOCKS = 16, FORKS_PER_ROUND = 50, ROUNDS = 2 };

static pthread_mutex_t locks[LOCKS];
static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static int queue_len;
static atomic_int stop;
static atomic_long churned;

// Nine busy threads on a 2-core machine would leave the forking thread and its children a tenth of a core (a
// fork every 20 ms): each churner rests 20 µs every 64 rounds, and still holds some lock at most fork instants.
static void breathe(unsigned round) {
  if (round % 64 == 0)
    stress_sleep_us(20);
}

static void *mutexer(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  pthread_setname_np(pthread_self(), "mutexer");
  for (unsigned round = 1; !atomic_load(&stop); round++) {
    breathe(round);
    seed = seed * 1103515245u + 12345u;
    pthread_mutex_t *first = &locks[(seed >> 16) % LOCKS];
    pthread_mutex_t *second = &locks[(seed >> 20) % LOCKS];
    pthread_mutex_lock(first);
    void *p = malloc(16 + (seed >> 8) % 2048);
    if (second != first && pthread_mutex_trylock(second) == 0) {
      p = realloc(p, 4096);
      pthread_mutex_unlock(second);
    }
    pthread_mutex_unlock(first);
    free(p);
    atomic_fetch_add(&churned, 1);
  }
  return NULL;
}

static void *rwlocker(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  pthread_setname_np(pthread_self(), "rwlocker");
  static void *table[64];
  for (unsigned round = 1; !atomic_load(&stop); round++) {
    breathe(round);
    seed = seed * 1103515245u + 12345u;
    if ((seed >> 16) % 4 == 0) {
      pthread_rwlock_wrlock(&table_lock);
      size_t i = (seed >> 8) % 64;
      free(table[i]);
      table[i] = calloc(1, 32 + (seed >> 4) % 256);
      pthread_rwlock_unlock(&table_lock);
    } else {
      pthread_rwlock_rdlock(&table_lock);
      volatile void *seen = table[(seed >> 8) % 64];
      (void)seen;
      pthread_rwlock_unlock(&table_lock);
    }
    atomic_fetch_add(&churned, 1);
  }
  return NULL;
}

// One producer and two consumers of a counter behind a mutex and a condition variable (timed waits, so the
// end of a round never waits for a signal that does not come).
static void *conder(void *arg) {
  int producer = (size_t)arg == 0;
  pthread_setname_np(pthread_self(), producer ? "producer" : "consumer");
  for (unsigned round = 1; !atomic_load(&stop); round++) {
    breathe(round);
    pthread_mutex_lock(&queue_lock);
    if (producer) {
      queue_len++;
      pthread_cond_signal(&queue_cond);
    } else {
      while (queue_len == 0 && !atomic_load(&stop)) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += 2000000;
        if (deadline.tv_nsec >= 1000000000) {
          deadline.tv_sec++;
          deadline.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&queue_cond, &queue_lock, &deadline);
      }
      if (queue_len > 0)
        queue_len--;
    }
    pthread_mutex_unlock(&queue_lock);
    void *p = malloc(64);
    free(p);
    atomic_fetch_add(&churned, 1);
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "mixed";
  int rounds = ROUNDS * stress_scale();
  int per_round = argc > 2 ? atoi(argv[2]) : FORKS_PER_ROUND;
  for (int i = 0; i < LOCKS; i++)
    pthread_mutex_init(&locks[i], NULL);
  printf("ground-truth: expect=none\n");
  fflush(stdout);

  int forks = 0, clean = 0;
  for (int round = 0; round < rounds; round++) {
    pthread_t threads[MUTEXERS + RWLOCKERS + CONDERS];
    int n = 0;
    atomic_store(&stop, 0);
    long before = atomic_load(&churned);
    for (int i = 0; i < MUTEXERS; i++)
      pthread_create(&threads[n++], NULL, mutexer, (void *)(size_t)(round * 100 + i + 1));
    for (int i = 0; i < RWLOCKERS; i++)
      pthread_create(&threads[n++], NULL, rwlocker, (void *)(size_t)(round * 100 + i + 1));
    for (int i = 0; i < CONDERS; i++)
      pthread_create(&threads[n++], NULL, conder, (void *)(size_t)i);
    while (atomic_load(&churned) - before < 5000) // churning for real before the first fork
      stress_sleep_us(100);

    for (int i = 0; i < per_round; i++) {
      int exec_it = strcmp(mode, "exec") == 0 || (strcmp(mode, "mixed") == 0 && i % 2 == 1);
      int raw = strcmp(mode, "mixed") == 0 && i % 16 == 0;
      pid_t pid = raw ? (pid_t)syscall(SYS_fork) : fork();
      if (pid < 0) {
        perror("fork");
        break;
      }
      if (pid == 0) {
        if (exec_it) {
          execl("/bin/true", "true", (char *)NULL);
          _exit(127);
        }
        _exit(0);
      }
      forks++;
      int status = stress_wait(pid);
      if (stress_clean_exit(status))
        clean++;
      else
        stress_describe("child", pid, status);
    }
    atomic_store(&stop, 1);
    pthread_mutex_lock(&queue_lock);
    pthread_cond_broadcast(&queue_cond);
    pthread_mutex_unlock(&queue_lock);
    for (int i = 0; i < n; i++)
      pthread_join(threads[i], NULL);
  }
  printf("outcome: %d of %d children exited 0 (%s)\n", clean, forks, mode);
  return clean == forks && forks == rounds * per_round ? 0 : 1;
}
