// Unit tests of the forked child's policy (shim/policy.h) and the wait rule it shares with the watchdog
// (shim/wait_rule.h), linked directly: no LD_PRELOAD. Each rule is checked in a real forked child, where the
// core's records of a worker thread are the frozen copies the policy reads.
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "shim/core.h"
#include "shim/glibc_facts.h"
#include "shim/options.h"
#include "shim/policy.h"
#include "shim/unsafe.h"
#include "shim/wait_rule.h"

using namespace fh;
using namespace fh::shim;


// In a forked child: whether a check failed, saying which on stderr (the child's exit status only counts them).
#define FAILED_IF(bad) failed_at(__FILE__, __LINE__, static_cast<bool>(bad))
inline int failed_at(const char* file, int line, bool bad) {
  if (bad) std::fprintf(stderr, "%s:%d: check failed in the forked child\n", file, line);
  return bad ? 1 : 0;
}

namespace {

void init_policy() {
  core::init();
  options_set_defaults(&g_options);
}

// Runs `check` in a forked child; its exit status is the number of failed checks.
void in_child(int (*check)()) {
  pid_t pid = fork();
  if (pid == 0) {
    core::fork_child();
    _exit(check());
  }
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status), "the child did not exit (status %#x)", status);
  cr_assert_eq(WEXITSTATUS(status), 0, "%d checks failed in the child", WEXITSTATUS(status));
}

void on_signal(int) {}

// A worker that registers itself, does `setup` (on its own slot), then parks for good; the fork of in_child
// freezes it there and the child sees it vanished.
pthread_barrier_t g_ready;
int g_worker_tid;
void (*g_setup)();

void* worker(void* p) {
  core::thread_started(static_cast<ThreadSlot*>(p));
  core::set_name(core::current_slot(), "worker");
  g_worker_tid = tls.tid;
  g_setup();
  pthread_barrier_wait(&g_ready);
  pause();
  return nullptr;
}

void start_worker(void (*setup)()) {
  g_setup = setup;
  pthread_barrier_init(&g_ready, nullptr, 2);
  ThreadSlot* s = core::claim_slot();
  pthread_t t;
  pthread_create(&t, nullptr, worker, s);
  pthread_barrier_wait(&g_ready);
  core::fork_prepare();
}

sem_t g_sem;
sem_t g_posted_sem;

}  // namespace

TestSuite(policy, .init = init_policy);

Test(policy, wait_rule) {
  cr_assert(what_may_end_wait(0) == WaitEnd::never);
  cr_assert(what_may_end_wait(glibc_internal_signals) == WaitEnd::never, "glibc's own handlers post nothing");
  // CPython's SIGINT handler: any process may send SIGINT, and the wait may end by it: reported, never ended.
  cr_assert(what_may_end_wait(signal_bit(SIGINT) | glibc_internal_signals) == WaitEnd::interrupt);
  // A supervisor's kill(SIGHUP) to a child waiting for its handler to post was judged endless (a false deadlock
  // that ended a correct program, when the terminal's signals were thought to come only from a person).
  for (int sig : {SIGHUP, SIGQUIT, SIGWINCH, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGTERM, SIGALRM, SIGCHLD, 36})
    cr_assert(what_may_end_wait(signal_bit(sig)) == WaitEnd::handler, "a handler for signal %d may post", sig);
  cr_assert(what_may_end_wait(signal_bit(SIGINT) | signal_bit(SIGHUP)) == WaitEnd::handler);
}

Test(policy, caught_signals_reads_the_dispositions) {
  uint64_t before = core::caught_signals();
  cr_assert_eq(before & signal_bit(SIGUSR2), 0u);
  signal(SIGUSR2, on_signal);
  cr_assert_neq(core::caught_signals() & signal_bit(SIGUSR2), 0u);
  signal(SIGUSR2, SIG_IGN);
  cr_assert_eq(core::caught_signals() & signal_bit(SIGUSR2), 0u, "an ignored signal runs no handler");
}

// An untimed wait on a private semaphore at 0, one thread, no handler that could post: certain. Any of the
// four facts missing: never judged.
Test(policy, semaphore_verdict_reads_the_semaphore_threads_and_handlers) {
  in_child([]() {
    int failed = 0;
    failed += FAILED_IF(core::kernel_thread_count() != 1);  // the forked child has one thread
    sem_t zero, one, shared;
    sem_init(&zero, 0, 0);
    sem_init(&one, 0, 1);
    sem_init(&shared, 1, 0);
    bool interrupt_only = true;
    // The child of a single-threaded fork has no fork hazard: nothing is judged there.
    failed += FAILED_IF(g_process.restricted);
    failed += FAILED_IF(core::semaphore_blocks_forever(&zero, &interrupt_only));
    g_process.restricted = true;  // as in the child of a multithreaded fork
    failed += FAILED_IF(!core::semaphore_blocks_forever(&zero, &interrupt_only) || interrupt_only);
    g_process.vm_peers = 1;  // a clone(CLONE_VM) peer could post it
    failed += FAILED_IF(core::semaphore_blocks_forever(&zero, &interrupt_only));
    g_process.vm_peers = 0;
    failed += FAILED_IF(core::semaphore_blocks_forever(&one, &interrupt_only));
    failed += FAILED_IF(core::semaphore_blocks_forever(&shared, &interrupt_only));  // another process may post it
    signal(SIGINT, on_signal);
    // endless unless a SIGINT comes: reported, never acted on
    failed += FAILED_IF(!core::semaphore_blocks_forever(&zero, &interrupt_only) || !interrupt_only);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, on_signal);
    failed += FAILED_IF(core::semaphore_blocks_forever(&zero, &interrupt_only));  // a supervisor's SIGHUP handler may post it
    signal(SIGHUP, SIG_DFL);
    signal(SIGUSR1, on_signal);
    failed += FAILED_IF(core::semaphore_blocks_forever(&zero, &interrupt_only));  // a peer's SIGUSR1 handler may post it
    return failed;
  });
}

Test(policy, semaphore_not_judged_while_another_thread_lives) {
  start_worker([]() {});
  sem_init(&g_sem, 0, 0);
  bool interrupt_only;
  cr_assert_not(core::semaphore_blocks_forever(&g_sem, &interrupt_only), "the worker could post it");
}

// The semaphore a vanished thread took and had not posted back is the explanation; one it posted back is not.
Test(policy, semaphore_taker_explains) {
  sem_init(&g_sem, 0, 1);
  sem_init(&g_posted_sem, 0, 1);
  start_worker([]() {
    core::sem_taken(core::current_slot(), &g_sem, 0x7777);
    core::sem_taken(core::current_slot(), &g_posted_sem, 0x8888);
    core::sem_posted(&g_posted_sem);
  });
  in_child([]() {
    int failed = 0;
    const ThreadSlot* taker = core::vanished_took_semaphore(&g_sem);
    failed += FAILED_IF(taker == nullptr || taker->tid != g_worker_tid);
    const SemTake* take = taker != nullptr ? core::find_sem_take(taker, &g_sem) : nullptr;
    failed += FAILED_IF(take == nullptr || take->pc != 0x7777);
    failed += FAILED_IF(core::vanished_took_semaphore(&g_posted_sem) != nullptr);
    return failed;
  });
}

// A producer posts, a consumer waits: the consumer's takes never fill anything (the held stack stays empty)
// and stay one remembered entry.
Test(policy, semaphore_signals_do_not_fill_the_held_stack) {
  ThreadSlot* s = core::current_slot();
  sem_init(&g_sem, 0, 0);
  for (int i = 0; i < 1000; i++) core::sem_taken(s, &g_sem, 0x10);
  cr_assert_eq(s->nheld, 0u);
  cr_assert_eq(s->held_dropped, 0u);
  cr_assert_not_null(core::find_sem_take(s, &g_sem));
}

// A vanished thread inside a call of the env family at fork explains the child's setenv; it is no verdict: the
// call is reported as an unsafe call, the process goes on (on_deadlock=exit would have ended it).
Test(policy, family_in_flight_explains_never_decides) {
  start_worker([]() { core::current_slot()->inside[static_cast<size_t>(Family::env)]++; });
  static char log_base[64];
  std::snprintf(log_base, sizeof log_base, "/tmp/fh-policy-test.%d", getpid());
  std::snprintf(g_options.log_path, sizeof g_options.log_path, "%s", log_base);
  in_child([]() {
    policy::unsafe_call(call_setenv, 0x4242);
    return 0;  // reached: not ended
  });
  // The child wrote <log_base>.<child pid>: find it.
  std::string text;
  for (int pid = getpid() + 1; pid < getpid() + 4096 && text.empty(); pid++) {
    std::string path = std::string(log_base) + "." + std::to_string(pid);
    std::ifstream in(path);
    if (!in) continue;
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    unlink(path.c_str());
  }
  cr_assert(text.find("hazard kind=unsafe-call call=setenv") != std::string::npos, "report:\n%s", text.c_str());
  cr_assert(text.find("owner tid=" + std::to_string(g_worker_tid)) != std::string::npos,
            "the vanished thread inside the env family is not named:\n%s", text.c_str());
  cr_assert(text.find("kind=deadlock") == std::string::npos, "a deadlock verdict from a call in flight:\n%s",
            text.c_str());
}

// Fortified entry points are reported under the call the program's source made.
Test(policy, fortified_names_are_shown_as_the_source_call) {
  size_t len;
  const char* shown = call_shown_name("__syslog_chk", &len);
  cr_assert_eq(std::string(shown, len), "syslog");
  shown = call_shown_name("__vsnprintf_chk", &len);
  cr_assert_eq(std::string(shown, len), "vsnprintf");
  shown = call_shown_name("malloc", &len);
  cr_assert_eq(std::string(shown, len), "malloc");
  shown = call_shown_name("__chk", &len);
  cr_assert_eq(std::string(shown, len), "__chk");
}

namespace {
pthread_mutex_t g_used, g_reinit, g_protected, g_unused;
pthread_rwlock_t g_read_used;
}  // namespace

// The prediction reads the vanished threads' memory of the locks they took: a lock one of them used (and
// released) is predicted once; one re-initialised in the child, one the forker held across the fork, one only
// read-locked when the child reads, one nobody vanished used: never.
Test(policy, prediction_rules) {
  start_worker([]() {
    for (const void* lock : {static_cast<const void*>(&g_used), static_cast<const void*>(&g_reinit),
                             static_cast<const void*>(&g_protected)}) {
      uintptr_t pc = 0x5150;
      core::lock_acquired(lock, LockType::mutex, &pc, 1);
      core::lock_released(lock, LockFamily::mutex);
    }
    uintptr_t pc = 0x6160;
    core::lock_acquired(&g_read_used, LockType::rwlock_read, &pc, 1);
    core::lock_released(&g_read_used, LockFamily::rwlock);
  });
  uintptr_t pc = 0x7170;
  core::lock_acquired(&g_protected, LockType::mutex, &pc, 1);  // the forker holds it across the fork
  core::lock_acquired(&g_unused, LockType::mutex, &pc, 1);     // only the forker ever took this one
  core::lock_released(&g_unused, LockFamily::mutex);
  in_child([]() {
    int failed = 0;
    failed += FAILED_IF(!g_process.restricted);
    const RecentLock* used = nullptr;
    const ThreadSlot* user = core::predict_hang(&g_used, true, &used);
    failed += FAILED_IF(user == nullptr || user->tid != g_worker_tid || used == nullptr || used->pc != 0x5150);
    failed += FAILED_IF(core::predict_hang(&g_used, true, &used) != nullptr);  // once per lock per process
    core::lock_reinitialised(&g_reinit);
    failed += FAILED_IF(core::predict_hang(&g_reinit, true, &used) != nullptr);
    failed += FAILED_IF(core::predict_hang(&g_protected, true, &used) != nullptr);
    failed += FAILED_IF(core::predict_hang(&g_unused, true, &used) != nullptr);
    failed += FAILED_IF(core::predict_hang(&g_read_used, false, &used) != nullptr);  // readers never block readers
    failed += FAILED_IF(core::predict_hang(&g_read_used, true, &used) == nullptr);  // a reader blocks a writer
    return failed;
  });
}

// A single-threaded fork predicts nothing: no thread vanished.
Test(policy, no_prediction_after_single_threaded_fork) {
  uintptr_t pc = 0x1;
  core::lock_acquired(&g_used, LockType::mutex, &pc, 1);
  core::lock_released(&g_used, LockFamily::mutex);
  in_child([]() {
    const RecentLock* used = nullptr;
    return static_cast<int>(g_process.restricted) + (core::predict_hang(&g_used, true, &used) != nullptr);
  });
}

// An untimed wait on a private condvar with one thread left and no handler to end it: nothing can signal it.
Test(policy, cond_wait_verdict_reads_the_condvar_threads_and_handlers) {
  in_child([]() {
    int failed = 0;
    pthread_cond_t priv = PTHREAD_COND_INITIALIZER, shared;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_cond_init(&shared, &attr);
    bool interrupt_only = true;
    failed += FAILED_IF(core::cond_wait_blocks_forever(&priv, &interrupt_only));  // a single-threaded fork's child: never
    g_process.restricted = true;                                        // as in a multithreaded fork's child
    failed += FAILED_IF(!core::cond_wait_blocks_forever(&priv, &interrupt_only) || interrupt_only);
    failed += FAILED_IF(core::cond_wait_blocks_forever(&shared, &interrupt_only));  // another process may signal it
    signal(SIGINT, on_signal);
    failed += FAILED_IF(!core::cond_wait_blocks_forever(&priv, &interrupt_only) || !interrupt_only);  // unless interrupted
    signal(SIGCHLD, on_signal);
    failed += FAILED_IF(core::cond_wait_blocks_forever(&priv, &interrupt_only));  // a child's exit runs a handler that might
    return failed;
  });
}

Test(policy, cond_wait_not_judged_while_another_thread_lives) {
  start_worker([]() {});
  static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  bool interrupt_only;
  cr_assert_not(core::cond_wait_blocks_forever(&cond, &interrupt_only), "the worker could signal it");
}

// The glibc facts that depend on its version, and the safe fallback on one the shim does not know.
Test(policy, glibc_facts_by_version) {
  using namespace glibc_facts;
  cr_assert_eq(parse_version("2.36").minor, 36);
  cr_assert_eq(parse_version("2.41.9000").minor, 41);
  cr_assert_eq(parse_version("garbage").major, 0);
  cr_assert_eq(parse_version("").major, 0);
  Facts bookworm = facts_for({2, 36});
  cr_assert(bookworm.known && bookworm.lock_words);
  cr_assert_not(bookworm.popen_reset_by_fork, "glibc 2.36 does not reset the popen list lock");
  Facts trixie = facts_for({2, 41});
  cr_assert(trixie.known && trixie.lock_words && trixie.popen_reset_by_fork);
  Facts future = facts_for({2, 99});
  cr_assert_not(future.known || future.lock_words, "an unknown glibc: no verdict from lock words");
  Facts old = facts_for({2, 31});
  cr_assert_not(old.known || old.lock_words);
  cr_assert(g_facts.known, "the glibc running the tests must be one the shim knows");
}

// With the lock words unknown, a mutex a vanished thread holds is not judged: less, never wrong.
Test(policy, unknown_glibc_judges_no_lock_word) {
  start_worker([]() {
    uintptr_t pc = 1;
    pthread_mutex_lock(&g_used);
    core::lock_acquired(&g_used, LockType::mutex, &pc, 1);
  });
  in_child([]() {
    int owner = 0, failed = 0;
    failed += FAILED_IF(!core::mutex_blocks_forever(&g_used, &owner));
    glibc_facts::g_facts = glibc_facts::facts_for({2, 99});
    failed += FAILED_IF(core::mutex_blocks_forever(&g_used, &owner));
    return failed;
  });
}
