// Expect: no error — a forked child waits for good on its own new object, by design, until its parent ends it.
//
//   own_wait_child cond|sem [single|threaded] [MS]
//
// MS (default 1000): how long the parent sees the child blocked before it ends it (a watchdog's chance to look).
// A worker thread parks reading a pipe (it touches no lock); with `single` there is no worker, the program stays
// single-threaded. main forks a child that makes a brand-new condition variable (cond) or semaphore (sem) and
// waits on it with no timeout and no handler: it is meant to wait until its parent ends it, as a process pool's
// idle member or a helper does. The parent, having seen it blocked (/proc/PID/syscall) long enough for a watchdog
// to look, sends SIGTERM. Natively the child dies of SIGTERM and the program exits 0. The wait can never end by
// itself, but it is no fork hazard: after a multithreaded fork nothing a vanished thread held, used or waited on
// is in it (at most a note), and after a single-threaded fork nothing vanished at all. Never an error, never ended.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int park_pipe[2];

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "parked");
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

__attribute__((noinline)) static void child_waits_on_its_own(int use_sem) {
  if (use_sem) {
    sem_t mine;
    sem_init(&mine, 0, 0);
    while (sem_wait(&mine) != 0 && errno == EINTR) {
    }
  } else {
    pthread_mutex_t m;
    pthread_cond_t c;
    pthread_mutex_init(&m, NULL);
    pthread_cond_init(&c, NULL);
    pthread_mutex_lock(&m);
    for (;;) pthread_cond_wait(&c, &m);
  }
}

static int blocked_in_futex(pid_t pid) {
  char path[64], text[256];
  snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  long nr = -1;
  return sscanf(text, "%ld", &nr) == 1 && nr == SYS_futex;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "cond";
  int use_sem = strcmp(mode, "sem") == 0;
  int single = argc > 2 && strcmp(argv[2], "single") == 0;
  long window_ms = argc > 3 ? atol(argv[3]) : 1000;
  if ((!use_sem && strcmp(mode, "cond") != 0) || (argc > 2 && !single && strcmp(argv[2], "threaded") != 0)) {
    fprintf(stderr, "usage: %s cond|sem [single|threaded] [MS]\n", argv[0]);
    return 2;
  }
  printf("ground-truth: expect=none mode=%s%s\n", mode, single ? " single" : "");
  fflush(stdout);
  if (pipe(park_pipe) != 0) return 1;
  pthread_t t;
  if (!single) pthread_create(&t, NULL, worker, NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(30);  // a last resort only: the parent ends the child
    child_waits_on_its_own(use_sem);
    _exit(3);
  }
  // Blocked in the wait, and still there a few polls of the watchdog later (200 ms apart): it had its chance to
  // judge the wait, and must have left it alone.
  int seen = 0;
  while (seen < window_ms / 10) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      printf("child %d ended before its parent ended it (status 0x%x)\n", (int)pid, status);
      return 1;
    }
    seen = blocked_in_futex(pid) ? seen + 1 : 0;
    usleep(10000);
  }
  kill(pid, SIGTERM);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  close(park_pipe[1]);
  if (!single) pthread_join(t, NULL);
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? 0 : 1;
}
