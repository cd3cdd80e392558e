// Expect: deadlock — on the mutex of thread #137 of 300, each of which holds its own mutex at fork.
//
// All 300 threads hold their own mutex at the fork instant (a barrier makes sure). The child locks the mutex of
// thread #137, whose owner vanished at fork: it never returns. The report must name that lock and that thread.
// Natively alarm(20) ends the child; under forkhazard it is reported and ends with 66.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { THREADS = 300, CHOSEN = 137 };

static pthread_mutex_t locks[THREADS];
static pid_t tids[THREADS];
static pthread_barrier_t holding; // once past it, every thread holds its own mutex
static int park_pipe[2];          // the threads park reading this until the parent closes it

__attribute__((noinline)) static void worker_holds_own_lock(size_t index) {
  pthread_mutex_lock(&locks[index]);
  tids[index] = (pid_t)syscall(SYS_gettid);
}

static void *worker(void *arg) {
  size_t index = (size_t)arg;
  char name[16];
  snprintf(name, sizeof name, "holder-%zu", index);
  pthread_setname_np(pthread_self(), name);
  worker_holds_own_lock(index);
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  pthread_mutex_unlock(&locks[index]);
  return NULL;
}

__attribute__((noinline)) static void child_locks_one_mutex(pthread_mutex_t *lock) {
  pthread_mutex_lock(lock); // the owner vanished at fork: never returns
  pthread_mutex_unlock(lock);
}

int main(void) {
  static pthread_t threads[THREADS];
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_barrier_init(&holding, NULL, THREADS + 1);
  for (size_t i = 0; i < THREADS; i++) {
    pthread_mutex_init(&locks[i], NULL);
    int rc = pthread_create(&threads[i], &attr, worker, (void *)i);
    if (rc != 0) {
      fprintf(stderr, "pthread_create #%zu: %s\n", i, strerror(rc));
      return 1;
    }
  }
  pthread_attr_destroy(&attr);
  pthread_barrier_wait(&holding);

  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&locks[CHOSEN], (int)tids[CHOSEN]);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20); // natively the lock below never returns
    child_locks_one_mutex(&locks[CHOSEN]);
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  close(park_pipe[1]);
  for (size_t i = 0; i < THREADS; i++)
    pthread_join(threads[i], NULL);
  return 0;
}
