// Expect: no report — a single-threaded program forks a helper that waits until its parent ends it.
//
//   single_threaded_helper sem|cond
//
// The program never starts a thread. Its helper child parks in sem_wait on a semaphore at 0 (sem) or in
// pthread_cond_wait on a condition nobody signals (cond), with no signal handler, until the parent, having seen
// it blocked (/proc/PID/syscall shows the futex wait), sends SIGTERM. Natively the helper dies of SIGTERM and
// the program exits 0. No thread vanished at this fork: there is no fork hazard, whatever the helper waits for.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static sem_t parked;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

__attribute__((noinline)) static void helper_parks(int use_sem) {
  if (use_sem) {
    while (sem_wait(&parked) != 0 && errno == EINTR) {
    }
  } else {
    pthread_mutex_lock(&m);
    for (;;) pthread_cond_wait(&never, &m);
  }
}

// Whether `pid` is blocked in futex(2) (its syscall number is the first word of /proc/PID/syscall).
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
  const char *mode = argc > 1 ? argv[1] : "sem";
  int use_sem = strcmp(mode, "sem") == 0;
  if (!use_sem && strcmp(mode, "cond") != 0) {
    fprintf(stderr, "usage: %s sem|cond\n", argv[0]);
    return 2;
  }
  sem_init(&parked, 0, 0);
  printf("ground-truth: expect=none mode=%s\n", mode);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(30);  // a last resort only: the parent ends the helper
    helper_parks(use_sem);
    _exit(3);
  }
  while (!blocked_in_futex(pid)) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {  // it ended on its own: report how
      printf("child %d ended before its parent ended it (status 0x%x)\n", (int)pid, status);
      return 1;
    }
    usleep(1000);
  }
  kill(pid, SIGTERM);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? 0 : 1;
}
