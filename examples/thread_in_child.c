// Expect: unsafe-call — pthread_create (class non-portable) in the child of a multithreaded fork.
//
// A worker is alive (parked on a pipe) when the main thread forks. The child starts a thread in
// child_starts_thread(), joins it and _exit()s. pthread_create allocates the new thread's stack and TLS in a
// process whose allocator and loader state are whatever the vanished threads left: POSIX leaves it undefined,
// and glibc resets every lock it takes there (the stack cache, the default attributes, the loader's TLS lock,
// malloc: posix/fork.c), so it is a note, as malloc is (multiprocessing.Queue starts a thread in a fork child).
// Reported once as "pthread_create" (not the allocations inside it); the child goes on and exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_barrier_t started; // once past it, the worker is running
static int park_pipe[2];          // the worker parks reading this until the parent closes it
static volatile int helper_ran;

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "parked");
  pthread_barrier_wait(&started);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

static void *child_helper(void *arg) {
  (void)arg;
  helper_ran = 1; // only async-signal-safe work in the new thread
  return NULL;
}

__attribute__((noinline)) static int child_starts_thread(void) {
  pthread_t helper;
  if (pthread_create(&helper, NULL, child_helper, NULL) != 0) // the culprit
    return 1;
  pthread_join(helper, NULL);
  return helper_ran ? 0 : 2;
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
  pthread_barrier_init(&started, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&started);

  printf("ground-truth: expect=unsafe-call call=pthread_create class=non-portable\n");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);
    _exit(child_starts_thread());
  }
  wait_and_print(pid);
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
