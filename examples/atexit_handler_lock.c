// Expect: deadlock — the child calls exit(), and an atexit handler locks a mutex a worker held at fork.
//
// The program registers flush_journal() with atexit; it takes `journal_lock`, which a worker holds (parked) when
// the main thread forks. The child ends with exit(0) instead of _exit(0): exit runs the parent's atexit
// handlers in the child, flush_journal() locks journal_lock, and the only thread that could unlock it vanished
// at fork, so exit never returns. Natively alarm(20) ends the child with SIGALRM; under forkhazard exit() is
// reported (hang-prone) and the lock inside its handler as a deadlock, and the child ends with 66.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t journal_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding; // once past it, the worker holds journal_lock
static int park_pipe[2];          // the worker parks reading this until the parent closes it
static pid_t worker_tid;

__attribute__((noinline)) static void flush_journal(void) {
  pthread_mutex_lock(&journal_lock); // in the child: the owner vanished at fork, never returns
  pthread_mutex_unlock(&journal_lock);
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "journal-writer");
  pthread_mutex_lock(&journal_lock);
  worker_tid = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  pthread_mutex_unlock(&journal_lock);
  return NULL;
}

__attribute__((noinline)) static void child_exits(void) {
  exit(0); // runs flush_journal in the child: _exit(0) is the safe call
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
  atexit(flush_journal);
  pthread_t thread;
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&holding, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&holding);

  printf("ground-truth: expect=deadlock call=pthread_mutex_lock lock=%p owner_tid=%d\n", (void *)&journal_lock,
         (int)worker_tid);
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
  pthread_join(thread, NULL);
  return 0;
}
