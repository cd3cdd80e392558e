// Expect: possible-deadlock — a logger thread takes its lock for every message; the child of a fork logs too.
//
// `log_lock` is held by the logger only while it formats a line (a tiny fraction of the time), so natively the
// child hangs only when the fork happens to land inside that window: the flaky CI job. forkhazard reports the
// race on every run: the child takes a lock that a thread which vanished at fork used.
//
//   logger_race            the hazard: possible-deadlock on log_lock, naming the "logger" thread
//   logger_race atfork     correct: pthread_atfork holds log_lock across fork (prepare/parent/child)
//   logger_race reinit     correct: the child re-initialises log_lock before using it
//   logger_race forker     correct: only the forking thread ever takes log_lock (the logger uses its own)
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t other_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *last_what; // the "log": what and number of the last message
static int last_n;
static atomic_int stop;
static atomic_int logged;
static pid_t logger_tid;

__attribute__((noinline)) static void log_message(pthread_mutex_t *lock, const char *what, int n) {
  pthread_mutex_lock(lock);
  last_what = what;
  last_n = n;
  pthread_mutex_unlock(lock);
}

static void *logger(void *arg) {
  pthread_mutex_t *lock = arg;
  pthread_setname_np(pthread_self(), "logger");
  logger_tid = (pid_t)syscall(SYS_gettid);
  for (int n = 0; !atomic_load(&stop); n++) {
    log_message(lock, "tick", n);
    atomic_store(&logged, 1);
    usleep(1000);
  }
  return NULL;
}

static void prepare(void) { pthread_mutex_lock(&log_lock); }
static void release(void) { pthread_mutex_unlock(&log_lock); }

__attribute__((noinline)) static void child_logs(int reinit) {
  if (reinit) pthread_mutex_init(&log_lock, NULL);
  log_message(&log_lock, "child", 0); // the culprit, unless protected
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "plain";
  int atfork = strcmp(mode, "atfork") == 0, reinit = strcmp(mode, "reinit") == 0;
  int forker_only = strcmp(mode, "forker") == 0;
  if (atfork) pthread_atfork(prepare, release, release);
  pthread_t thread;
  pthread_create(&thread, NULL, logger, forker_only ? &other_lock : &log_lock);
  while (!atomic_load(&logged)) usleep(100);
  log_message(&log_lock, "main", 0);

  if (atfork || reinit || forker_only)
    printf("ground-truth: expect=none\n");
  else
    printf("ground-truth: expect=possible-deadlock call=pthread_mutex_lock lock=%p owner_tid=%d\n", (void *)&log_lock,
           (int)logger_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20); // natively: only if the fork landed while the logger held log_lock
    child_logs(reinit);
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  atomic_store(&stop, 1);
  pthread_join(thread, NULL);
  return 0;
}
