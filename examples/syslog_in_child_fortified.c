// Expect: unsafe-call — syslog() (class hang-prone) in the child of a multithreaded fork, in a fortified build.
//
// Built with -O2 -D_FORTIFY_SOURCE=2, as Debian, Ubuntu and Fedora build their packages: the compiler turns the
// syslog() call in child_logs() into __syslog_chk(). Two workers are parked when the main thread forks; the
// child logs one line and ends with _exit(0). syslog takes glibc's syslog_lock, which fork() does not reset: had
// a worker been inside syslog at fork, the child would hang. Reported once, as syslog (not as the allocations
// syslog makes inside); the child goes on and exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

enum { WORKERS = 2 };

static pthread_barrier_t started; // once past it, every worker is running
static int park_pipe[2];          // the workers park reading this until the parent closes it

static void *worker(void *arg) {
  (void)arg;
  pthread_barrier_wait(&started);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

__attribute__((noinline)) static void child_logs(int attempt) {
  syslog(LOG_DEBUG, "forkhazard example: child attempt %d", attempt); // the culprit
  __asm__ volatile("" ::: "memory"); // keeps the call a call (not a tail jump), so the site is this function
}

int main(void) {
  pthread_t threads[WORKERS];
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&started, NULL, WORKERS + 1);
  for (int i = 0; i < WORKERS; i++)
    pthread_create(&threads[i], NULL, worker, NULL);
  pthread_barrier_wait(&started);

  printf("ground-truth: expect=unsafe-call call=syslog class=hang-prone\n");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);
    child_logs(1);
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  close(park_pipe[1]);
  for (int i = 0; i < WORKERS; i++)
    pthread_join(threads[i], NULL);
  return 0;
}
