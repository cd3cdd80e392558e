// Expect: no report — process-shared locks in MAP_SHARED memory, held by a thread of the parent at fork.
//
// A worker takes a process-shared mutex, a process-shared rwlock (for writing) and a process-shared robust
// mutex, all in one MAP_SHARED page, and a process-shared semaphore there stays at 0. The main thread forks;
// the child locks the three and waits on the semaphore: each blocks until the parent releases it (the worker
// unlocks after 100 ms, then the parent posts), which works because the memory is shared: not a deadlock. The
// child exits 0. 5 rounds (times STRESS_SCALE).
#include "stress_common.h"

static unsigned hang_seconds; // alarm() ends a child that would hang natively (STRESS_HANG_SECONDS)

#include <semaphore.h>
#include <sys/mman.h>

struct shared {
  pthread_mutex_t mutex;
  pthread_rwlock_t rwlock;
  pthread_mutex_t robust;
  sem_t sem;
  atomic_int child_in;
};

static struct shared *shm;
static pthread_barrier_t holding, release;

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "shared-owner");
  pthread_mutex_lock(&shm->mutex);
  pthread_rwlock_wrlock(&shm->rwlock);
  pthread_mutex_lock(&shm->robust);
  pthread_barrier_wait(&holding);
  pthread_barrier_wait(&release);
  pthread_mutex_unlock(&shm->robust);
  pthread_rwlock_unlock(&shm->rwlock);
  pthread_mutex_unlock(&shm->mutex);
  return NULL;
}

static void child(void) {
  alarm(hang_seconds);
  atomic_store(&shm->child_in, 1);
  int a = pthread_mutex_lock(&shm->mutex);
  int b = pthread_rwlock_wrlock(&shm->rwlock);
  int c = pthread_mutex_lock(&shm->robust);
  int d = sem_wait(&shm->sem);
  if (c == 0)
    pthread_mutex_unlock(&shm->robust);
  if (b == 0)
    pthread_rwlock_unlock(&shm->rwlock);
  if (a == 0)
    pthread_mutex_unlock(&shm->mutex);
  _exit(a == 0 && b == 0 && c == 0 && d == 0 ? 0 : 1);
}

int main(void) {
  hang_seconds = stress_hang_seconds();
  int rounds = 5 * stress_scale();
  shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shm == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  pthread_mutexattr_t mattr;
  pthread_mutexattr_init(&mattr);
  pthread_mutexattr_setpshared(&mattr, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&shm->mutex, &mattr);
  pthread_mutexattr_setrobust(&mattr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&shm->robust, &mattr);
  pthread_rwlockattr_t rattr;
  pthread_rwlockattr_init(&rattr);
  pthread_rwlockattr_setpshared(&rattr, PTHREAD_PROCESS_SHARED);
  pthread_rwlock_init(&shm->rwlock, &rattr);
  sem_init(&shm->sem, 1, 0);

  printf("ground-truth: expect=none\n");
  fflush(stdout);
  int clean = 0;
  for (int i = 0; i < rounds; i++) {
    pthread_barrier_init(&holding, NULL, 2);
    pthread_barrier_init(&release, NULL, 2);
    atomic_store(&shm->child_in, 0);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_barrier_wait(&holding);
    pid_t pid = fork();
    if (pid == 0)
      child();
    while (!atomic_load(&shm->child_in))
      stress_sleep_us(1000);
    stress_sleep_us(100000); // the child is blocked in the mutex by now
    pthread_barrier_wait(&release);
    pthread_join(t, NULL);
    sem_post(&shm->sem);
    int status = stress_wait(pid);
    if (stress_clean_exit(status))
      clean++;
    else
      stress_describe("child", pid, status);
    pthread_barrier_destroy(&holding);
    pthread_barrier_destroy(&release);
  }
  printf("outcome: %d of %d children took the shared locks once the parent released them, exit 0\n", clean, rounds);
  return clean == rounds ? 0 : 1;
}
