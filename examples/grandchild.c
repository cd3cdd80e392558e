// Expect: deadlock — in the grandchild: the restriction of a multithreaded fork is inherited by its children.
//
// A worker holds `journal_lock` at the fork. The child is single-threaded, but its memory still shows the lock
// held by the vanished worker, and so does the memory of the grandchild it forks: the grandchild's lock never
// returns. Natively alarm(20) ends the grandchild; under forkhazard the grandchild is reported and ends with 66.
// The child waits for the grandchild and exits with its status (128+N if it was killed by signal N).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t journal_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding; // once past it, the worker holds journal_lock
static int park_pipe[2];          // the worker parks reading this until the parent closes it
static pid_t worker_tid;

__attribute__((noinline)) static void worker_holds_lock(void) {
  pthread_mutex_lock(&journal_lock);
  worker_tid = (pid_t)syscall(SYS_gettid);
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "journal-owner");
  worker_holds_lock();
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  pthread_mutex_unlock(&journal_lock);
  return NULL;
}

__attribute__((noinline)) static void grandchild_locks_the_mutex(void) {
  pthread_mutex_lock(&journal_lock); // the owner vanished at the first fork: never returns
  pthread_mutex_unlock(&journal_lock);
}

static int wait_for(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Only async-signal-safe calls here: the child of a multithreaded fork.
static void run_child(void) {
  alarm(30); // longer than the grandchild's, so the child outlives it natively
  pid_t pid = fork();
  if (pid < 0)
    _exit(1);
  if (pid == 0) {
    alarm(20); // natively the lock below never returns
    grandchild_locks_the_mutex();
    _exit(0);
  }
  int status = wait_for(pid);
  _exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
}

int main(void) {
  pthread_t thread;
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&holding, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&holding);

  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&journal_lock, (int)worker_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0)
    run_child();
  int status = wait_for(pid);
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d (the grandchild's)\n", (int)pid, WEXITSTATUS(status));
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
