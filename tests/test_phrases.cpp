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
