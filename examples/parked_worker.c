// Expect: no warning — a worker parked at the fork on a condvar nothing ever signalled cannot hold its locks at
// any fork of this program's flow; the child takes them (predictions on them would be false).
//
//   parked_worker [plain|handshake|signalled]
//
// plain: the worker waits in pthread_cond_wait(&wake, &queue_lock); main forks only after seeing it parked (it
// takes queue_lock, which the worker's wait released); the child locks queue_lock and exits 0. The worker can take
// queue_lock again only when `wake` is signalled, which the program does only after the fork: no report.
// handshake: the worker first takes a recursive mutex three times and releases it, then opens a gate main waits
// on, then parks on a second condvar nobody signals before the fork; the child locks the recursive mutex: no
// report (the hold is ordered before the fork, and the worker cannot take it again).
// signalled: as plain, but main hands the worker one job first (signals `wake`): the worker wakes, takes
// queue_lock, and parks again. A wait the program signals in its normal flow is no evidence: had the fork come
// while the worker handled a job, the child's lock would hang: a possible deadlock (warning), as for logger_race.
// Every child exits 0, natively and under forkhazard.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int parked, jobs, stop;

static pthread_mutex_t state_lock; // recursive (handshake)
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate = PTHREAD_COND_INITIALIZER;   // opened by the worker
static pthread_cond_t later = PTHREAD_COND_INITIALIZER;  // signalled only after the fork
static int gate_open, go_on;

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "parked-worker");
  pthread_mutex_lock(&queue_lock);
  for (;;) {
    while (jobs == 0 && !stop) {
      parked = 1;
      pthread_cond_wait(&wake, &queue_lock);
    }
    if (stop)
      break;
    jobs--; // handle the job under the lock
  }
  pthread_mutex_unlock(&queue_lock);
  return NULL;
}

static void *handshaker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "handshaker");
  for (int i = 0; i < 3; i++)
    pthread_mutex_lock(&state_lock);
  for (int i = 0; i < 3; i++)
    pthread_mutex_unlock(&state_lock);
  pthread_mutex_lock(&gate_lock);
  gate_open = 1;
  pthread_cond_signal(&gate);
  while (!go_on)
    pthread_cond_wait(&later, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  return NULL;
}

static void wait_parked(void) {
  for (;;) {
    pthread_mutex_lock(&queue_lock); // succeeds only while the worker's wait has released it
    int p = parked && jobs == 0;
    pthread_mutex_unlock(&queue_lock);
    if (p)
      return;
    usleep(1000);
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "plain";
  int handshake = strcmp(mode, "handshake") == 0, signalled = strcmp(mode, "signalled") == 0;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&state_lock, &attr);
  pthread_t thread;
  if (handshake) {
    pthread_create(&thread, NULL, handshaker, NULL);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
      pthread_cond_wait(&gate, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    usleep(20000); // the handshaker parks on `later`
  } else {
    pthread_create(&thread, NULL, worker, NULL);
    wait_parked();
    if (signalled) {
      pthread_mutex_lock(&queue_lock);
      parked = 0;
      jobs = 1;
      pthread_cond_signal(&wake);
      pthread_mutex_unlock(&queue_lock);
      wait_parked();
    }
  }
  printf("ground-truth: expect=%s\n", signalled ? "possible-deadlock" : "none");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    pthread_mutex_t *lock = handshake ? &state_lock : &queue_lock;
    pthread_mutex_lock(lock);
    pthread_mutex_unlock(lock);
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d\n", (int)pid, WTERMSIG(status));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  if (handshake) {
    pthread_mutex_lock(&gate_lock);
    go_on = 1;
    pthread_cond_signal(&later);
    pthread_mutex_unlock(&gate_lock);
  } else {
    pthread_mutex_lock(&queue_lock);
    stop = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&queue_lock);
  }
  pthread_join(thread, NULL);
  return 0;
}
