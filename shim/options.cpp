// Parser and help text for the options table (options.def); allocation-free so it can run at any time.
#include "shim/options.h"

#include "symbols/safe_io.h"

namespace fh {

Options g_options;

namespace {

// The choice enums of options.h, held to the table: a choice added or moved in options.def fails to compile here.
#define FH_OPTION_STRING(name, def, desc)
#define FH_OPTION_CHOICE(name, def, choices, desc) [[maybe_unused]] constexpr const char* name##_choices = choices;
#define FH_OPTION_INT(name, def, lo, hi, desc)
#define FH_OPTION_BOOL(name, def, desc)
#include "shim/options.def"
#undef FH_OPTION_STRING
#undef FH_OPTION_CHOICE
#undef FH_OPTION_INT
#undef FH_OPTION_BOOL
static_assert(choice_index(on_deadlock_choices, "exit") == on_deadlock_exit);
static_assert(choice_index(on_deadlock_choices, "abort") == on_deadlock_abort);
static_assert(choice_index(on_deadlock_choices, "continue") == on_deadlock_continue);
static_assert(choice_index(on_unsafe_choices, "report") == on_unsafe_report);
static_assert(choice_index(on_unsafe_choices, "exit") == on_unsafe_exit);
static_assert(choice_index(on_unsafe_choices, "abort") == on_unsafe_abort);
static_assert(choice_index(mode_choices, "posix") == mode_posix);
static_assert(choice_index(mode_choices, "glibc") == mode_glibc);

bool key_is(const char* key, size_t n, const char* name) {
  size_t i = 0;
  for (; i < n && name[i] != '\0'; i++)
    if (key[i] != name[i]) return false;
  return i == n && name[i] == '\0';
}

void complain(int fd, const char* what, const char* item, size_t n, const char* tail) {
  StackWriter w(fd);
  w.str("forkhazard: FORKHAZARD_OPTIONS: ").str(what).str(" '").str(item, n).str("'").str(tail).chr('\n');
}

// Sets one option from key/value; false when the key is unknown or the value bad (already reported).
bool set_option(Options* o, const char* key, size_t klen, const char* val, size_t vlen, int fd) {
#define FH_OPTION_STRING(name, def, desc)                                                            \
  if (key_is(key, klen, #name)) {                                                                    \
    if (vlen >= sizeof o->name) {                                                                    \
      complain(fd, "value too long for", key, klen, " (ignored)");                                   \
      return false;                                                                                  \
    }                                                                                                \
    for (size_t i = 0; i < vlen; i++) o->name[i] = val[i];                                           \
    o->name[vlen] = '\0';                                                                            \
    return true;                                                                                     \
  }
#define FH_OPTION_CHOICE(name, def, choices, desc)                                                   \
  if (key_is(key, klen, #name)) {                                                                    \
    int index = choice_index(choices, std::string_view(val, vlen));                                                    \
    if (index < 0) {                                                                                 \
      complain(fd, "bad value for " #name ":", val, vlen, " (expected " choices "; default kept)");  \
      return false;                                                                                  \
    }                                                                                                \
    o->name = index;                                                                                 \
    return true;                                                                                     \
  }
#define FH_OPTION_INT(name, def, lo, hi, desc)                                                       \
  if (key_is(key, klen, #name)) {                                                                    \
    long v;                                                                                          \
    if (!safe_parse_int(val, vlen, &v) || v < (lo) || v > (hi)) {                                    \
      complain(fd, "bad value for " #name ":", val, vlen, " (expected " #lo ".." #hi "; default kept)"); \
      return false;                                                                                  \
    }                                                                                                \
    o->name = v;                                                                                     \
    return true;                                                                                     \
  }
#define FH_OPTION_BOOL(name, def, desc)                                                              \
  if (key_is(key, klen, #name)) {                                                                    \
    int index = choice_index("0|1|false|true|no|yes", std::string_view(val, vlen));                                    \
    if (index < 0) {                                                                                 \
      complain(fd, "bad value for " #name ":", val, vlen, " (expected 0 or 1; default kept)");       \
      return false;                                                                                  \
    }                                                                                                \
    o->name = index % 2 == 1;                                                                        \
    return true;                                                                                     \
  }
#include "shim/options.def"
#undef FH_OPTION_STRING
#undef FH_OPTION_CHOICE
#undef FH_OPTION_INT
#undef FH_OPTION_BOOL
  (void)val;
  (void)vlen;
  complain(fd, "unknown option", key, klen, " (ignored; FORKHAZARD_OPTIONS=help=1 lists the options)");
  return false;
}

}  // namespace

void options_set_defaults(Options* o) {
#define FH_OPTION_STRING(name, def, desc) safe_strcpy(o->name, def, sizeof o->name);
#define FH_OPTION_CHOICE(name, def, choices, desc) o->name = choice_index(choices, def);
#define FH_OPTION_INT(name, def, lo, hi, desc) o->name = def;
#define FH_OPTION_BOOL(name, def, desc) o->name = def;
#include "shim/options.def"
#undef FH_OPTION_STRING
#undef FH_OPTION_CHOICE
#undef FH_OPTION_INT
#undef FH_OPTION_BOOL
}

int options_parse(const char* text, Options* o, int error_fd) {
  if (text == nullptr) return 0;
  int problems = 0;
  const char* p = text;
  while (*p != '\0') {
    const char* end = p;
    while (*end != '\0' && *end != ':') end++;
    if (end != p) {
      const char* eq = p;
      while (eq < end && *eq != '=') eq++;
      if (eq == end) {
        complain(error_fd, "expected key=value, got", p, static_cast<size_t>(end - p), " (ignored)");
        problems++;
      } else if (!set_option(o, p, static_cast<size_t>(eq - p), eq + 1, static_cast<size_t>(end - eq - 1),
                             error_fd)) {
        problems++;
      }
    }
    p = *end == ':' ? end + 1 : end;
  }
  return problems;
}

void options_print_help(int fd) {
  StackWriter w(fd);
  w.str("forkhazard: options (FORKHAZARD_OPTIONS=name=value:name=value):\n");
#define FH_OPTION_STRING(name, def, desc) w.str("  " #name "=<path>  default \"" def "\"  " desc "\n");
#define FH_OPTION_CHOICE(name, def, choices, desc) w.str("  " #name "=" choices "  default " def "  " desc "\n");
#define FH_OPTION_INT(name, def, lo, hi, desc) \
  w.str("  " #name "=" #lo ".." #hi "  default ").dec(def).str("  " desc "\n");
#define FH_OPTION_BOOL(name, def, desc) w.str("  " #name "=0|1  default ").dec(def).str("  " desc "\n");
#include "shim/options.def"
#undef FH_OPTION_STRING
#undef FH_OPTION_CHOICE
#undef FH_OPTION_INT
#undef FH_OPTION_BOOL
}

}  // namespace fh
