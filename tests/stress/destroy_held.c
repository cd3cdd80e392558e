// A mutex destroyed while held (undefined behaviour; the shim must not crash). argv[1] selects:
//   unmapped (expect: deadlock on `journal_lock`) a worker takes `page_lock` (in its own mmap'd page) and then
//            `journal_lock`; the main thread calls pthread_mutex_destroy on `page_lock` (glibc: EBUSY), and on
//            a held robust mutex in the same page (glibc: 0, it does not look), then munmaps the page, which the
//            worker's held locks still point into. It forks; the child locks `journal_lock`, whose owner
//            vanished: the report must name it and must not read the unmapped page. Natively the child never
//            returns (alarm()).
//   reused   (expect: no deadlock) the same, but a new page is mapped at the same address and a fresh mutex is
//            initialised there before the fork; the child locks that fresh (free) mutex: it returns at once,
//            the child exits 0. (A possible-deadlock prediction is acceptable: a vanished thread took a lock at
//            that address.)
#include "stress_common.h"

static unsigned hang_seconds; // alarm() ends a child that would hang natively (STRESS_HANG_SECONDS)

#include <sys/mman.h>

static pthread_mutex_t journal_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t *page_lock, *page_robust;
static pthread_barrier_t holding;
static stress_park_t park;
static pid_t worker_tid;

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "journal-owner");
  pthread_mutex_lock(page_lock);
  pthread_mutex_lock(page_robust);
  pthread_mutex_lock(&journal_lock);
  worker_tid = stress_tid();
  pthread_barrier_wait(&holding);
  stress_park(&park);
  pthread_mutex_unlock(&journal_lock);
  return NULL; // page_lock and page_robust are gone: not unlocked
}

__attribute__((noinline)) static void child_locks(pthread_mutex_t *m) {
  pthread_mutex_lock(m);
  pthread_mutex_unlock(m);
}

int main(int argc, char **argv) {
  hang_seconds = stress_hang_seconds();
  const char *mode = argc > 1 ? argv[1] : "unmapped";
  int reuse = strcmp(mode, "reused") == 0;
  if (!reuse && strcmp(mode, "unmapped") != 0) {
    fprintf(stderr, "usage: %s unmapped|reused\n", argv[0]);
    return 2;
  }
  long page_size = sysconf(_SC_PAGESIZE);
  void *page = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  page_lock = (pthread_mutex_t *)page;
  page_robust = page_lock + 1;
  pthread_mutex_init(page_lock, NULL);
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(page_robust, &attr);

  stress_park_init(&park);
  pthread_barrier_init(&holding, NULL, 2);
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  pthread_barrier_wait(&holding);

  int destroy_normal = pthread_mutex_destroy(page_lock);
  int destroy_robust = pthread_mutex_destroy(page_robust);
  munmap(page, (size_t)page_size);
  pthread_mutex_t *target = &journal_lock;
  if (reuse) {
    void *again = mmap(page, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (again != page) {
      perror("mmap at the same address");
      return 1;
    }
    target = (pthread_mutex_t *)again;
    pthread_mutex_init(target, NULL);
  }
  printf("outcome: pthread_mutex_destroy of the held mutex returned %s, of the held robust mutex %s\n",
         destroy_normal ? strerror(destroy_normal) : "0", destroy_robust ? strerror(destroy_robust) : "0");
  if (reuse)
    printf("ground-truth: expect=none lock=%p\n", (void *)target);
  else
    printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)target, (int)worker_tid);
  fflush(stdout);

  pid_t pid = fork();
  if (pid == 0) {
    alarm(hang_seconds); // unmapped: natively the lock below never returns
    child_locks(target);
    _exit(0);
  }
  int status = stress_wait(pid);
  stress_describe("child", pid, status);
  stress_unpark(&park);
  pthread_join(t, NULL);
  return !reuse || stress_clean_exit(status) ? 0 : 1;
}
