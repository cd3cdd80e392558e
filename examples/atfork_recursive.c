// Expect: deadlock — the textbook pthread_atfork pattern ("lock in prepare, unlock in child") on a *recursive*
// mutex: in the child the forking thread has a new tid, so the unlock fails with EPERM and the mutex stays
// held by the forking thread's parent-side tid; the child's next lock never returns.
//
// The ground truth's owner_tid is the forking thread's tid in the parent. Natively alarm(20) ends the child.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t config_lock;
static pthread_barrier_t started;
static int child_unlock_result = -1;

static void prepare(void) { pthread_mutex_lock(&config_lock); }
static void in_parent(void) { pthread_mutex_unlock(&config_lock); }
static void in_child(void) { child_unlock_result = pthread_mutex_unlock(&config_lock); }

// A worker that exists at fork time, holding nothing: the fork is multithreaded.
static void *idle_worker(void *arg) {
  (void)arg;
  pthread_barrier_wait(&started);
  pause();
  return NULL;
}

__attribute__((noinline)) static void child_locks_recursive(void) {
  pthread_mutex_lock(&config_lock); // still owned by the parent-side tid: never returns
  pthread_mutex_unlock(&config_lock);
}

int main(void) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&config_lock, &attr);
  pthread_atfork(prepare, in_parent, in_child);

  pthread_t worker;
  pthread_barrier_init(&started, NULL, 2);
  pthread_create(&worker, NULL, idle_worker, NULL);
  pthread_barrier_wait(&started);

  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&config_lock, (int)syscall(SYS_gettid));
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    if (child_unlock_result != EPERM) _exit(3); // the premise of this example
    child_locks_recursive();
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  return 0;
}
