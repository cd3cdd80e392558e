// Expect: deadlock — the child locks a mutex held by a worker thread that vanished at fork.
//
// The worker takes `table_lock` and parks while still holding it; the main thread forks at that instant. The
// child has only the forking thread, so nothing can ever unlock `table_lock` there: its lock never returns.
// Natively alarm(20) ends the child with SIGALRM; under forkhazard the child is reported and ends with 66.
//
//   mutex_held_by_worker [ALARM_MS]   the child's alarm, in milliseconds (default 20000)
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding; // once past it, the worker holds table_lock
static int park_pipe[2];          // the worker parks reading this until the parent closes it
static pid_t worker_tid;

__attribute__((noinline)) static void worker_holds_lock(void) {
  pthread_mutex_lock(&table_lock);
  worker_tid = (pid_t)syscall(SYS_gettid);
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "table-owner");
  worker_holds_lock();
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  pthread_mutex_unlock(&table_lock);
  return NULL;
}

__attribute__((noinline)) static void child_locks_the_mutex(void) {
  pthread_mutex_lock(&table_lock); // the owner vanished at fork: never returns
  pthread_mutex_unlock(&table_lock);
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

int main(int argc, char **argv) {
  long alarm_ms = argc > 1 ? atol(argv[1]) : 20000;
  pthread_t thread;
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&holding, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&holding);

  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&table_lock, (int)worker_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {alarm_ms / 1000, (alarm_ms % 1000) * 1000}}, NULL); // natively the lock below never returns
    child_locks_the_mutex();
    _exit(0);
  }
  wait_and_print(pid);
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
