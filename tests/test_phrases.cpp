// Unit tests of the shared phrases: what a program chose (thread names, paths, function names) reaches a
// terminal only escaped.
#include <criterion/criterion.h>

#include <string>

#include "report/phrases.h"

using namespace fh;

Test(phrases, printable_escapes_control_bytes_and_broken_utf8) {
  cr_assert_eq(printable("worker-1"), "worker-1");
  cr_assert_eq(printable("\x1b[31mred"), "\\x1b[31mred", "an escape sequence must not reach the terminal");
  cr_assert_eq(printable("a\nb\tc\x7f"), "a\\x0ab\\x09c\\x7f");
  cr_assert_eq(printable("back\\slash"), "back\\x5cslash", "a backslash is escaped so escapes stay unambiguous");
  cr_assert_eq(printable("caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93", "whole UTF-8 sequences stay");
  cr_assert_eq(printable("bad\xff\xc3"), "bad\\xff\\xc3", "bytes that are not UTF-8 are escaped");
  cr_assert_eq(printable(std::string("nul\0x", 5)), "nul\\x00x");
  // The C1 controls are valid UTF-8 but a terminal obeys them (U+009B is CSI): escaped, byte by byte.
  cr_assert_eq(printable("a\xc2\x9b" "31mb"), "a\\xc2\\x9b31mb");
  cr_assert_eq(printable("\xc2\xa0nbsp"), "\xc2\xa0nbsp", "U+00A0 is printable");
  // What the lax check let through: an overlong form and a surrogate.
  cr_assert_eq(printable("\xc0\xaf"), "\\xc0\\xaf");
  cr_assert_eq(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");
}

Test(phrases, thread_label_is_printable) {
  cr_assert_eq(thread_label(42, "\x1b]0;title\x07"), "thread 42 \"\\x1b]0;title\\x07\"");
  cr_assert_eq(thread_label(42, ""), "thread 42");
}

// The Python hint: only for a report with a Python stack; logging named when a vanished thread was logging.
Test(phrases, python_hint_fits_what_was_seen) {
  fh::Hazard h;
  cr_expect(fh::python_hint(h).empty(), "a hint for a report without Python");
  h.python_stack = {{"/work/app/jobs.py", 30, "child_main"}};
  std::string plain = fh::python_hint(h);
  cr_expect(plain.find("forkserver") != std::string::npos && plain.find("register_at_fork") != std::string::npos,
            "%s", plain.c_str());
  cr_expect(plain.find("logging") == std::string::npos, "%s", plain.c_str());
  fh::ForkContext fork;
  fh::ForkThread writer;
  writer.python_stack = {{"/usr/lib/python3.11/logging/__init__.py", 1113, "emit"}};
  fork.threads = {writer};
  h.fork = fork;
  std::string logging = fh::python_hint(h);
  cr_expect(logging.find("QueueHandler") != std::string::npos, "%s", logging.c_str());
}
