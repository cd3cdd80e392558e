// Expect: no report — 300 forks while 8 threads churn 16 mutexes; every child only calls _exit(0).
//
// Locks are held by workers at almost every fork instant, but no child touches any of them: no hazard, no hang.
// The parent waits for each child and exits 0 when all 300 exited 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { WORKERS = 8, LOCKS = 16, FORKS = 300 };

static pthread_mutex_t locks[LOCKS];
static atomic_int stop;
static atomic_long churned;

__attribute__((noinline)) static void worker_churns(unsigned seed) {
  while (!atomic_load(&stop)) {
    seed = seed * 1103515245u + 12345u;
    pthread_mutex_t *first = &locks[(seed >> 16) % LOCKS];
    pthread_mutex_t *second = &locks[(seed >> 20) % LOCKS];
    pthread_mutex_lock(first);
    void *p = malloc(16 + (seed >> 8) % 1024);
    if (second != first && pthread_mutex_trylock(second) == 0)
      pthread_mutex_unlock(second);
    pthread_mutex_unlock(first);
    free(p);
    atomic_fetch_add(&churned, 1);
  }
}

static void *worker(void *arg) {
  pthread_setname_np(pthread_self(), "churner");
  worker_churns((unsigned)(size_t)arg);
  return NULL;
}

int main(void) {
  for (int i = 0; i < LOCKS; i++)
    pthread_mutex_init(&locks[i], NULL);
  pthread_t threads[WORKERS];
  for (int i = 0; i < WORKERS; i++)
    pthread_create(&threads[i], NULL, worker, (void *)(size_t)(i + 1));
  while (atomic_load(&churned) < 10000) // the workers are really churning before the first fork
    nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);

  printf("ground-truth: expect=none\n");
  fflush(stdout);
  int clean = 0;
  for (int i = 0; i < FORKS; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      break;
    }
    if (pid == 0)
      _exit(0);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      clean++;
    else
      printf("child %d: status 0x%x\n", (int)pid, status);
  }
  printf("%d of %d children exited 0\n", clean, FORKS);

  atomic_store(&stop, 1);
  for (int i = 0; i < WORKERS; i++)
    pthread_join(threads[i], NULL);
  return clean == FORKS ? 0 : 1;
}
