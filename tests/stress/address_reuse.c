// Expect: no report — a correct program whose new mutex sits where an old one was. A pool thread ("pool-worker")
// uses the mutex of a heap object and then idles (alive at fork); the main thread destroys that mutex (free,
// unlocked), frees the object, allocates a new one of the same size (glibc hands back the same address) and
// initialises its mutex, which only the main thread ever takes. The child locks the new mutex: nothing but
// the forking thread ever took it, it is free, the child exits 0. 10 rounds (times STRESS_SCALE), each with a
// new pool thread.
#include "stress_common.h"

struct account {
  pthread_mutex_t lock;
  long balance;
};

static stress_park_t park;
static pthread_barrier_t used;

static void *pool_worker(void *arg) {
  struct account *old = arg;
  pthread_setname_np(pthread_self(), "pool-worker");
  for (int i = 0; i < 10; i++) {
    pthread_mutex_lock(&old->lock);
    old->balance++;
    pthread_mutex_unlock(&old->lock);
  }
  pthread_barrier_wait(&used); // done with `old`: it never touches it again
  stress_park(&park);
  return NULL;
}

__attribute__((noinline)) static void child_locks(struct account *a) {
  pthread_mutex_lock(&a->lock);
  a->balance++;
  pthread_mutex_unlock(&a->lock);
}

int main(void) {
  int rounds = 10 * stress_scale(), clean = 0, same_address = 0;
  printf("ground-truth: expect=none\n");
  fflush(stdout);
  for (int i = 0; i < rounds; i++) {
    stress_park_init(&park);
    pthread_barrier_init(&used, NULL, 2);
    struct account *old = malloc(sizeof *old);
    pthread_mutex_init(&old->lock, NULL);
    old->balance = 0;
    pthread_t t;
    pthread_create(&t, NULL, pool_worker, old);
    pthread_barrier_wait(&used);
    pthread_mutex_destroy(&old->lock);
    free(old);

    struct account *fresh = malloc(sizeof *fresh);
    same_address += fresh == old;
    pthread_mutex_init(&fresh->lock, NULL);
    fresh->balance = 0;
    child_locks(fresh); // the main thread uses it: the only thread that ever does

    pid_t pid = fork();
    if (pid == 0) {
      alarm(20);
      child_locks(fresh);
      _exit(0);
    }
    int status = stress_wait(pid);
    if (stress_clean_exit(status))
      clean++;
    else
      stress_describe("child", pid, status);
    stress_unpark(&park);
    pthread_join(t, NULL);
    close(park.fds[0]);
    pthread_barrier_destroy(&used);
    pthread_mutex_destroy(&fresh->lock);
    free(fresh);
  }
  printf("outcome: %d of %d new mutexes at the old one's address; %d of %d children locked theirs, exit 0\n",
         same_address, rounds, clean, rounds);
  return clean == rounds ? 0 : 1;
}
