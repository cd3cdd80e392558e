// Expect: no report — main leaves with pthread_exit and the worker, then the only thread, forks.
//
// main takes and releases `table_lock`, starts a worker and calls pthread_exit: the process goes on with the
// worker alone (glibc runs main's thread-specific-data destructors; the kernel keeps a zombie leader in its
// thread count). The worker forks: a single-threaded fork, nothing vanished. The child locks `table_lock`,
// allocates, prints and exits with exit(): all fine natively, and no hazard. The program exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t main_thread;

__attribute__((noinline)) static void child_works(void) {
  pthread_mutex_lock(&table_lock);
  char *copy = strdup("the child's own work");
  printf("child: %s\n", copy);
  free(copy);
  pthread_mutex_unlock(&table_lock);
  exit(0);
}

static void *worker(void *arg) {
  (void)arg;
  pthread_join(main_thread, NULL);  // main has left: this is the only thread
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(1);
  }
  if (pid == 0) {
    alarm(20);
    child_works();
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  fflush(stdout);
  exit(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1);
}

int main(void) {
  printf("ground-truth: expect=none\n");
  fflush(stdout);
  pthread_mutex_lock(&table_lock);
  pthread_mutex_unlock(&table_lock);
  main_thread = pthread_self();
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  pthread_exit(NULL);
}
