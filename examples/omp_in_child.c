// Expect: deadlock — an OpenMP parallel region in the child after one in the parent (GCC PR 60035).
//
// The parent's parallel region starts libgomp's thread pool; after the region the pool threads stay docked,
// waiting for the next one. fork() copies only the calling thread, but the child's copy of the pool still
// counts the others, so the child's first parallel region waits for threads that no longer exist: on libgomp's
// dock barrier, or (when they had all docked before the fork) on the barrier that ends the region. libgomp waits
// on its own futex, not on a pthread lock: nothing interposes it, and the child hangs every time. Natively alarm(5) ends the child with SIGALRM; under `forkhazard run` the watchdog sees the
// only thread blocked on a private futex for good, reports it (call GOMP_parallel) and ends it with 66.
// Build with -fopenmp.
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { TEAM = 4 };

__attribute__((noinline)) static long parent_sums(void) {
  long sum = 0;
#pragma omp parallel for num_threads(TEAM) reduction(+ : sum)
  for (long i = 0; i < 1000000; i++)
    sum += i % 7;
  return sum;
}

__attribute__((noinline)) static long child_sums(void) {
  long sum = 0;
#pragma omp parallel for num_threads(TEAM) reduction(+ : sum) // the pool threads vanished: never returns
  for (long i = 0; i < 1000; i++)
    sum += i % 7;
  return sum;
}

static long ms_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

int main(int argc, char **argv) {
  long alarm_ms = argc > 1 ? atol(argv[1]) : 5000;  // the child's alarm, in milliseconds
  printf("parent: sum %ld with %d threads\n", parent_sums(), TEAM);
  printf("ground-truth: expect=deadlock call=GOMP_parallel lock=0 owner_tid=-1\n");
  fflush(stdout);
  struct timespec forked;
  clock_gettime(CLOCK_MONOTONIC, &forked);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {alarm_ms / 1000, (alarm_ms % 1000) * 1000}}, NULL); // natively the region below never ends
    long sum = child_sums();
    _exit(sum > 0 ? 0 : 1);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      perror("waitpid");
      return 1;
    }
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s) after %ld ms\n", (int)pid, WTERMSIG(status),
           strsignal(WTERMSIG(status)), ms_since(&forked));
  else
    printf("child %d exited with status %d after %ld ms\n", (int)pid, WEXITSTATUS(status), ms_since(&forked));
  return 0;
}
