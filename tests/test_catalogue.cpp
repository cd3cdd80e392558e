// Unit tests of the catalogue of non-async-signal-safe calls (interpose.def's FH_UNSAFE rows).
#include <criterion/criterion.h>
#include <dlfcn.h>

#include <set>
#include <string>

#include "report/catalogue.h"
#include "shim/unsafe.h"

using namespace fh;

namespace {

// signal-safety(7), POSIX.1-2008 TC2 plus glibc's _Fork: none of these may be catalogued.
const char* const async_signal_safe[] = {
    "_Exit", "_exit", "_Fork", "abort", "accept", "access", "aio_error", "aio_return", "aio_suspend", "alarm", "bind",
    "cfgetispeed", "cfgetospeed", "cfsetispeed", "cfsetospeed", "chdir", "chmod", "chown", "clock_gettime", "close",
    "connect", "creat", "dup", "dup2", "execl", "execle", "execv", "execve", "faccessat", "fchdir", "fchmod",
    "fchmodat", "fchown", "fchownat", "fcntl", "fdatasync", "fexecve", "ffs", "fork", "fstat", "fstatat", "fsync",
    "ftruncate", "futimens", "getegid", "geteuid", "getgid", "getgroups", "getpeername", "getpgrp", "getpid",
    "getppid", "getsockname", "getsockopt", "getuid", "htonl", "htons", "kill", "link", "linkat", "listen",
    "longjmp", "lseek", "lstat", "memccpy", "memchr", "memcmp", "memcpy", "memmove", "memset", "mkdir", "mkdirat",
    "mkfifo", "mkfifoat", "mknod", "mknodat", "ntohl", "ntohs", "open", "openat", "pause", "pipe", "poll",
    "posix_trace_event", "pselect", "pthread_kill", "pthread_self", "pthread_sigmask", "raise", "read", "readlink",
    "readlinkat", "recv", "recvfrom", "recvmsg", "rename", "renameat", "rmdir", "select", "sem_post", "send",
    "sendmsg", "sendto", "setgid", "setpgid", "setsid", "setsockopt", "setuid", "shutdown", "sigaction", "sigaddset",
    "sigdelset", "sigemptyset", "sigfillset", "sigismember", "siglongjmp", "signal", "sigpause", "sigpending",
    "sigprocmask", "sigqueue", "sigset", "sigsuspend", "sleep", "sockatmark", "socket", "socketpair", "stat",
    "stpcpy", "stpncpy", "strcat", "strchr", "strcmp", "strcpy", "strcspn", "strlen", "strncat", "strncmp",
    "strncpy", "strnlen", "strpbrk", "strrchr", "strspn", "strstr", "strtok_r", "symlink", "symlinkat", "tcdrain",
    "tcflow", "tcflush", "tcgetattr", "tcgetpgrp", "tcsendbreak", "tcsetattr", "tcsetpgrp", "time",
    "timer_getoverrun", "timer_gettime", "timer_settime", "times", "umask", "uname", "unlink", "unlinkat", "utime",
    "utimensat", "utimes", "wait", "waitpid", "write"};

}  // namespace

Test(catalogue, no_async_signal_safe_function) {
  std::set<std::string> safe(std::begin(async_signal_safe), std::end(async_signal_safe));
  for (const CallInfo& c : g_calls) cr_assert(safe.count(c.name) == 0, "%s is async-signal-safe", c.name);
}

Test(catalogue, every_row_resolves_in_libc_or_the_cxx_runtime) {
  for (const CallInfo& c : g_calls) cr_assert_not_null(dlsym(RTLD_DEFAULT, c.name), "%s does not resolve", c.name);
}

Test(catalogue, rows_are_unique_and_explained) {
  std::set<std::string> names;
  for (const CallInfo& c : g_calls) {
    cr_assert(names.insert(c.name).second, "%s is catalogued twice", c.name);
    cr_assert(c.why != nullptr && c.why[0] != '\0', "%s has no reason", c.name);
    // Families name glibc locks fork() does not reset: only hang-prone calls have one.
    if (c.cls == UnsafeClass::non_portable) cr_assert_eq(c.family, Family::none, "%s: non-portable with a family", c.name);
  }
}

Test(catalogue, covers_what_the_issue_lists) {
  std::set<std::string> names;
  for (const CallInfo& c : g_calls) names.insert(c.name);
  for (const char* must : {"malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "aligned_alloc",
                           "memalign", "valloc", "pvalloc", "printf", "__printf_chk", "fprintf", "puts", "fputs",
                           "fwrite", "fread", "fgets", "fflush", "fopen", "fclose", "exit", "pthread_create",
                           "dlopen", "dlclose", "dlsym", "setenv", "unsetenv", "putenv", "localtime", "localtime_r",
                           "mktime", "tzset", "strftime", "getpwnam", "getpwuid", "getaddrinfo", "gethostbyname",
                           "syslog", "setlocale", "newlocale", "random", "rand", "iconv_open", "gettext"})
    cr_assert(names.count(must) == 1, "%s is not catalogued", must);
}

Test(catalogue, classes_follow_the_measurements) {
  // The measured hang rates (tests/test_races.cpp): the allocator and stdio survive fork on glibc (non-portable); setenv, localtime_r,
  // random, dl_iterate_phdr, setlocale and syslog hung children (hang-prone, with their lock family).
  struct Expect {
    const char* name;
    UnsafeClass cls;
    Family family;
  };
  // pthread_create: every lock it takes is reset in the child (stack cache, default attributes, the loader's TLS
  // lock, malloc: posix/fork.c); 2000 children starting a thread while 2 threads churned it: none hung.
  for (const Expect& e : {Expect{"malloc", UnsafeClass::non_portable, Family::none},
                          Expect{"pthread_create", UnsafeClass::non_portable, Family::none},
                          Expect{"fprintf", UnsafeClass::non_portable, Family::none},
                          Expect{"setenv", UnsafeClass::hang_prone, Family::env},
                          Expect{"localtime_r", UnsafeClass::hang_prone, Family::tz},
                          Expect{"random", UnsafeClass::hang_prone, Family::random},
                          Expect{"dl_iterate_phdr", UnsafeClass::hang_prone, Family::loader},
                          Expect{"setlocale", UnsafeClass::hang_prone, Family::locale},
                          Expect{"syslog", UnsafeClass::hang_prone, Family::syslog}}) {
    bool found = false;
    for (const CallInfo& c : g_calls) {
      if (std::string(c.name) != e.name) continue;
      found = true;
      cr_assert_eq(c.cls, e.cls, "%s: class", e.name);
      cr_assert_eq(c.family, e.family, "%s: family", e.name);
    }
    cr_assert(found, "%s missing", e.name);
  }
}

Test(catalogue, listing_names_every_row) {
  std::string text = format_catalogue();
  for (const CallInfo& c : g_calls) cr_assert(text.find(std::string("\n") + c.name + " ") != std::string::npos, "%s", c.name);
  cr_assert(text.find(std::to_string(static_cast<int>(call_count)) + " functions") != std::string::npos);
}

Test(catalogue, family_calls_come_from_the_table) {
  // Held in locals: the assertion macros keep the pointers past a temporary's lifetime.
  std::string env = family_calls("env"), random = family_calls("random"), exit_family = family_calls("exit"),
              none = family_calls("nonesuch");
  cr_assert_str_eq(env.c_str(), "setenv/unsetenv/putenv/clearenv");
  cr_assert_str_eq(random.c_str(), "random/srandom/rand/srand/initstate/setstate");
  // The exit-handler registry: exit is its one catalogued call (its other entry points are counted, not reported).
  cr_assert_str_eq(exit_family.c_str(), "exit");
  cr_assert(none.empty(), "no such family in the shim");
}
