// The text assertions the unit tests share: EXPECT_TEXT, and the usage line every CLI usage error ends with.
#pragma once

#include <criterion/criterion.h>

#include <string>

// Criterion keeps the pointers it compares: the strings must outlive the assertion, not be temporaries.
#define EXPECT_TEXT(actual, expected)                             \
  do {                                                            \
    const std::string actual_text = (actual);                     \
    const std::string expected_text = (expected);                 \
    cr_expect_str_eq(actual_text.c_str(), expected_text.c_str()); \
  } while (0)

// The line after every usage error.
#define USAGE \
  "usage: forkhazard run [OPTIONS] -- CMD [ARGS...] | forkhazard report [OPTIONS] PATH... | " \
  "forkhazard inspect [OPTIONS] PID... | forkhazard calls | forkhazard --help\n"
