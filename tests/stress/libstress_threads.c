// The library of dlopen_threads.c: its constructor starts 4 threads that churn its own mutexes, a condition
// variable and the allocator until stress_library_stop() joins them.
#include "stress_common.h"

enum { THREADS = 4, LOCKS = 8 };

static pthread_mutex_t locks[LOCKS];
static pthread_mutex_t signal_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t signal_cond = PTHREAD_COND_INITIALIZER;
static pthread_t threads[THREADS];
static atomic_int stop, started;
static atomic_long churned;

static void *churn(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  pthread_setname_np(pthread_self(), "lib-churner");
  while (!atomic_load(&stop)) {
    seed = seed * 1103515245u + 12345u;
    pthread_mutex_t *m = &locks[(seed >> 16) % LOCKS];
    pthread_mutex_lock(m);
    void *p = malloc(16 + (seed >> 8) % 512);
    pthread_mutex_unlock(m);
    free(p);
    if ((seed >> 12) % 16 == 0) {
      pthread_mutex_lock(&signal_lock);
      pthread_cond_signal(&signal_cond);
      struct timespec deadline;
      clock_gettime(CLOCK_REALTIME, &deadline);
      deadline.tv_nsec += 200000;
      if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&signal_cond, &signal_lock, &deadline);
      pthread_mutex_unlock(&signal_lock);
    }
    atomic_fetch_add(&churned, 1);
  }
  return NULL;
}

__attribute__((constructor)) static void start_threads(void) {
  for (int i = 0; i < LOCKS; i++)
    pthread_mutex_init(&locks[i], NULL);
  for (int i = 0; i < THREADS; i++)
    pthread_create(&threads[i], NULL, churn, (void *)(size_t)(i + 1));
  atomic_store(&started, 1);
}

__attribute__((visibility("default"))) long stress_library_churned(void) { return atomic_load(&churned); }

__attribute__((visibility("default"))) void stress_library_stop(void) {
  atomic_store(&stop, 1);
  if (atomic_exchange(&started, 0))
    for (int i = 0; i < THREADS; i++)
      pthread_join(threads[i], NULL);
}
