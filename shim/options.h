// Shim options: one table (options.def), one variable (FORKHAZARD_OPTIONS), parsed without allocating.
#pragma once

#include <cstddef>
#include <string_view>

namespace fh {

struct Options {
#define FH_OPTION_STRING(name, def, desc) char name[256];
#define FH_OPTION_CHOICE(name, def, choices, desc) int name;  // index into choices
#define FH_OPTION_INT(name, def, lo, hi, desc) long name;
#define FH_OPTION_BOOL(name, def, desc) bool name;
#include "shim/options.def"
#undef FH_OPTION_STRING
#undef FH_OPTION_CHOICE
#undef FH_OPTION_INT
#undef FH_OPTION_BOOL
};

// Index values of the choice options, in the order of their choices string.
enum OnDeadlock { on_deadlock_exit = 0, on_deadlock_abort = 1, on_deadlock_continue = 2 };
enum OnUnsafe { on_unsafe_report = 0, on_unsafe_exit = 1, on_unsafe_abort = 2 };
enum Mode { mode_posix = 0, mode_glibc = 1 };

// Index of `value` among the '|'-separated `choices` ("exit|abort|continue"), or -1: the shim's parser, the
// CLI's and the compile-time checks of the choice enums all use this one.
constexpr int choice_index(std::string_view choices, std::string_view value) {
  for (int index = 0;; ++index) {
    size_t bar = choices.find('|');
    if (choices.substr(0, bar) == value) return index;
    if (bar == std::string_view::npos) return -1;
    choices.remove_prefix(bar + 1);
  }
}

void options_set_defaults(Options* o);

// Parses "k=v:k=v" over *o (defaults must be set first). Each problem is written as one line
// "forkhazard: FORKHAZARD_OPTIONS: ..." to error_fd and the item is skipped; returns the number of problems.
int options_parse(const char* text, Options* o, int error_fd);

// Writes the option table (name, type, default, description) to fd.
void options_print_help(int fd);

// The process-wide options, parsed once at shim start-up.
extern Options g_options;

}  // namespace fh
