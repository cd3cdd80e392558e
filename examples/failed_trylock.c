// Expect: no report — a worker's failed trylock (EBUSY) and timedlock (ETIMEDOUT) are not acquisitions.
//
// The main thread holds the mutex while the worker tries it twice and fails; then the main thread unlocks it and
// forks while the worker is still alive (parked on a pipe). Nobody holds the mutex at fork: the child locks it
// and exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t account_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t tried; // once past it, the worker has failed both attempts
static int park_pipe[2];        // the worker parks reading this until the parent closes it

__attribute__((noinline)) static void worker_fails_to_lock(void) {
  int rc = pthread_mutex_trylock(&account_lock);
  printf("worker: trylock returned %s\n", rc == EBUSY ? "EBUSY" : strerror(rc));

  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_nsec += 50 * 1000 * 1000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1000000000;
  }
  rc = pthread_mutex_timedlock(&account_lock, &deadline);
  printf("worker: timedlock returned %s\n", rc == ETIMEDOUT ? "ETIMEDOUT" : strerror(rc));
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "trier");
  worker_fails_to_lock();
  pthread_barrier_wait(&tried);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

__attribute__((noinline)) static void child_locks_the_mutex(void) {
  pthread_mutex_lock(&account_lock); // free in the child: returns at once
  pthread_mutex_unlock(&account_lock);
}

static void wait_and_print(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      perror("waitpid");
      return;
    }
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
}

int main(void) {
  pthread_t thread;
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&tried, NULL, 2);
  pthread_mutex_lock(&account_lock);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&tried);
  pthread_mutex_unlock(&account_lock);

  printf("ground-truth: expect=none\n");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20); // would end a wrongly blocked child
    child_locks_the_mutex();
    _exit(0);
  }
  wait_and_print(pid);
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
