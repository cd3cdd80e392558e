// Expect: no report — a forked child waits on an event that a signal handler, the clock, or nothing ends.
//
//   wait_woken_by_signal alarm|usr1|hup|int|timed|none|threaded-none [MS]
//
// MS (default 1000) scales every delay below: "a second" is MS milliseconds, "1.2 s" 1.2 MS, "alarm(2)" 2 MS.
// The event is a word and a private futex, as a small runtime would build one. The child's only thread waits on
// it with nothing else in the process to set it, which is correct here: alarm: its SIGALRM handler sets the event
// (an atomic store and FUTEX_WAKE are async-signal-safe) when alarm(1) fires; usr1: its SIGUSR1 handler sets it
// when the parent sends SIGUSR1 a second later; hup: likewise with SIGHUP (a supervisor's "reload"); int: its
// SIGINT handler, when the parent sends SIGINT a second later; timed: it waits with a 1.2 s timeout. Each child
// exits 0. The watchdog of `forkhazard run` must never judge these waits (a handler it could run may end the
// wait; a timed wait ends by itself).
// none: no handler, nothing sets the event: the wait is endless, but the program is single-threaded, so it is no
// fork hazard; natively alarm(2), with no handler, ends the child, and so it must under `forkhazard run`.
// threaded-none: the same wait in the child of a multithreaded fork (a worker parks reading a pipe). The wait is
// endless, but nothing shows it is the fork's doing (the word is the program's own, no vanished thread is known
// to use it): a note at most, never an error; alarm(2) ends the child.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int event; // 0 until set

static void set_event(int sig) {
  (void)sig;
  atomic_store(&event, 1);
  syscall(SYS_futex, &event, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

// 0 once the event is set, ETIMEDOUT after `timeout` (NULL: no timeout).
static int wait_event(const struct timespec *timeout) {
  while (atomic_load(&event) == 0) {
    if (syscall(SYS_futex, &event, FUTEX_WAIT_PRIVATE, 0, timeout, NULL, 0) != 0 && errno == ETIMEDOUT)
      return ETIMEDOUT;
  }
  return 0;
}

__attribute__((noinline)) static int child_waits_for_the_handler(void) {
  return wait_event(NULL); // returns once the handler has set the event
}

static long delay_ms = 1000;  // "a second"

// alarm() in milliseconds.
static void alarm_ms(long ms) {
  struct itimerval t = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
  setitimer(ITIMER_REAL, &t, NULL);
}

__attribute__((noinline)) static int child_waits_until_the_timeout(void) {
  long ms = delay_ms * 12 / 10;
  struct timespec timeout = {ms / 1000, (ms % 1000) * 1000 * 1000};
  return wait_event(&timeout) == ETIMEDOUT ? 0 : 1; // nobody sets it
}

static long ms_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static int park_pipe[2];

static void *parked_worker(void *arg) {
  (void)arg;
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "alarm";
  if (argc > 2) delay_ms = atol(argv[2]);
  int threaded = strcmp(mode, "threaded-none") == 0;
  int none = strcmp(mode, "none") == 0 || threaded;
  int hup = strcmp(mode, "hup") == 0, interrupt = strcmp(mode, "int") == 0;
  if (strcmp(mode, "alarm") != 0 && strcmp(mode, "usr1") != 0 && strcmp(mode, "timed") != 0 && !none && !hup &&
      !interrupt) {
    fprintf(stderr, "usage: %s alarm|usr1|hup|int|timed|none|threaded-none [MS]\n", argv[0]);
    return 2;
  }
  pthread_t worker;
  if (threaded && (pipe(park_pipe) != 0 || pthread_create(&worker, NULL, parked_worker, NULL) != 0)) {
    perror("worker");
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = set_event;
  sigemptyset(&sa.sa_mask);
  int sig = strcmp(mode, "usr1") == 0 ? SIGUSR1 : hup ? SIGHUP : interrupt ? SIGINT : SIGALRM;
  if (!none)
    sigaction(sig, &sa, NULL);

  printf("ground-truth: expect=none lock=%p mode=%s\n", (void *)&event, mode);
  fflush(stdout);
  struct timespec forked;
  clock_gettime(CLOCK_MONOTONIC, &forked);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    if (strcmp(mode, "timed") == 0)
      _exit(child_waits_until_the_timeout());
    if (strcmp(mode, "alarm") == 0)
      alarm_ms(delay_ms);
    if (none)
      alarm_ms(2 * delay_ms); // no handler: natively SIGALRM ends the wait that nothing else can

    _exit(child_waits_for_the_handler());
  }
  if (strcmp(mode, "usr1") == 0 || hup || interrupt) {
    usleep((useconds_t)(delay_ms * 1000));
    kill(pid, sig);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s) after %ld ms\n", (int)pid, WTERMSIG(status),
           strsignal(WTERMSIG(status)), ms_since(&forked));
  else
    printf("child %d exited with status %d after %ld ms\n", (int)pid, WEXITSTATUS(status), ms_since(&forked));
  if (threaded) {
    close(park_pipe[1]);
    pthread_join(worker, NULL);
  }
  return 0;
}
