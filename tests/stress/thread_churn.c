// Expect: deadlock — after 20 000 threads (times STRESS_SCALE) were created and ended (joined, a quarter of
// them detached), so the shim's thread slots were reused many times over and the kernel reused tids, a last
// thread "final-holder" takes `target` and parks; the main thread forks and the child locks `target`. The
// report must name exactly that lock and that thread (its tid may have belonged to an older thread before).
// argv[1] = clean: the same, but the child only calls _exit(0) (expect no report).
// Natively alarm() ends the child; under forkhazard it is reported and ends with 66.
#include "stress_common.h"

static unsigned hang_seconds; // alarm() ends a child that would hang natively (STRESS_HANG_SECONDS)

enum { THREADS = 20000, BATCH = 32, LOCKS = 8 };

static pthread_mutex_t locks[LOCKS];
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t target = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding;
static stress_park_t park;
static pid_t holder_tid;
static atomic_int detached_running;

static void *short_lived(void *arg) {
  size_t i = (size_t)arg;
  if (i % 64 == 0)
    pthread_setname_np(pthread_self(), "short-lived");
  pthread_mutex_lock(&locks[i % LOCKS]);
  pthread_rwlock_rdlock(&rwlock);
  pthread_rwlock_unlock(&rwlock);
  pthread_mutex_unlock(&locks[i % LOCKS]);
  return NULL;
}

static void *short_detached(void *arg) {
  short_lived(arg);
  atomic_fetch_sub(&detached_running, 1);
  return NULL;
}

__attribute__((noinline)) static void holder_takes_target(void) {
  pthread_mutex_lock(&target);
  holder_tid = stress_tid();
}

static void *final_holder(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "final-holder");
  holder_takes_target();
  pthread_barrier_wait(&holding);
  stress_park(&park);
  pthread_mutex_unlock(&target);
  return NULL;
}

__attribute__((noinline)) static void child_locks_target(void) {
  pthread_mutex_lock(&target); // the owner vanished at fork: never returns
  pthread_mutex_unlock(&target);
}

int main(int argc, char **argv) {
  hang_seconds = stress_hang_seconds();
  int clean_child = argc > 1 && strcmp(argv[1], "clean") == 0;
  int total = THREADS * stress_scale();
  for (int i = 0; i < LOCKS; i++)
    pthread_mutex_init(&locks[i], NULL);
  stress_park_init(&park);

  pthread_attr_t detached;
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
  pthread_attr_t small;
  pthread_attr_init(&small);
  pthread_attr_setstacksize(&small, 64 * 1024);
  pthread_attr_setstacksize(&detached, 64 * 1024);
  int created = 0, failed = 0;
  pid_t first_tid = stress_tid();
  for (int done = 0; done < total; done += BATCH) {
    pthread_t batch[BATCH];
    int joinable[BATCH];
    for (int i = 0; i < BATCH; i++) {
      size_t index = (size_t)(done + i);
      joinable[i] = index % 4 != 3;
      if (!joinable[i])
        atomic_fetch_add(&detached_running, 1);
      int rc = pthread_create(&batch[i], joinable[i] ? &small : &detached, joinable[i] ? short_lived : short_detached,
                              (void *)index);
      if (rc != 0) {
        failed++;
        joinable[i] = 0;
        if (index % 4 == 3)
          atomic_fetch_sub(&detached_running, 1);
      } else {
        created++;
      }
    }
    for (int i = 0; i < BATCH; i++)
      if (joinable[i])
        pthread_join(batch[i], NULL);
  }
  while (atomic_load(&detached_running) > 0)
    stress_sleep_us(200);
  stress_sleep_us(20000); // detached threads are past their function; give them time to be gone

  pthread_t holder;
  pthread_barrier_init(&holding, NULL, 2);
  pthread_create(&holder, NULL, final_holder, NULL);
  pthread_barrier_wait(&holding);
  printf("outcome: %d threads created and ended (%d failed to start); tids from %d, holder tid %d\n", created,
         failed, (int)first_tid, (int)holder_tid);
  if (clean_child)
    printf("ground-truth: expect=none\n");
  else
    printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&target, (int)holder_tid);
  fflush(stdout);

  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    if (clean_child)
      _exit(0);
    alarm(hang_seconds);
    child_locks_target();
    _exit(0);
  }
  int status = stress_wait(pid);
  stress_describe("child", pid, status);
  stress_unpark(&park);
  pthread_join(holder, NULL);
  return failed == 0 && (!clean_child || stress_clean_exit(status)) ? 0 : 1;
}
