// The quick part of `make stress` (tests/stress/cases.h), in `make test`: each case at STRESS_SCALE=1 under
// `build/forkhazard run` (or bare LD_PRELOAD and `forkhazard report`), without the native runs. The programs are
// build/stress/*, built by `make test`. Run from the project root; nothing is preloaded into this runner.
#include <criterion/criterion.h>

#include "tests/stress/cases.h"

namespace {

void run_quick(const char* name) {
  const stress::Case* c = stress::find_case(name);
  cr_assert_not_null(c, "no stress case %s in tests/stress/cases.h", name);
  std::string program = std::string(stress::kStressDir) + "fork_storm";
  cr_assert(e2e::file_exists(program), "%s is missing: `make test` builds $(STRESS_PROGS)", program.c_str());
  stress::Settings quick;  // STRESS_SCALE=1, forkhazard only
  stress::Verdict v = c->run(quick);
  cr_assert(v.ok(), "%s (%s):\n%s", name, c->about, v.failure_text().c_str());
  v.clean_up();
}

}  // namespace

#define STRESS_TEST(name) \
  Test(stress, name, .timeout = 60) { run_quick(#name); }

// Fork storms, thread churn, nested forks, thread operations in flight.
STRESS_TEST(fork_storm)
STRESS_TEST(signal_fork)
STRESS_TEST(thread_churn)
STRESS_TEST(nested_exec_chain)
STRESS_TEST(nested_fork_chain)
STRESS_TEST(nested_deadlock)
STRESS_TEST(thread_ops_fork)
STRESS_TEST(dlopen_threads)
STRESS_TEST(main_exit_clean)
STRESS_TEST(main_exit_deadlock)

// Edge cases of lock state at fork.
STRESS_TEST(cancel_cleanup)
STRESS_TEST(cancel_nocleanup)
STRESS_TEST(robust_recovered)
STRESS_TEST(robust_dead_owner)
STRESS_TEST(robust_held)
STRESS_TEST(destroy_held_unmapped)
STRESS_TEST(destroy_held_reused)
STRESS_TEST(exit_holding_threaded)
STRESS_TEST(exit_holding_single)
STRESS_TEST(pshared)
STRESS_TEST(address_reuse)

// Lock calls libc refuses; atfork-style protection evicted from the forker's memory of recent locks.
STRESS_TEST(refused_mutex_edeadlk)
STRESS_TEST(refused_notrecoverable)
STRESS_TEST(refused_rwlock_drop)
STRESS_TEST(refused_rwlock_hold)
STRESS_TEST(evicted_protection_waiter)
STRESS_TEST(evicted_protection_prior)

// Another allocator preloaded beside the shim, both orders.
STRESS_TEST(jemalloc_cli)
STRESS_TEST(jemalloc_bare_allocator_first)
STRESS_TEST(jemalloc_bare_shim_first)
STRESS_TEST(tcmalloc_cli)
STRESS_TEST(tcmalloc_bare_allocator_first)
STRESS_TEST(tcmalloc_bare_shim_first)
