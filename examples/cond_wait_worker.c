// Expect: no report — the worker waits in pthread_cond_wait at fork, and glibc released its mutex inside.
//
// pthread_cond_wait unlocks the mutex inside glibc, where no wrapper sees it; the worker holds nothing at the
// fork instant, so the child can lock and unlock the mutex: no deadlock, the child exits 0. The worker did take
// queue_lock, before it parked; but it is parked on `queue_changed`, which nothing has ever signalled, so it can
// take queue_lock again only after the program signals it, which it does only after the fork: no fork of this
// flow can catch it holding the lock, and no possible deadlock is reported (it was, before the shim asked whether
// the thread could take the lock again rather than whether it once did).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_changed = PTHREAD_COND_INITIALIZER;
static int waiting = 0; // set under queue_lock by the worker just before it waits
static int done = 0;

__attribute__((noinline)) static void worker_waits_for_work(void) {
  pthread_mutex_lock(&queue_lock);
  waiting = 1;
  while (!done)
    pthread_cond_wait(&queue_changed, &queue_lock);
  pthread_mutex_unlock(&queue_lock);
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "queue-waiter");
  worker_waits_for_work();
  return NULL;
}

// The worker holds queue_lock from setting `waiting` until pthread_cond_wait releases it, so when we hold the
// lock and see `waiting`, the worker is inside pthread_cond_wait (nobody signals it until after the fork).
static void wait_until_worker_waits(void) {
  for (;;) {
    pthread_mutex_lock(&queue_lock);
    int in_wait = waiting;
    pthread_mutex_unlock(&queue_lock);
    if (in_wait)
      return;
    nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
  }
}

__attribute__((noinline)) static void child_locks_the_mutex(void) {
  pthread_mutex_lock(&queue_lock); // free in the child: returns at once
  pthread_mutex_unlock(&queue_lock);
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
  pthread_create(&thread, NULL, worker, NULL);
  wait_until_worker_waits();

  printf("ground-truth: expect=none call=pthread_mutex_lock lock=%p\n", (void *)&queue_lock);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20); // would end a wrongly blocked child
    child_locks_the_mutex();
    _exit(0);
  }
  wait_and_print(pid);

  pthread_mutex_lock(&queue_lock);
  done = 1;
  pthread_cond_broadcast(&queue_changed);
  pthread_mutex_unlock(&queue_lock);
  pthread_join(thread, NULL);
  return 0;
}
