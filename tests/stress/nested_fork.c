// Nested forks, three deep. argv[1] selects:
//   exec-chain  (expect: no report) every level is multithreaded: 4 threads churn locks and the allocator, the
//               level forks 10 children that call only _exit(0) and one that execs this program one level
//               deeper (exec ends the restriction); level 3 forks only _exit(0) children. Each level exits 0
//               when all its children did.
//   fork-chain  (expect: no report) level 0 is multithreaded (4 churning threads); its child forks, and so does
//               the grandchild; the great-grandchild calls _exit(0). Between forks only async-signal-safe calls.
//   deadlock    (expect: deadlock) a worker holds `ledger_lock` at the first fork; the child and the grandchild
//               only fork; the great-grandchild (three forks down) locks `ledger_lock`, whose owner vanished at
//               the first fork: it never returns. Natively alarm() ends it; under forkhazard it is reported
//               and ends with 66. Each level exits with the status of the level below (128+N for signal N).
// STRESS_SCALE multiplies the number of chains.
#include "stress_common.h"

static unsigned hang_seconds; // alarm() ends a child that would hang natively (STRESS_HANG_SECONDS)

enum { CHURNERS = 4, LEAVES = 10, DEPTH = 3 };

static pthread_mutex_t ledger_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding;
static stress_park_t park;
static pid_t holder_tid;

// The exit status a level passes up: 0, the child's exit status, or 128+N for a signal.
static int passed_up(int status) {
  if (status == -1)
    return 1;
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static int exec_chain(const char *self, int level) {
  stress_churn_start(CHURNERS, 1);
  int worst = 0;
  for (int i = 0; i < LEAVES; i++) {
    pid_t pid = fork();
    if (pid == 0)
      _exit(0);
    int status = stress_wait(pid);
    if (!stress_clean_exit(status))
      worst = passed_up(status) ? passed_up(status) : 1;
  }
  if (level < DEPTH) {
    char next[16];
    snprintf(next, sizeof next, "%d", level + 1); // before fork: the child stays async-signal-safe
    pid_t pid = fork();
    if (pid == 0) {
      execl(self, self, "exec-chain", next, (char *)NULL);
      _exit(127);
    }
    int status = stress_wait(pid);
    if (!stress_clean_exit(status))
      worst = passed_up(status);
  }
  stress_churn_stop();
  return worst;
}

// Forks `levels` more levels below the calling (restricted) process, async-signal-safe only; the bottom one
// runs `bottom`. Returns the status to pass up.
static int fork_down(int levels, void (*bottom)(void)) {
  if (levels == 0) {
    bottom();
    return 0;
  }
  pid_t pid = fork();
  if (pid < 0)
    return 1;
  if (pid == 0)
    _exit(fork_down(levels - 1, bottom));
  return passed_up(stress_wait(pid));
}

static void nothing(void) {}

__attribute__((noinline)) static void great_grandchild_locks_ledger(void) {
  alarm(hang_seconds); // natively the lock below never returns
  pthread_mutex_lock(&ledger_lock);
  pthread_mutex_unlock(&ledger_lock);
}

static void *holder(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "ledger-owner");
  pthread_mutex_lock(&ledger_lock);
  holder_tid = stress_tid();
  pthread_barrier_wait(&holding);
  stress_park(&park);
  pthread_mutex_unlock(&ledger_lock);
  return NULL;
}

int main(int argc, char **argv) {
  hang_seconds = stress_hang_seconds();
  const char *mode = argc > 1 ? argv[1] : "fork-chain";
  int level = argc > 2 ? atoi(argv[2]) : 0;
  int chains = stress_scale();

  if (strcmp(mode, "exec-chain") == 0) {
    if (level == 0) {
      printf("ground-truth: expect=none\n");
      fflush(stdout);
    }
    int worst = 0;
    for (int i = 0; i < (level == 0 ? chains : 1) && worst == 0; i++)
      worst = exec_chain(argv[0], level);
    if (level == 0)
      printf("outcome: %d exec chains of depth %d, status %d\n", chains, DEPTH, worst);
    return worst;
  }

  if (strcmp(mode, "fork-chain") == 0) {
    stress_churn_start(CHURNERS, 1);
    printf("ground-truth: expect=none\n");
    fflush(stdout);
    int worst = 0;
    for (int i = 0; i < chains * 10 && worst == 0; i++) {
      pid_t pid = fork();
      if (pid == 0)
        _exit(fork_down(DEPTH - 1, nothing));
      worst = passed_up(stress_wait(pid));
    }
    stress_churn_stop();
    printf("outcome: %d fork chains of depth %d, status %d\n", chains * 10, DEPTH, worst);
    return worst;
  }

  if (strcmp(mode, "deadlock") == 0) {
    stress_park_init(&park);
    pthread_t owner;
    stress_churn_start(CHURNERS, 1);
    pthread_barrier_init(&holding, NULL, 2);
    pthread_create(&owner, NULL, holder, NULL);
    pthread_barrier_wait(&holding);
    printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&ledger_lock, (int)holder_tid);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(2 * hang_seconds);
      _exit(fork_down(DEPTH - 1, great_grandchild_locks_ledger));
    }
    int status = stress_wait(pid);
    stress_describe("child (status of the great-grandchild)", pid, status);
    stress_unpark(&park);
    pthread_join(owner, NULL);
    stress_churn_stop();
    return 0;
  }
  fprintf(stderr, "usage: %s exec-chain|fork-chain|deadlock\n", argv[0]);
  return 2;
}
