// Unit tests of the options table parser (shim/options.def).
#include <criterion/criterion.h>
#include <unistd.h>

#include <string>

#include "shim/options.h"

using namespace fh;

namespace {

// Runs the parser with its complaints captured through a pipe.
int parse(const char* text, Options* o, std::string* complaints) {
  options_set_defaults(o);
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  int problems = options_parse(text, o, fds[1]);
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  complaints->clear();
  while ((n = read(fds[0], buf, sizeof buf)) > 0) complaints->append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return problems;
}

}  // namespace

Test(options, defaults) {
  Options o;
  options_set_defaults(&o);
  cr_assert_str_eq(o.log_path, "");
  cr_assert_eq(o.on_deadlock, on_deadlock_exit);
  cr_assert_eq(o.exitcode, 66);
  cr_assert_eq(o.lock_stack_depth, 1);
  cr_assert_not(o.help);
}

Test(options, parses_every_type) {
  Options o;
  std::string errors;
  cr_assert_eq(parse("log_path=/tmp/x/fh:on_deadlock=continue:exitcode=3:lock_stack_depth=4:help=1", &o, &errors), 0);
  cr_assert_str_eq(o.log_path, "/tmp/x/fh");
  cr_assert_eq(o.on_deadlock, on_deadlock_continue);
  cr_assert_eq(o.exitcode, 3);
  cr_assert_eq(o.lock_stack_depth, 4);
  cr_assert(o.help);
  cr_assert(errors.empty());
}

Test(options, unknown_key_is_one_line_and_ignored) {
  Options o;
  std::string errors;
  cr_assert_eq(parse("bogus=1:exitcode=9", &o, &errors), 1);
  cr_assert_eq(o.exitcode, 9, "the other options still apply");
  cr_assert_str_eq(errors.c_str(),
                   "forkhazard: FORKHAZARD_OPTIONS: unknown option 'bogus' (ignored; FORKHAZARD_OPTIONS=help=1 lists "
                   "the options)\n");
}

Test(options, bad_values_keep_defaults) {
  Options o;
  std::string errors;
  cr_assert_eq(parse("on_deadlock=explode:exitcode=999:lock_stack_depth=x:help=maybe:novalue", &o, &errors), 5);
  cr_assert_eq(o.on_deadlock, on_deadlock_exit);
  cr_assert_eq(o.exitcode, 66);
  cr_assert_eq(o.lock_stack_depth, 1);
  cr_assert(errors.find("bad value for on_deadlock: 'explode' (expected exit|abort|continue") != std::string::npos);
  cr_assert(errors.find("bad value for exitcode: '999' (expected 1..255") != std::string::npos);
  cr_assert(errors.find("expected key=value, got 'novalue'") != std::string::npos);
}

Test(options, empty_items_are_skipped) {
  Options o;
  std::string errors;
  cr_assert_eq(parse("::exitcode=7::", &o, &errors), 0);
  cr_assert_eq(o.exitcode, 7);
}

Test(options, help_lists_every_option) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  options_print_help(fds[1]);
  close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  for (const char* name : {"log_path=", "on_deadlock=exit|abort|continue", "exitcode=1..255", "lock_stack_depth=",
                           "stack_depth=", "help=0|1"})
    cr_assert(text.find(name) != std::string::npos, "help lacks %s", name);
}
