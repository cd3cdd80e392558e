// Expect: deadlock — popen() in the child while a vanished thread was inside popen()/pclose() at fork.
//
// Two threads run popen("true")/pclose() nonstop; glibc 2.36 serialises them with an internal lock (the popen
// list lock, proc_file_chain_lock) that fork() does not reset (2.41 does). The main thread forks CHILDREN
// children at once, and each calls popen once in child_popens(). A child forked while a thread held the lock
// waits for it forever on a private futex: about half of them, natively, until their alarm(5). Under
// `forkhazard run` the watchdog reports each of them (call popen) and ends it with 66; the others exit 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CHILDREN = 20, POPENERS = 2 };

static atomic_int stop;

__attribute__((noinline)) static void popener_loops(void) {
  while (!atomic_load(&stop)) {
    FILE *f = popen("true", "r");
    if (f != NULL)
      pclose(f);
  }
}

static void *popener(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "popener");
  popener_loops();
  return NULL;
}

__attribute__((noinline)) static int child_popens(void) {
  FILE *f = popen("true", "r"); // hangs when a popener held the popen list lock at fork
  return f != NULL ? pclose(f) : -1;
}

static long ms_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

int main(void) {
  pthread_t threads[POPENERS];
  for (int i = 0; i < POPENERS; i++)
    pthread_create(&threads[i], NULL, popener, NULL);
  usleep(20000); // let the popeners get going

  printf("ground-truth: expect=deadlock call=popen lock=0 owner_tid=-1\n");
  fflush(stdout);
  pid_t pids[CHILDREN];
  struct timespec forked_at[CHILDREN];
  int forked = 0;
  for (; forked < CHILDREN; forked++) {
    clock_gettime(CLOCK_MONOTONIC, &forked_at[forked]);
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      break;
    }
    if (pid == 0) {
      alarm(5); // natively a child that hangs ends here
      child_popens();
      _exit(0);
    }
    pids[forked] = pid;
    usleep(5000);
  }
  atomic_store(&stop, 1);

  int clean = 0, other = 0;
  for (int i = 0; i < forked; i++) {
    int status;
    while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      clean++;
      continue;
    }
    other++;
    long ms = ms_since(&forked_at[i]);
    if (WIFSIGNALED(status))
      printf("child %d killed by signal %d (%s) after %ld ms\n", (int)pids[i], WTERMSIG(status),
             strsignal(WTERMSIG(status)), ms);
    else
      printf("child %d exited with status %d after %ld ms\n", (int)pids[i], WEXITSTATUS(status), ms);
  }
  printf("%d children: %d exited 0, %d did not\n", forked, clean, other);
  for (int i = 0; i < POPENERS; i++)
    pthread_join(threads[i], NULL);
  return 0;
}
