// Expect: deadlock — exactly one, on recursive mutex B; A was locked twice and fully unlocked, so it is free.
//
// The worker locks recursive mutex A twice and unlocks it twice (A is free again), then holds recursive mutex B
// (depth 2) at the fork. The child locks A, which succeeds, then B, whose owner vanished at fork: it never
// returns. Natively alarm(20) ends the child; under forkhazard it is reported and ends with 66.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t lock_a;
static pthread_mutex_t lock_b;
static pthread_barrier_t holding; // once past it, the worker holds B (and no longer A)
static int park_pipe[2];          // the worker parks reading this until the parent closes it
static pid_t worker_tid;

__attribute__((noinline)) static void worker_uses_lock_a(void) {
  pthread_mutex_lock(&lock_a);
  pthread_mutex_lock(&lock_a);
  pthread_mutex_unlock(&lock_a);
  pthread_mutex_unlock(&lock_a);
}

__attribute__((noinline)) static void worker_holds_lock(void) {
  pthread_mutex_lock(&lock_b);
  pthread_mutex_lock(&lock_b);
  worker_tid = (pid_t)syscall(SYS_gettid);
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "b-owner");
  worker_uses_lock_a();
  worker_holds_lock();
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  pthread_mutex_unlock(&lock_b);
  pthread_mutex_unlock(&lock_b);
  return NULL;
}

__attribute__((noinline)) static void child_locks_a(void) {
  pthread_mutex_lock(&lock_a); // free: succeeds
  pthread_mutex_unlock(&lock_a);
}

__attribute__((noinline)) static void child_locks_b(void) {
  pthread_mutex_lock(&lock_b); // the owner vanished at fork: never returns
  pthread_mutex_unlock(&lock_b);
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
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&lock_a, &attr);
  pthread_mutex_init(&lock_b, &attr);
  pthread_mutexattr_destroy(&attr);

  pthread_t thread;
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&holding, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&holding);

  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&lock_b, (int)worker_tid);
  printf("released lock A: %p\n", (void *)&lock_a);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20); // natively the lock of B never returns
    child_locks_a();
    child_locks_b();
    _exit(0);
  }
  wait_and_print(pid);
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
