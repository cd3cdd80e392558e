// Expect: deadlock — the child write-locks an rwlock that a worker held for reading when it vanished at fork.
//
// glibc counts readers in the rwlock but keeps no identity for them; in the child the reader no longer exists
// and the child is left with one thread and no signal handler, so nothing can ever release that read hold: the
// writer waits forever. Natively alarm(20) ends the child; under forkhazard it is reported and ends with 66.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_rwlock_t index_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t holding; // once past it, the worker holds index_lock for writing
static int park_pipe[2];          // the worker parks reading this until the parent closes it
static pid_t worker_tid;

__attribute__((noinline)) static void worker_holds_read_lock(void) {
  pthread_rwlock_rdlock(&index_lock);
  worker_tid = (pid_t)syscall(SYS_gettid);
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "index-reader");
  worker_holds_read_lock();
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  pthread_rwlock_unlock(&index_lock);
  return NULL;
}

__attribute__((noinline)) static void child_writes_the_rwlock(void) {
  pthread_rwlock_wrlock(&index_lock); // the reader vanished at fork: never returns
  pthread_rwlock_unlock(&index_lock);
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
  pthread_barrier_init(&holding, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&holding);

  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&index_lock, (int)worker_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20); // natively the lock below never returns
    child_writes_the_rwlock();
    _exit(0);
  }
  wait_and_print(pid);
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
