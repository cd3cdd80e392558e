// Expect: unsafe-call — exit() in the child of a multithreaded fork, where _exit() belongs.
//
//   exit_in_child [registered]
//
// The parent registers an atexit handler that prints a line; two workers are alive (parked on a pipe) when the
// main thread forks. The child ends with exit(0) in child_exits(): that runs the parent's atexit handlers (and
// C++ destructors) and flushes stdio in a process whose other threads vanished mid-work, so the handler's line
// appears twice, once from the child. Reported once as "exit"; the child goes on and exits 0.
// What can hang in exit() itself is the exit-handler registry's lock, which a vanished thread can hold only if it
// registers or runs exit handlers. Here the workers never did: a note (class non-portable, the run does not fail).
// registered: each worker registers an atexit handler of its own before it parks: the race that did not strike
// this run (had the fork caught a worker registering, exit() would never return): a warning (class hang-prone).
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

static void say_goodbye(void) { printf("atexit handler ran in pid %d\n", (int)getpid()); }
static void worker_goodbye(void) {}
static int registered;

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "parked");
  if (registered)
    atexit(worker_goodbye);
  pthread_barrier_wait(&started);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

__attribute__((noinline)) static void child_exits(void) {
  exit(0); // runs the parent's atexit handlers in the child: the culprit (_exit is the safe call)
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
  registered = argc > 1 && strcmp(argv[1], "registered") == 0;
  atexit(say_goodbye);
  pthread_t threads[WORKERS];
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&started, NULL, WORKERS + 1);
  for (int i = 0; i < WORKERS; i++)
    pthread_create(&threads[i], NULL, worker, NULL);
  pthread_barrier_wait(&started);

  printf("ground-truth: expect=unsafe-call call=exit class=%s\n", registered ? "hang-prone" : "non-portable");
  printf("parent pid %d\n", (int)getpid());
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);
    child_exits();
  }
  wait_and_print(pid);
  close(park_pipe[1]);
  for (int i = 0; i < WORKERS; i++)
    pthread_join(threads[i], NULL);
  return 0;
}
