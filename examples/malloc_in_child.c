// Expect: unsafe-call — malloc (class non-portable) in the child of a multithreaded fork; mode=glibc: no report.
//
// Two workers are alive (parked on a pipe) when the main thread forks. The child mallocs a buffer in
// child_allocates() and then _exit()s. malloc is not async-signal-safe: POSIX leaves it undefined in the child of
// a multithreaded process, glibc resets its arenas at fork and keeps it working. So it is reported as an
// unsafe call of class non-portable, once for its call site (count 3), and the child goes on and exits 0;
// mode=glibc drops that class.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WORKERS = 2 };

static pthread_barrier_t started; // once past it, every worker is running
static int park_pipe[2];          // the workers park reading this until the parent closes it
static char *volatile child_buffers[3];

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "parked");
  pthread_barrier_wait(&started);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

__attribute__((noinline)) static void child_allocates(void) {
  for (int i = 0; i < 3; i++) {
    child_buffers[i] = malloc(64); // not async-signal-safe: the culprit (one call site, called 3 times)
    if (child_buffers[i])
      child_buffers[i][0] = 'x';
  }
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
  pthread_t threads[WORKERS];
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&started, NULL, WORKERS + 1);
  for (int i = 0; i < WORKERS; i++)
    pthread_create(&threads[i], NULL, worker, NULL);
  pthread_barrier_wait(&started);

  printf("ground-truth: expect=unsafe-call call=malloc class=non-portable count=3\n");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);
    child_allocates();
    _exit(0); // async-signal-safe; the buffers die with the process
  }
  wait_and_print(pid);
  close(park_pipe[1]);
  for (int i = 0; i < WORKERS; i++)
    pthread_join(threads[i], NULL);
  return 0;
}
