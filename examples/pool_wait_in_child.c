// Expect: deadlock — the child hands a job to the thread pool it inherited and waits for the answer.
//
// Two pool workers wait on `job_ready`; the main thread forks. In the child the workers vanished, so nobody will
// ever take the job and signal `job_done`: child_runs_job()'s pthread_cond_wait never returns (nothing left in
// a single-threaded process can signal a private condvar: pthread_cond_signal is not async-signal-safe). Under
// forkhazard the wait is reported before it blocks (lock type condvar) and the child ends with 66. Taking
// `pool_lock`, which the vanished workers used, is no possible deadlock: they were parked on `job_ready`, which
// nothing had ever signalled, so no fork of this flow can catch them holding it. Natively alarm(20) ends the child
// with SIGALRM.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WORKERS = 2 };

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t job_done = PTHREAD_COND_INITIALIZER;
static int jobs, results, idle, stopping;

static void *pool_worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "pool-worker");
  pthread_mutex_lock(&pool_lock);
  for (;;) {
    idle++;
    while (jobs == 0 && !stopping) pthread_cond_wait(&job_ready, &pool_lock);
    idle--;
    if (stopping) break;
    jobs--;
    results++;
    pthread_cond_broadcast(&job_done);
  }
  pthread_mutex_unlock(&pool_lock);
  return NULL;
}

__attribute__((noinline)) static int child_runs_job(void) {
  pthread_mutex_lock(&pool_lock);
  int want = results + 1;
  jobs++;
  pthread_cond_signal(&job_ready);
  while (results < want) pthread_cond_wait(&job_done, &pool_lock); // the pool vanished: never returns
  pthread_mutex_unlock(&pool_lock);
  return 0;
}

int main(void) {
  pthread_t threads[WORKERS];
  for (int i = 0; i < WORKERS; i++) pthread_create(&threads[i], NULL, pool_worker, NULL);
  for (int ready = 0; !ready;) { // wait until both workers sleep on job_ready
    pthread_mutex_lock(&pool_lock);
    ready = idle == WORKERS;
    pthread_mutex_unlock(&pool_lock);
    if (!ready) usleep(1000);
  }
  printf("ground-truth: expect=deadlock call=pthread_cond_wait lock=%p\n", (void *)&job_done);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);
    _exit(child_runs_job());
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  pthread_mutex_lock(&pool_lock);
  stopping = 1;
  pthread_cond_broadcast(&job_ready);
  pthread_mutex_unlock(&pool_lock);
  for (int i = 0; i < WORKERS; i++) pthread_join(threads[i], NULL);
  return 0;
}
