// Lock calls that libc refuses (EDEADLK, ENOTRECOVERABLE), then a fork. A refused call takes nothing: it must
// not change where a lock was taken, who took it, or who used it (regressions of the review's reproducers,
// fixed in ecff115). argv[1] selects:
//   mutex-edeadlk  (expect: deadlock) a thread takes an errorcheck mutex in take_it(), then checks it holds it by
//                  relocking in check_held() (EDEADLK); the child locks it. The owner's acquisition site is
//                  take_it, never check_held.
//   notrecoverable (expect: no report) a private robust mutex made unrecoverable (its owner died, the next
//                  locker unlocked it without pthread_mutex_consistent); a thread's lock is refused with
//                  ENOTRECOVERABLE and it is alive at the fork; the child's lock is refused too (it cannot hang,
//                  natively or not): the thread was never a user of the mutex, no possible deadlock. Repeated
//                  STRESS_SCALE times.
//   rw-drop        (expect: deadlock) the "read-lock unless I write-hold it" idiom: a writer takes the rwlock in
//                  writer_takes(), its rdlock in read_unless_writing() answers EDEADLK, it drops the write hold;
//                  then a reader takes a read hold in reader_takes() and keeps it at the fork; the child's wrlock
//                  never returns. The one who took it for reading is the reader, never the writer.
//   rw-hold        (expect: deadlock) the same writer keeps its write hold at the fork; the child's wrlock never
//                  returns. The write hold was taken in writer_takes.
// Deadlock children hang natively: alarm() (STRESS_HANG_SECONDS) ends them.
#include "stress_common.h"

static unsigned hang_seconds; // alarm() ends a child that would hang natively (STRESS_HANG_SECONDS)

static pthread_mutex_t errcheck;
static pthread_mutex_t unrecoverable;
static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t ready;
static stress_park_t park;
static pid_t owner_tid;
static int refused; // the refused call's errno value, as the thread saw it

static const char *name_of(int rc) {
  switch (rc) {
  case 0: return "0";
  case EDEADLK: return "EDEADLK";
  case EOWNERDEAD: return "EOWNERDEAD";
  case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
  default: return "other";
  }
}

// ---- mutex-edeadlk ----------------------------------------------------------------------------------------------

__attribute__((noinline)) static void take_it(void) { pthread_mutex_lock(&errcheck); }

__attribute__((noinline)) static void check_held(void) { refused = pthread_mutex_lock(&errcheck); } // EDEADLK: held

static void *errcheck_owner(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "errcheck-owner");
  take_it();
  check_held();
  owner_tid = stress_tid();
  pthread_barrier_wait(&ready);
  stress_park(&park);
  pthread_mutex_unlock(&errcheck);
  return NULL;
}

__attribute__((noinline)) static void child_locks_errcheck(void) {
  pthread_mutex_lock(&errcheck); // held by a thread that vanished: never returns
  pthread_mutex_unlock(&errcheck);
}

// ---- notrecoverable ----------------------------------------------------------------------------------------------

static void *dies_holding(void *arg) {
  (void)arg;
  pthread_mutex_lock(&unrecoverable);
  return NULL; // exits holding it: the kernel marks it FUTEX_OWNER_DIED
}

static void *refused_user(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "refused-user");
  refused = pthread_mutex_lock(&unrecoverable); // ENOTRECOVERABLE: takes nothing
  if (refused == 0 || refused == EOWNERDEAD)
    pthread_mutex_unlock(&unrecoverable);
  pthread_barrier_wait(&ready);
  stress_park(&park);
  return NULL;
}

// ---- rw-drop, rw-hold ---------------------------------------------------------------------------------------------

static int keep_write_hold;
static pthread_barrier_t writer_done;

__attribute__((noinline)) static void writer_takes(void) { pthread_rwlock_wrlock(&table_lock); }

__attribute__((noinline)) static void read_unless_writing(void) {
  refused = pthread_rwlock_rdlock(&table_lock); // EDEADLK: this thread write-holds it
  if (refused == 0)
    pthread_rwlock_unlock(&table_lock);
}

static void *rw_writer(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "rw-writer");
  writer_takes();
  read_unless_writing();
  if (!keep_write_hold)
    pthread_rwlock_unlock(&table_lock);
  else
    owner_tid = stress_tid();
  pthread_barrier_wait(&writer_done);
  pthread_barrier_wait(&ready);
  stress_park(&park);
  if (keep_write_hold)
    pthread_rwlock_unlock(&table_lock);
  return NULL;
}

__attribute__((noinline)) static void reader_takes(void) { pthread_rwlock_rdlock(&table_lock); }

static void *rw_reader(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "rw-reader");
  reader_takes();
  owner_tid = stress_tid();
  pthread_barrier_wait(&ready);
  stress_park(&park);
  pthread_rwlock_unlock(&table_lock);
  return NULL;
}

__attribute__((noinline)) static void child_writes_table(void) {
  pthread_rwlock_wrlock(&table_lock); // held by a vanished thread: never returns
  pthread_rwlock_unlock(&table_lock);
}

// ---- main ---------------------------------------------------------------------------------------------------------

// Forks; the child runs `child` (after alarm()) and exits 0; the parent says how it ended.
static void fork_and_wait(void (*child)(void)) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(hang_seconds);
    child();
    _exit(0);
  }
  stress_describe("child", pid, stress_wait(pid));
}

static int mutex_edeadlk(void) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&errcheck, &attr);
  pthread_mutexattr_destroy(&attr);
  pthread_barrier_init(&ready, NULL, 2);
  pthread_t t;
  pthread_create(&t, NULL, errcheck_owner, NULL);
  pthread_barrier_wait(&ready);
  printf("outcome: the owner's relock in check_held returned %s\n", name_of(refused));
  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&errcheck, (int)owner_tid);
  fflush(stdout);
  fork_and_wait(child_locks_errcheck);
  stress_unpark(&park);
  pthread_join(t, NULL);
  return refused == EDEADLK ? 0 : 1;
}

static int notrecoverable(void) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&unrecoverable, &attr);
  pthread_mutexattr_destroy(&attr);
  pthread_t d;
  pthread_create(&d, NULL, dies_holding, NULL);
  pthread_join(d, NULL);
  int rc = pthread_mutex_lock(&unrecoverable);
  if (rc == 0 || rc == EOWNERDEAD)
    pthread_mutex_unlock(&unrecoverable); // not made consistent: unrecoverable from now on
  printf("ground-truth: expect=none lock=%p\n", (void *)&unrecoverable);
  fflush(stdout);
  int rounds = stress_scale(), refusals = 0, clean = 0;
  for (int i = 0; i < rounds; i++) {
    stress_park_init(&park);
    pthread_barrier_init(&ready, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, refused_user, NULL);
    pthread_barrier_wait(&ready);
    refusals += refused == ENOTRECOVERABLE;
    pid_t pid = fork();
    if (pid == 0) {
      alarm(hang_seconds);
      int child_rc = pthread_mutex_lock(&unrecoverable);
      if (child_rc == ENOTRECOVERABLE)
        _exit(0);
      char line[96] = "outcome: child's pthread_mutex_lock returned ";
      strcat(line, name_of(child_rc));
      strcat(line, "\n");
      stress_say(line);
      _exit(1);
    }
    int status = stress_wait(pid);
    if (stress_clean_exit(status))
      clean++;
    else
      stress_describe("child", pid, status);
    stress_unpark(&park);
    pthread_join(t, NULL);
    close(park.fds[0]);
    pthread_barrier_destroy(&ready);
  }
  printf("outcome: the first lock after the owner's death returned %s; %d of %d workers' locks returned "
         "ENOTRECOVERABLE; %d of %d children's locks returned it, exit 0\n",
         name_of(rc), refusals, rounds, clean, rounds);
  return rc == EOWNERDEAD && refusals == rounds && clean == rounds ? 0 : 1;
}

static int rwlock_refused(int hold) {
  keep_write_hold = hold;
  pthread_barrier_init(&writer_done, NULL, 2);
  pthread_barrier_init(&ready, NULL, hold ? 2 : 3);
  pthread_t w, r;
  pthread_create(&w, NULL, rw_writer, NULL);
  pthread_barrier_wait(&writer_done); // the writer's rdlock was refused (and, in rw-drop, it let go)
  if (!hold)
    pthread_create(&r, NULL, rw_reader, NULL);
  pthread_barrier_wait(&ready);
  printf("outcome: the writer's rdlock in read_unless_writing returned %s\n", name_of(refused));
  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&table_lock, (int)owner_tid);
  fflush(stdout);
  fork_and_wait(child_writes_table);
  stress_unpark(&park);
  pthread_join(w, NULL);
  if (!hold)
    pthread_join(r, NULL);
  return refused == EDEADLK ? 0 : 1;
}

int main(int argc, char **argv) {
  hang_seconds = stress_hang_seconds();
  const char *mode = argc > 1 ? argv[1] : "mutex-edeadlk";
  if (strcmp(mode, "notrecoverable") == 0)
    return notrecoverable(); // parks its own workers, one a round
  stress_park_init(&park);
  if (strcmp(mode, "mutex-edeadlk") == 0)
    return mutex_edeadlk();
  if (strcmp(mode, "rw-drop") == 0)
    return rwlock_refused(0);
  if (strcmp(mode, "rw-hold") == 0)
    return rwlock_refused(1);
  fprintf(stderr, "usage: %s mutex-edeadlk|notrecoverable|rw-drop|rw-hold\n", argv[0]);
  return 2;
}
