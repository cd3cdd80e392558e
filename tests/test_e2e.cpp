// End-to-end tests: every examples/ program runs under `build/forkhazard run --json` in a child process with an
// explicit environment; each test checks the exit status and the report against the example's ground truth.
// Run from the project root (as `make test` does). Nothing is ever preloaded into this test runner.
#include <criterion/criterion.h>

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/e2e_support.h"

namespace {

using namespace e2e;  // kCli, Run, run_example, frame helpers... (tests/e2e_support.h)

struct DeadlockExpectation {
  const char* call;         // the child's blocking call
  const char* lock_type;    // "mutex", "rwlock-write", ...
  const char* culprit;      // a function of the example on the child's stack
  const char* acquirer;     // a function of the example on the owner's acquisition stack, if it is recorded
  const char* owner_name;   // the name the owner gave itself
};

// Exactly one deadlock hazard that matches the ground truth and `want`, and `predicted` possible-deadlocks (free
// locks a vanished thread used) besides; returns the deadlock.
const e2e::Json& expect_one_deadlock(const Run& run, const DeadlockExpectation& want, size_t predicted = 0) {
  cr_assert_eq(run.truth.expect, "deadlock", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit status %d, expected %d (hazard reported); stderr:\n%s",
               run.result.exit_code, kHazardExit, run.err.c_str());
  const std::vector<e2e::Json>& hazards = hazards_of(run);
  cr_assert_eq(hazards.size(), 1u + predicted, "%zu hazards reported, expected 1 deadlock and %zu predicted; stderr:\n%s",
               hazards.size(), predicted, run.err.c_str());
  const e2e::Json* found = nullptr;
  for (const e2e::Json& h : hazards) {
    std::string kind = e2e::string_of(h.get("kind"));
    if (kind == "deadlock") found = &h;
    else cr_assert_eq(kind, "possible-deadlock", "a hazard of kind \"%s\"", kind.c_str());
  }
  cr_assert_not_null(found, "no deadlock reported; stderr:\n%s", run.err.c_str());
  const e2e::Json& hazard = *found;

  cr_assert_eq(e2e::string_of(hazard.get("kind")), "deadlock");
  cr_assert_gt(e2e::integer_of(hazard.get("pid")), 0, "hazard.pid missing");
  cr_assert_eq(e2e::string_of(hazard.get("call")), want.call, "call is \"%s\", expected \"%s\"",
               e2e::string_of(hazard.get("call")).c_str(), want.call);

  const e2e::Json* lock = hazard.get("lock");
  uint64_t addr = e2e::parse_address(e2e::string_of(e2e::member(lock, "addr")));
  cr_assert_eq(addr, run.truth.lock, "lock.addr is %s, the example locked 0x%" PRIx64,
               e2e::string_of(e2e::member(lock, "addr")).c_str(), run.truth.lock);
  cr_assert_eq(e2e::string_of(e2e::member(lock, "type")), want.lock_type, "lock.type is \"%s\", expected \"%s\"",
               e2e::string_of(e2e::member(lock, "type")).c_str(), want.lock_type);

  const e2e::Json* owner = hazard.get("owner");
  cr_assert_eq(e2e::integer_of(e2e::member(owner, "tid")), run.truth.owner_tid,
               "owner.tid is %lld, the example's owner was %lld", e2e::integer_of(e2e::member(owner, "tid")),
               run.truth.owner_tid);
  cr_assert_eq(e2e::string_of(e2e::member(owner, "name")), want.owner_name, "owner.name is \"%s\", expected \"%s\"",
               e2e::string_of(e2e::member(owner, "name")).c_str(), want.owner_name);
  cr_assert_eq(e2e::string_of(e2e::member(owner, "relation")), "vanished", "owner.relation is \"%s\"",
               e2e::string_of(e2e::member(owner, "relation")).c_str());

  cr_assert(any_frame_is(hazard.get("stack"), want.culprit), "no frame of the child's stack is %s:\n%s",
            want.culprit, describe_frames(hazard.get("stack")).c_str());
  const std::vector<e2e::Json>& acquired_at = e2e::array_of(hazard.get("acquired_at"));
  cr_assert(!acquired_at.empty() && !e2e::string_of(acquired_at[0].get("function")).empty(),
            "acquired_at has no symbolized frame:\n%s", describe_frames(hazard.get("acquired_at")).c_str());
  if (want.acquirer != nullptr)
    cr_assert(any_frame_is(hazard.get("acquired_at"), want.acquirer), "no frame of acquired_at is %s:\n%s",
              want.acquirer, describe_frames(hazard.get("acquired_at")).c_str());

  // The owner is among the threads alive at fork, holding that lock, and is not the forking thread.
  const e2e::Json* fork = hazard.get("fork");
  cr_assert_gt(e2e::integer_of(e2e::member(fork, "parent_pid")), 0, "fork.parent_pid missing");
  cr_assert_neq(e2e::integer_of(e2e::member(fork, "forking_tid")), run.truth.owner_tid,
                "the owner is reported as the forking thread");
  const e2e::Json* thread = fork_thread(hazard, run.truth.owner_tid);
  cr_assert(thread != nullptr, "fork.threads has no thread with the owner's tid %lld", run.truth.owner_tid);
  // What it held, as lock words tell: a read hold has no identity in glibc's word, so it is not listed (the
  // owner of a read-held rwlock is the reader the shim saw take it).
  if (std::string(want.lock_type) != "rwlock-read") {
    const e2e::Json* held = held_entry(thread, run.truth.lock);
    cr_assert(held != nullptr, "fork.threads[owner].held does not list the lock 0x%" PRIx64, run.truth.lock);
    cr_assert_eq(e2e::string_of(held->get("type")), want.lock_type);
  }

  cr_assert(e2e::contains(run.err, "deadlock"), "the human report on stderr does not say \"deadlock\":\n%s",
            run.err.c_str());
  return hazard;
}

void expect_no_report(const Run& run) {
  cr_assert_eq(run.truth.expect, "none", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, 0, "exit status %d, expected 0; stderr:\n%s", run.result.exit_code,
               run.err.c_str());
  cr_assert_eq(hazards_of(run).size(), 0u, "%zu hazards reported, expected none; stderr:\n%s",
               hazards_of(run).size(), run.err.c_str());
  cr_assert(!e2e::contains(run.err, "forkhazard: deadlock"), "stderr reports a deadlock:\n%s", run.err.c_str());
}

}  // namespace

// ---- deadlocks ------------------------------------------------------------------------------------------------

Test(e2e, mutex_held_by_worker, .timeout = 60) {
  Run run = run_example("mutex_held_by_worker");
  const e2e::Json& hazard = expect_one_deadlock(
      run, {"pthread_mutex_lock", "mutex", "child_locks_the_mutex", "worker_holds_lock", "table-owner"});
  cr_assert(e2e::contains(run.out, "exited with status 66"), "the child did not exit 66:\n%s", run.out.c_str());
  // What the vanished worker held at fork, read from the lock word (mutexes are off the held stack): the lock,
  // once, taken in worker_holds_lock; the forking thread held nothing.
  const e2e::Json* worker = fork_thread(hazard, run.truth.owner_tid);
  const e2e::Json* held = held_entry(worker, run.truth.lock);
  cr_assert_not_null(held, "the worker's held list lacks the lock");
  cr_assert_eq(e2e::array_of(e2e::member(worker, "held")).size(), 1u);
  cr_assert_eq(e2e::integer_of(e2e::member(held, "depth")), 1);
  cr_assert(any_frame_is(e2e::member(held, "acquired_at"), "worker_holds_lock"), "acquired_at:\n%s",
            describe_frames(e2e::member(held, "acquired_at")).c_str());
  for (const e2e::Json& thread : e2e::array_of(e2e::member(hazard.get("fork"), "threads")))
    if (e2e::string_of(thread.get("relation")) == "forker")
      cr_assert(e2e::array_of(thread.get("held")).empty(), "the forking thread is listed as holding a lock");
  passed();
}

// A second vanished thread was blocked in pthread_mutex_lock on the same lock at fork. The lock wrappers note a
// blocking call before libc's (core::lock_taken): the report still names the owner by the lock word, and the
// waiter holds nothing.
Test(e2e, mutex_waiter_at_fork, .timeout = 60) {
  Run run = run_example("mutex_waiter_at_fork");
  const e2e::Json& hazard = expect_one_deadlock(
      run, {"pthread_mutex_lock", "mutex", "child_locks_the_mutex", "owner_holds_lock", "table-owner"});
  cr_assert(e2e::contains(run.out, "exited with status 66"), "the child did not exit 66:\n%s", run.out.c_str());
  size_t at = run.out.find("waiter_tid=");
  cr_assert_neq(at, std::string::npos, "the example did not print the waiter's tid:\n%s", run.out.c_str());
  long long waiter_tid = std::atoll(run.out.c_str() + at + 11);
  const e2e::Json* waiter = fork_thread(hazard, waiter_tid);
  cr_assert_not_null(waiter, "fork.threads has no thread with the waiter's tid %lld", waiter_tid);
  cr_assert_eq(e2e::string_of(e2e::member(waiter, "name")), "table-waiter");
  cr_assert(e2e::array_of(e2e::member(waiter, "held")).empty(), "the waiter is listed as holding a lock");
  passed();
}

// By default only the caller's PC of each lock call is recorded; for std::mutex that is libstdc++'s inline
// __gthread_mutex_lock, so the worker's own function needs a deeper lock stack (lock_stack_depth, next test).
Test(e2e, std_mutex_held, .timeout = 60) {
  Run run = run_example("std_mutex_held");
  expect_one_deadlock(run, {"pthread_mutex_lock", "mutex", "child_locks_the_mutex", nullptr, "cache-owner"});
  passed();
}

Test(e2e, std_mutex_held_lock_stack_depth, .timeout = 60) {
  Run run = run_example("std_mutex_held", {"FORKHAZARD_OPTIONS=lock_stack_depth=8"});
  const e2e::Json& hazard = expect_one_deadlock(
      run, {"pthread_mutex_lock", "mutex", "child_locks_the_mutex", "worker_holds_lock", "cache-owner"});
  cr_assert(any_frame_is(hazard.get("acquired_at"), "worker"), "no frame of acquired_at is the thread's worker:\n%s",
            describe_frames(hazard.get("acquired_at")).c_str());
  passed();
}

Test(e2e, rwlock_write_held, .timeout = 60) {
  Run run = run_example("rwlock_write_held");
  const e2e::Json& hazard = expect_one_deadlock(
      run, {"pthread_rwlock_rdlock", "rwlock-write", "child_reads_the_rwlock", "worker_holds_write_lock",
            "config-writer"});
  // The write hold, read from __cur_writer (write holds are off the held stack), in the writer's held list.
  const e2e::Json* held = held_entry(fork_thread(hazard, run.truth.owner_tid), run.truth.lock);
  cr_assert_not_null(held, "the writer's held list lacks the rwlock");
  cr_assert_eq(e2e::string_of(e2e::member(held, "type")), "rwlock-write");
  cr_assert(any_frame_is(e2e::member(held, "acquired_at"), "worker_holds_write_lock"), "acquired_at:\n%s",
            describe_frames(e2e::member(held, "acquired_at")).c_str());
  passed();
}

// A reader vanished holding the rwlock: readers have no identity in glibc's word, so the verdict is the rule of
// waits nothing can end (one thread left, no handler), and the worker is named as the reader the shim saw take it.
Test(e2e, rwlock_read_held, .timeout = 60) {
  Run run = run_example("rwlock_read_held");
  expect_one_deadlock(run, {"pthread_rwlock_wrlock", "rwlock-read", "child_writes_the_rwlock", "worker_holds_read_lock",
                            "index-reader"});
  cr_assert(e2e::contains(run.out, "exited with status 66"), "the child did not exit 66:\n%s", run.out.c_str());
  cr_assert(e2e::contains(run.err, "held for reading and nothing left in this single-threaded process can release"),
            "the sentence does not say why:\n%s", run.err.c_str());
  passed();
}

// The writer-preferring kind: a reader waiting behind a waiting writer at fork is not counted and holds nothing;
// the reader named is the one that holds the lock (core::lock_taken notes such a reader after the call).
Test(e2e, rwlock_read_held_writer_preferred, .timeout = 60) {
  Run run = run_example("rwlock_read_held_writer_preferred");
  expect_one_deadlock(run, {"pthread_rwlock_wrlock", "rwlock-read", "child_writes_the_rwlock",
                            "reader_holds_read_lock", "index-reader"});
  cr_assert(e2e::contains(run.out, "exited with status 66"), "the child did not exit 66:\n%s", run.out.c_str());
  passed();
}

Test(e2e, recursive_mutex, .timeout = 60) {
  Run run = run_example("recursive_mutex");
  // The deadlock is B's; taking A, free but used by the vanished worker, is the one prediction.
  const e2e::Json& hazard = expect_one_deadlock(
      run, {"pthread_mutex_lock", "mutex", "child_locks_b", "worker_holds_lock", "b-owner"}, 1);
  cr_assert(!any_frame_is(hazard.get("stack"), "child_locks_a"), "the report blames the lock of A");

  // A was locked twice and unlocked twice: nobody holds it; B is held at depth 2.
  size_t at = run.out.find("released lock A: ");
  cr_assert(at != std::string::npos, "the example did not print lock A");
  uint64_t lock_a = e2e::parse_address(run.out.substr(at + 17, run.out.find('\n', at) - at - 17));
  cr_assert_neq(lock_a, 0u);
  for (const e2e::Json& thread : e2e::array_of(e2e::member(hazard.get("fork"), "threads")))
    cr_assert(held_entry(&thread, lock_a) == nullptr, "thread %lld is listed as holding A (0x%" PRIx64 ")",
              e2e::integer_of(thread.get("tid")), lock_a);
  const e2e::Json* held_b = held_entry(fork_thread(hazard, run.truth.owner_tid), run.truth.lock);
  cr_assert_eq(e2e::integer_of(e2e::member(held_b, "depth")), 2, "B's recursion depth is %lld, expected 2",
               e2e::integer_of(e2e::member(held_b, "depth")));
  passed();
}

// The forking thread's own recursive mutex, "unlocked" by an atfork child handler (EPERM: new tid).
Test(e2e, atfork_recursive, .timeout = 60) {
  Run run = run_example("atfork_recursive");
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit %d; stdout:\n%s\nstderr:\n%s", run.result.exit_code,
               run.out.c_str(), run.err.c_str());
  cr_assert(e2e::contains(run.out, "exited with status 66"), "the child did not exit 66:\n%s", run.out.c_str());
  const std::vector<e2e::Json>& hazards = hazards_of(run);
  cr_assert_eq(hazards.size(), 1u, "%zu hazards; stderr:\n%s", hazards.size(), run.err.c_str());
  const e2e::Json& hazard = hazards[0];
  cr_assert_eq(e2e::string_of(hazard.get("call")), "pthread_mutex_lock");
  cr_assert_eq(e2e::parse_address(e2e::string_of(e2e::member(hazard.get("lock"), "addr"))), run.truth.lock);
  const e2e::Json* owner = hazard.get("owner");
  cr_assert_eq(e2e::integer_of(e2e::member(owner, "tid")), run.truth.owner_tid);
  cr_assert_eq(e2e::string_of(e2e::member(owner, "relation")), "forker");
  cr_assert_eq(e2e::integer_of(e2e::member(hazard.get("fork"), "forking_tid")), run.truth.owner_tid);
  cr_assert(any_frame_is(hazard.get("stack"), "child_locks_recursive"), "stack:\n%s",
            describe_frames(hazard.get("stack")).c_str());
  cr_assert(any_frame_is(hazard.get("acquired_at"), "prepare"), "acquired_at:\n%s",
            describe_frames(hazard.get("acquired_at")).c_str());
  cr_assert(e2e::contains(run.err, "held by this thread since before fork()"), "stderr:\n%s", run.err.c_str());
  passed();
}

Test(e2e, grandchild, .timeout = 60) {
  Run run = run_example("grandchild");
  const e2e::Json& hazard = expect_one_deadlock(
      run, {"pthread_mutex_lock", "mutex", "grandchild_locks_the_mutex", "worker_holds_lock", "journal-owner"});
  // The hazard is the grandchild's, not the child's that the example's parent waited for.
  int child_pid = 0;
  size_t at = run.out.find("child ");
  cr_assert(at != std::string::npos && std::sscanf(run.out.c_str() + at, "child %d", &child_pid) == 1,
            "the example did not print its child:\n%s", run.out.c_str());
  cr_assert_neq(e2e::integer_of(hazard.get("pid")), child_pid, "the hazard names the child, not the grandchild");
  cr_assert(e2e::contains(run.out, "exited with status 66"), "the grandchild did not exit 66:\n%s",
            run.out.c_str());
  passed();
}

Test(e2e, many_threads_held, .timeout = 60) {
  Run run = run_example("many_threads_held");
  expect_one_deadlock(run, {"pthread_mutex_lock", "mutex", "child_locks_one_mutex", "worker_holds_own_lock",
                            "holder-137"});
  passed();
}

// A vanished thread was inside dl_iterate_phdr (loader lock held): reporting must neither hang nor crash.
Test(e2e, loader_lock_held, .timeout = 60) {
  Run run = run_example("loader_lock_held");
  expect_one_deadlock(run, {"pthread_mutex_lock", "mutex", "child_locks_the_mutex", "worker_holds_lock",
                            "module-scanner"});
  cr_assert(e2e::contains(run.out, "exited with status 66"), "the child did not exit 66:\n%s", run.out.c_str());
  passed();
}

// ---- no report -------------------------------------------------------------------------------------------------

// The worker waits in pthread_cond_wait at fork, its mutex released inside glibc: no deadlock, the child's lock
// returns. The worker used the mutex, but it is parked on a condvar nothing ever signalled: it cannot take the
// mutex again at any fork of this flow, so no possible deadlock either (it was one before the shim asked whether
// the thread could take the lock again).
Test(e2e, cond_wait_worker, .timeout = 60) {
  Run run = run_example("cond_wait_worker");
  cr_assert_eq(run.truth.expect, "none", "ground truth expects %s", run.truth.expect.c_str());
  expect_no_report(run);
  cr_assert(e2e::contains(run.out, "exited with status 0"), "the child did not exit 0:\n%s", run.out.c_str());
  passed();
}

Test(e2e, failed_trylock, .timeout = 60) {
  Run run = run_example("failed_trylock");
  expect_no_report(run);
  cr_assert(e2e::contains(run.out, "trylock returned EBUSY"), "%s", run.out.c_str());
  cr_assert(e2e::contains(run.out, "timedlock returned ETIMEDOUT"), "%s", run.out.c_str());
  cr_assert(e2e::contains(run.out, "exited with status 0"), "the child did not exit 0:\n%s", run.out.c_str());
  passed();
}

Test(e2e, atfork_protected, .timeout = 60) {
  Run run = run_example("atfork_protected");
  expect_no_report(run);
  cr_assert(e2e::contains(run.out, "20 of 20 children exited 0"), "%s", run.out.c_str());
  passed();
}

Test(e2e, fork_exec_churn, .timeout = 60) {
  Run run = run_example("fork_exec_churn");
  expect_no_report(run);
  cr_assert(e2e::contains(run.out, "50 of 50 children exited 0"), "%s", run.out.c_str());
  passed();
}

Test(e2e, single_threaded_fork, .timeout = 60) {
  Run run = run_example("single_threaded_fork");
  expect_no_report(run);
  cr_assert(e2e::contains(run.out, "locked 4 mutexes"), "%s", run.out.c_str());
  cr_assert(e2e::contains(run.out, "exited with status 0"), "the child did not exit 0:\n%s", run.out.c_str());
  passed();
}

Test(e2e, churn_fork_300, .timeout = 60) {
  Run run = run_example("churn_fork_300");
  expect_no_report(run);
  cr_assert(e2e::contains(run.out, "300 of 300 children exited 0"), "%s", run.out.c_str());
  passed();
}

// C++ exceptions keep their native unwinder: whatever provides _Unwind_RaiseException natively (libgcc_s, or
// nothing in a C program that never loaded it) provides it under forkhazard; never libunwind, never the shim's
// own hidden copy of libgcc's unwinder.
Test(e2e, unwinder_owner, .timeout = 60) {
  cr_assert(e2e::file_exists(kCli), "%s is missing: run `make` first", kCli);
  auto owner_of = [](const Run& run) {
    size_t at = run.out.find("unwinder: ");
    cr_assert(at != std::string::npos, "no unwinder line:\n%s", run.out.c_str());
    return run.out.substr(at + 10, run.out.find('\n', at) - at - 10);
  };
  Run native = run_command_in(fresh_dir(), {"build/examples/unwinder_owner"}, {});
  Run run = run_command_in(fresh_dir(), {kCli, "run", "--", "build/examples/unwinder_owner"}, {});
  cr_assert_eq(run.result.exit_code, 0, "exit status %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  std::string owner = owner_of(run), natively = owner_of(native);
  cr_assert_eq(owner, natively, "_Unwind_RaiseException comes from %s, natively from %s", owner.c_str(),
               natively.c_str());
  cr_assert(!e2e::contains(owner, "libunwind") && !e2e::contains(owner, "forkhazard"),
            "_Unwind_RaiseException comes from %s", owner.c_str());
  passed();
}

// ---- options and the CLI contract --------------------------------------------------------------------------------

Test(e2e, on_deadlock_abort, .timeout = 60) {
  Run run = run_example("mutex_held_by_worker", {"FORKHAZARD_OPTIONS=on_deadlock=abort"});
  expect_one_deadlock(run, {"pthread_mutex_lock", "mutex", "child_locks_the_mutex", "worker_holds_lock",
                            "table-owner"});
  cr_assert(e2e::contains(run.out, "killed by signal 6"), "the child was not aborted:\n%s", run.out.c_str());
  passed();
}

// `continue` lets the child hang as it would without us; the example's alarm (0.4 s here) ends it.
Test(e2e, on_deadlock_continue, .timeout = 60) {
  Run run = run_watched("mutex_held_by_worker", {"build/examples/mutex_held_by_worker", "400"},
                        {"FORKHAZARD_OPTIONS=on_deadlock=continue"});
  expect_one_deadlock(run, {"pthread_mutex_lock", "mutex", "child_locks_the_mutex", "worker_holds_lock",
                            "table-owner"});
  cr_assert(e2e::contains(run.out, "killed by signal 14"), "the child did not hang until its alarm:\n%s",
            run.out.c_str());
  passed();
}

Test(e2e, unknown_option_is_named_and_ignored, .timeout = 60) {
  Run run = run_example("mutex_held_by_worker", {"FORKHAZARD_OPTIONS=no_such_option=1"});
  cr_assert(e2e::contains(run.err, "no_such_option"), "the unknown option is not named on stderr:\n%s",
            run.err.c_str());
  expect_one_deadlock(run, {"pthread_mutex_lock", "mutex", "child_locks_the_mutex", "worker_holds_lock",
                            "table-owner"});
  passed();
}

// Without the CLI, a bare LD_PRELOAD already prints a readable report on stderr and ends the child with 66.
Test(e2e, bare_ld_preload, .timeout = 60) {
  cr_assert(e2e::file_exists(kShim), "%s is missing: run `make` first", kShim);
  char cwd[4096];
  cr_assert(getcwd(cwd, sizeof cwd) != nullptr);
  Run run = run_command_in(fresh_dir(), {"build/examples/mutex_held_by_worker"},
                                    {std::string("LD_PRELOAD=") + cwd + "/" + kShim});
  cr_assert_eq(run.result.exit_code, 0, "the example itself exits 0, got %d", run.result.exit_code);
  cr_assert(e2e::contains(run.out, "exited with status 66"), "the child did not exit 66:\n%s", run.out.c_str());
  cr_assert(e2e::contains(run.err, "deadlock"), "no report on stderr:\n%s", run.err.c_str());
  cr_assert(e2e::contains(run.err, "pthread_mutex_lock"), "the report does not name the call:\n%s",
            run.err.c_str());
  passed();
}

Test(e2e, exit_status_passes_through, .timeout = 60) {
  cr_assert(e2e::file_exists(kCli), "%s is missing: run `make` first", kCli);
  Run exited = run_command_in(fresh_dir(), {kCli, "run", "--", "/bin/sh", "-c", "exit 3"}, {});
  cr_assert_eq(exited.result.exit_code, 3, "exit 3 came back as %d", exited.result.exit_code);
  Run killed = run_command_in(fresh_dir(), {kCli, "run", "--", "/bin/sh", "-c", "kill -TERM $$"}, {});
  cr_assert_eq(killed.result.exit_code, 128 + 15, "a SIGTERM death came back as %d", killed.result.exit_code);
  passed();
}
