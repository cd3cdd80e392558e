// Expect: unsafe-call — printf (class non-portable) in the child of a multithreaded fork, reported once.
//
// A worker is alive (parked on a pipe) when the main thread forks. The child prints a line with printf in
// child_prints(), with a format argument so that the compiler keeps the call a printf (a constant string would
// become puts). printf locks stdout and may allocate its buffer: the report names printf only, not the
// allocation or locking inside it. stdout is line-buffered, so the child's line reaches the output before _exit.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_barrier_t started; // once past it, the worker is running
static int park_pipe[2];          // the worker parks reading this until the parent closes it

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "parked");
  pthread_barrier_wait(&started);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

__attribute__((noinline)) static void child_prints(int pid) {
  printf("child %d says hello from printf\n", pid); // not async-signal-safe: the culprit
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
  setvbuf(stdout, NULL, _IOLBF, 0); // each line is written at its newline, in the child too
  pthread_t thread;
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&started, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&started);

  printf("ground-truth: expect=unsafe-call call=printf class=non-portable\n");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);
    child_prints((int)getpid());
    _exit(0);
  }
  wait_and_print(pid);
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
