// Expect: possible-deadlock (never succeeds) — the child retries pthread_mutex_timedlock on a mutex a worker held
// across fork().
//
// A worker holds `spool_lock` (parked on a pipe) when the main thread forks. The child tries to take it with a
// 10 ms timeout, 20 times, then gives up and exits 0. Each call returns ETIMEDOUT (it does not hang), but none
// can ever succeed: the only thread that could unlock the mutex vanished at fork. A program that retries forever
// spins for good, natively with no clue. Under forkhazard the first timed call is reported once (a warning: "can
// never succeed", naming the lock and its vanished holder); the child goes on as natively.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t spool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding; // once past it, the worker holds spool_lock
static int park_pipe[2];
static pid_t worker_tid;

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "spooler");
  worker_tid = (pid_t)syscall(SYS_gettid);
  pthread_mutex_lock(&spool_lock);
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  pthread_mutex_unlock(&spool_lock);
  return NULL;
}

__attribute__((noinline)) static int child_retries(void) {
  for (int attempt = 0; attempt < 20; attempt++) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 10 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
    int rc = pthread_mutex_timedlock(&spool_lock, &deadline);
    if (rc == 0) {
      pthread_mutex_unlock(&spool_lock);
      return 0;
    }
  }
  return 1;
}

int main(void) {
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&holding, NULL, 2);
  pthread_t thread;
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&holding);
  printf("ground-truth: expect=possible-deadlock call=pthread_mutex_timedlock lock=%p owner_tid=%d\n",
         (void *)&spool_lock, (int)worker_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    int gave_up = child_retries();
    printf("child gave up: %s\n", gave_up ? "yes" : "no");
    fflush(stdout);
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d\n", (int)pid, WTERMSIG(status));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
