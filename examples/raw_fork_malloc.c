// Expect: unsafe-call — malloc (class hang-prone) in a child made by syscall(SYS_fork) in a multithreaded process.
//
// A raw fork system call runs no pthread_atfork handler, and glibc resets nothing in the child: a malloc arena
// lock or a FILE lock a vanished thread held stays locked there (stdio hung 57 of 60 raw-forked children while
// threads wrote, DESIGN.md). Two workers allocate nonstop; the main thread forks with syscall(SYS_fork) and the
// child allocates in child_allocates(). forkhazard sees the raw fork (it interposes syscall) and reports the
// malloc as hang-prone (a raw fork). The child may hang natively: alarm(20) ends it.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WORKERS = 2 };
static atomic_int stop;
static atomic_int running; // workers that have started

static void *allocator(void *arg) {
  (void)arg;
  atomic_fetch_add(&running, 1);
  while (!atomic_load(&stop)) {
    void *volatile p = malloc(64);
    free(p);
    usleep(100);
  }
  return NULL;
}

__attribute__((noinline)) static void child_allocates(void) {
  void *volatile p = malloc(128); // the culprit: glibc did not reset its arenas for this child
  (void)p;                         // (the child _exits at once: no free, one call to report)
}

int main(void) {
  pthread_t threads[WORKERS];
  for (int i = 0; i < WORKERS; i++) pthread_create(&threads[i], NULL, allocator, NULL);
  while (atomic_load(&running) < WORKERS) usleep(100);
  printf("ground-truth: expect=unsafe-call call=malloc class=hang-prone\n");
  fflush(stdout);
  long pid = syscall(SYS_fork);
  if (pid < 0) {
    perror("syscall(SYS_fork)");
    return 1;
  }
  if (pid == 0) {
    alarm(20);
    child_allocates();
    _exit(0);
  }
  int status;
  while (waitpid((pid_t)pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  atomic_store(&stop, 1);
  for (int i = 0; i < WORKERS; i++) pthread_join(threads[i], NULL);
  return 0;
}
