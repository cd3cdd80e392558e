// Expect: unsafe-call — pthread_join (class vanished-thread) in the child on a worker that vanished at fork.
//
// The worker is parked when the main thread forks. In the child it does not exist; glibc marked it finished, so
// child_joins_worker()'s pthread_join returns 0 at once, as if the worker had run to its end: the child goes on
// believing work was done that never was. Reported once, naming the worker; the child exits 0 as natively.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_barrier_t started;
static int park_pipe[2];
static pid_t worker_tid;

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "flusher");
  worker_tid = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&started);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

__attribute__((noinline)) static int child_joins_worker(pthread_t thread) {
  return pthread_join(thread, NULL); // the worker vanished at fork: a made-up 0
}

int main(void) {
  pthread_t thread;
  if (pipe(park_pipe) != 0) return 1;
  pthread_barrier_init(&started, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&started);
  printf("ground-truth: expect=unsafe-call call=pthread_join class=vanished-thread owner_tid=%d\n", (int)worker_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    _exit(child_joins_worker(thread));
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
