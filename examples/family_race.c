// Expect: a race — THREADS threads call CALL nonstop while the main thread forks FORKS children; each child calls
// CALL once under alarm(ALARM) and _exit(0)s.
//
//   family_race CALL [FORKS=30] [THREADS=2] [ALARM=3] [handlers]
//
// handlers: the program first installs do-nothing handlers for SIGTERM, SIGHUP, SIGCHLD and SIGUSR1, as daemons
// and servers do (the children inherit them). A handler can interrupt a lock acquisition, never make it succeed:
// a hung child hangs all the same, and is judged all the same. Such a child arms no alarm (a timer of its own
// would be its own timeout, which a handler may act on): the parent gives up on it after ALARM seconds and kills
// it (SIGKILL), and counts it hung.
// A child whose fork caught a thread inside the glibc lock CALL takes waits for a lock nothing in it can release.
// Natively it dies of SIGALRM (the default action: no handler, so the wait is judged as it would be in a real
// program). Under forkhazard such a child must be ended with exit 66 and a deadlock report, by the shim or by the
// watchdog of `forkhazard run`; the others get an unsafe-call report and exit 0. The parent forks every child
// first (they run side by side, so natively the hung ones cost ALARM seconds all together), then reaps each and
// prints one line per child that did not exit 0 and the tally:
//
//   family_race call=setenv forks=30 ok=N hung=N ended=N other=N
//
// ok: exited 0; hung: killed by SIGALRM; ended: exited 66; other: anything else. It exits 0 whatever the race
// did: the tally is the ground truth, not the exit status.
//
// Native hang rates, Debian 12 / glibc 2.36, 2 cores, `family_race CALL` (30 forks, 2 threads) run 5 times: the
// hung children of 150, the range of one run of 30, and what a hung child waits on (gdb on hung children):
//   setenv           145/150  27-30  envlock
//   localtime_r       80/150  14-18  tzset_lock
//   mktime           140/150  25-29  tzset_lock (mktime calls tzset)
//   strftime         137/150  25-30  tzset_lock (%Z of a struct tm without tm_zone calls tzset)
//   random            90/150  13-20  random.c's lock
//   rand              83/150  13-20  random.c's lock (rand calls random)
//   dl_iterate_phdr  102/150  16-24  dl_load_write_lock (a pthread mutex in ld.so, locked inside glibc)
//   dlopen            17/150   1-7   dl_load_write_lock (_dl_add_to_namespace_list); 9 more children died of
//                                    ld.so's "dl_open_worker_begin: Assertion ... RT_CONSISTENT" (exit 127)
//   dlopen_loaded      0/150   0     never: it takes only dl_load_lock, which fork resets
//   setlocale        149/150  29-30  __libc_setlocale_lock, an rwlock: a FUTEX_WAIT_BITSET without timeout, or
//   newlocale        143/150  27-30    (setlocale 4, newlocale 6 of 150) a busy loop in pthread_rwlock_wrlock:
//                                    the writer vanished inside its unlock, WRLOCKED still set and
//                                    __writers_futex already 0, so the child can neither take the lock nor block
//   syslog           144/150  27-30  syslog_lock (taken before the log mask is checked)
//   gettext            0/150   0     never: _nl_state_lock and the catalogue tree lock are taken for reading
//   iconv_open        42/150   6-12  __gconv_lock
//   getpwuid         150/150  30     getpwuid's lock of its static result (nss/getXXbyYY.c), held across the
//                                    whole NSS look-up
//   popen             61/150   9-15  proc_file_chain_lock, held across the spawn (reset by fork only from 2.41)
// And one lock that is not glibc's, run 5 times:
//   RAND_bytes        41/150   1-13  OpenSSL 3's DRBG lock, a pthread rwlock taken for writing: a FUTEX_WAIT on
//                                    __writers_futex, or a busy loop in pthread_rwlock_wrlock (a writer vanished
//                                    inside its unlock: WRLOCKED set, __writers_futex and __cur_writer already 0)
// Every hung child but the busy-looping ones waits in futex(FUTEX_WAIT[_BITSET]|FUTEX_PRIVATE_FLAG) without a
// timeout, as the only thread of its process.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <iconv.h>
#include <libintl.h>
#include <link.h>
#include <locale.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

enum { MAX_FORKS = 1000, MAX_THREADS = 16 };

// ---- the calls: what a thread does per round, and the child's one call ----------------------------------------

static void env_round(unsigned long round) {
  char value[32];
  snprintf(value, sizeof value, "%lu", round);
  setenv("FAMILY_RACE_VAR", value, 1);
  unsetenv("FAMILY_RACE_VAR");
}
static void env_child(void) { setenv("FAMILY_RACE_CHILD", "1", 1); }

static void localtime_r_once(void) {
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
}
static void localtime_r_round(unsigned long round) {
  (void)round;
  localtime_r_once();
}

static void mktime_once(void) {
  struct tm tm = {.tm_year = 126, .tm_mon = 10, .tm_mday = 29, .tm_hour = 12, .tm_isdst = -1};
  mktime(&tm);
}
static void mktime_round(unsigned long round) {
  (void)round;
  mktime_once();
}

// %Z of a struct tm without a zone name makes strftime call tzset() (POSIX: as if tzset were called).
static void strftime_once(void) {
  struct tm tm = {.tm_year = 126, .tm_mon = 10, .tm_mday = 29, .tm_isdst = 0};
  char text[64];
  strftime(text, sizeof text, "%Y-%m-%d %Z", &tm);
}
static void strftime_round(unsigned long round) {
  (void)round;
  strftime_once();
}

static void random_round(unsigned long round) {
  (void)round;
  random();
}
static void random_child(void) { random(); }

static void rand_round(unsigned long round) {
  (void)round;
  rand();
}
static void rand_child(void) { rand(); }

static int count_module(struct dl_phdr_info *info, size_t size, void *data) {
  (void)info;
  (void)size;
  ++*(int *)data;
  return 0;
}
static void dl_iterate_phdr_once(void) {
  int modules = 0;
  dl_iterate_phdr(count_module, &modules);
}
static void dl_iterate_phdr_round(unsigned long round) {
  (void)round;
  dl_iterate_phdr_once();
}

// libutil.so.1 is an empty stub of glibc 2.34+ that nothing here links: each call loads and unloads it.
static void dlopen_once(void) {
  void *handle = dlopen("libutil.so.1", RTLD_NOW);
  if (handle != NULL)
    dlclose(handle);
}
static void dlopen_round(unsigned long round) {
  (void)round;
  dlopen_once();
}

// libc.so.6 is always loaded: dlopen only finds it and counts a reference, dlclose drops it.
static void dlopen_loaded_once(void) {
  void *handle = dlopen("libc.so.6", RTLD_NOW);
  if (handle != NULL)
    dlclose(handle);
}
static void dlopen_loaded_round(unsigned long round) {
  (void)round;
  dlopen_loaded_once();
}

// C.UTF-8 ships with Debian's libc-bin; switching to it and back loads locale data under the lock.
static void setlocale_round(unsigned long round) { setlocale(LC_CTYPE, (round & 1) ? "C.UTF-8" : "C"); }
static void setlocale_child(void) { setlocale(LC_CTYPE, "C"); }

static void newlocale_once(void) {
  locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  if (locale != (locale_t)0)
    freelocale(locale);
}
static void newlocale_round(unsigned long round) {
  (void)round;
  newlocale_once();
}

// Nothing reaches a log: the threads only connect to /dev/log and close (openlog with LOG_NDELAY, closelog), and
// every message is below the log mask set in main. glibc 2.36 checks the mask under syslog_lock, so the masked
// call still takes the lock (checked: hung children wait on syslog_lock; under strace with connect made to
// succeed, no message is ever sent).
static void syslog_round(unsigned long round) {
  openlog("family_race", LOG_NDELAY, LOG_LOCAL7);
  syslog(LOG_DEBUG, "family_race round %lu", round);
  closelog();
}
static void syslog_child(void) { syslog(LOG_DEBUG, "family_race child"); }

// No textdomain is bound and the locale is "C": glibc takes its gettext locks for reading only.
static void gettext_round(unsigned long round) {
  (void)round;
  gettext("family race");
}
static void gettext_child(void) { gettext("family race"); }

static void iconv_open_once(void) {
  iconv_t cd = iconv_open("UTF-8", "ISO-8859-1");
  if (cd != (iconv_t)-1)
    iconv_close(cd);
}
static void iconv_open_round(unsigned long round) {
  (void)round;
  iconv_open_once();
}

static void getpwuid_round(unsigned long round) {
  (void)round;
  getpwuid(0);
}
static void getpwuid_child(void) { getpwuid(0); }

static void popen_once(void) {
  FILE *pipe = popen(":", "r");
  if (pipe != NULL)
    pclose(pipe);
}
static void popen_round(unsigned long round) {
  (void)round;
  popen_once();
}

// Not glibc's: OpenSSL 3's DRBG, behind a pthread rwlock (CRYPTO_THREAD_write_lock) that every RAND_bytes takes
// for writing.
static void rand_bytes_once(void) {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof bytes);
}
static void rand_bytes_round(unsigned long round) {
  (void)round;
  rand_bytes_once();
}

struct call {
  const char *name;
  void (*round)(unsigned long round); // one round of a thread
  void (*child)(void);                // the child's one call
};

static const struct call calls[] = {
    {"setenv", env_round, env_child},
    {"localtime_r", localtime_r_round, localtime_r_once},
    {"mktime", mktime_round, mktime_once},
    {"strftime", strftime_round, strftime_once},
    {"random", random_round, random_child},
    {"rand", rand_round, rand_child},
    {"dl_iterate_phdr", dl_iterate_phdr_round, dl_iterate_phdr_once},
    {"dlopen", dlopen_round, dlopen_once},
    {"dlopen_loaded", dlopen_loaded_round, dlopen_loaded_once},
    {"setlocale", setlocale_round, setlocale_child},
    {"newlocale", newlocale_round, newlocale_once},
    {"syslog", syslog_round, syslog_child},
    {"gettext", gettext_round, gettext_child},
    {"iconv_open", iconv_open_round, iconv_open_once},
    {"getpwuid", getpwuid_round, getpwuid_child},
    {"popen", popen_round, popen_once},
    {"RAND_bytes", rand_bytes_round, rand_bytes_once},
};

// ---- the race ---------------------------------------------------------------------------------------------------

static const struct call *chosen;
static pthread_barrier_t started; // once past it, every thread has done a round (lazy set-up is over)
static atomic_int stop;

__attribute__((noinline)) static void thread_calls_nonstop(void) {
  unsigned long round = 0;
  chosen->round(round++);
  pthread_barrier_wait(&started);
  while (!atomic_load(&stop))
    chosen->round(round++);
}

static void *thread_main(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "family-caller");
  thread_calls_nonstop();
  return NULL;
}

__attribute__((noinline)) static void child_calls_once(void) { chosen->child(); }

static int number(const char *text, int lo, int hi, const char *what) {
  char *end = NULL;
  long value = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value < lo || value > hi) {
    fprintf(stderr, "family_race: %s must be %d..%d, not '%s'\n", what, lo, hi, text);
    exit(2);
  }
  return (int)value;
}

static void daemon_handler(int sig) { (void)sig; }

// Waits for `pid` until `deadline` (CLOCK_MONOTONIC), then kills it (SIGKILL) and waits for that; false on error.
static int reaped_by(pid_t pid, const struct timespec *deadline, int *status) {
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid)
      return 1;
    if (r < 0 && errno != EINTR) {
      perror("family_race: waitpid");
      return 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec)) {
      kill(pid, SIGKILL);
      while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) {
          perror("family_race: waitpid");
          return 0;
        }
      return 1;
    }
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
}

static void usage(void) {
  fprintf(stderr, "usage: family_race CALL [FORKS=30] [THREADS=2] [ALARM=3] [handlers]\nCALL:");
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
    fprintf(stderr, " %s", calls[i].name);
  fprintf(stderr, "\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 6 || (argc == 6 && strcmp(argv[5], "handlers") != 0))
    usage();
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
    if (strcmp(argv[1], calls[i].name) == 0)
      chosen = &calls[i];
  if (chosen == NULL)
    usage();
  int forks = argc > 2 ? number(argv[2], 1, MAX_FORKS, "FORKS") : 30;
  int threads = argc > 3 ? number(argv[3], 1, MAX_THREADS, "THREADS") : 2;
  int alarm_seconds = argc > 4 ? number(argv[4], 1, 3600, "ALARM") : 3;
  setlogmask(LOG_MASK(LOG_EMERG)); // no message of ours is ever sent
  int with_handlers = argc == 6;
  if (with_handlers) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = daemon_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int daemon_signals[] = {SIGTERM, SIGHUP, SIGCHLD, SIGUSR1};
    for (size_t i = 0; i < sizeof daemon_signals / sizeof daemon_signals[0]; i++)
      sigaction(daemon_signals[i], &sa, NULL);
  }

  printf("ground-truth: expect=race call=%s\n", chosen->name);
  fflush(stdout);

  pthread_t thread[MAX_THREADS];
  pthread_barrier_init(&started, NULL, (unsigned)threads + 1);
  for (int i = 0; i < threads; i++)
    if (pthread_create(&thread[i], NULL, thread_main, NULL) != 0) {
      fprintf(stderr, "family_race: pthread_create failed\n");
      return 1;
    }
  pthread_barrier_wait(&started);

  static pid_t children[MAX_FORKS];
  int forked = 0;
  for (; forked < forks; forked++) {
    struct timespec pause = {0, 1000 * 1000}; // let the threads move on between forks
    nanosleep(&pause, NULL);
    pid_t pid = fork();
    if (pid < 0) {
      perror("family_race: fork");
      break;
    }
    if (pid == 0) {
      if (!with_handlers)
        alarm((unsigned)alarm_seconds); // natively a hung child ends here, with SIGALRM
      child_calls_once();
      _exit(0);
    }
    children[forked] = pid;
  }

  // Only our own children by pid: popen's threads reap theirs with their own waitpid.
  int ok = 0, hung = 0, ended = 0, other = 0;
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += alarm_seconds;
  for (int i = 0; i < forked; i++) {
    int status;
    if (with_handlers && !reaped_by(children[i], &deadline, &status))
      return 1;
    while (!with_handlers && waitpid(children[i], &status, 0) < 0) {
      if (errno != EINTR) {
        perror("family_race: waitpid");
        return 1;
      }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      ok++;
    } else if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGALRM || (with_handlers && WTERMSIG(status) == SIGKILL))) {
      hung++;
      printf("child %d killed by signal %d (%s)\n", (int)children[i], WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 66) {
      ended++;
      printf("child %d exited with status 66\n", (int)children[i]);
    } else {
      other++;
      if (WIFSIGNALED(status))
        printf("child %d killed by signal %d (%s)\n", (int)children[i], WTERMSIG(status),
               strsignal(WTERMSIG(status)));
      else
        printf("child %d exited with status %d\n", (int)children[i], WEXITSTATUS(status));
    }
  }
  printf("family_race call=%s forks=%d ok=%d hung=%d ended=%d other=%d\n", chosen->name, forked, ok, hung, ended,
         other);
  fflush(stdout);

  atomic_store(&stop, 1);
  for (int i = 0; i < threads; i++)
    pthread_join(thread[i], NULL);
  return 0;
}
