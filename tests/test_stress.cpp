// The quick part of `make stress` (tests/stress/cases.h), in `make test`: each case at STRESS_SCALE=1 under
// `build/forkhazard run` (or bare LD_PRELOAD and `forkhazard report`), without the native runs. The programs are
// build/stress/*, built by `make test`. Run from the project root; nothing is preloaded into this runner.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <vector>

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

// Every case tests/stress/cases.h marks quick, straight from its table: a case cannot be marked quick and never
// run. Criterion copies parameters into each test's own process by value, so they are indexes into the table, not
// pointers (another process image, another address).
ParameterizedTestParameters(stress, quick) {
  static std::vector<size_t> indexes;
  if (indexes.empty())
    for (size_t i = 0; i < stress::cases().size(); ++i)
      if (stress::cases()[i].quick) indexes.push_back(i);
  return cr_make_param_array(size_t, indexes.data(), indexes.size());
}

ParameterizedTest(size_t* index, stress, quick, .timeout = 60) {
  cr_assert_lt(*index, stress::cases().size());
  run_quick(stress::cases()[*index].name);
}

// The table has quick cases at all (an empty parameter array would run nothing and pass).
Test(stress, quick_cases_exist) {
  size_t quick = 0;
  for (const stress::Case& c : stress::cases()) quick += c.quick;
  cr_assert_geq(quick, 10u, "only %zu quick stress cases", quick);
}
