// `make bench`: the cost of the shim, each figure measured natively, under the shim and under a pass-through
// interposer (passthrough.cpp: the floor, what any interposer costs just to forward a call) in the same run,
// alternating the three in rounds; prints the median of the per-round ratios. Not a test: it asserts nothing and
// exits 0 whatever it measures.
//
//   bench_locks --shim LIB --floor LIB --cli FORKHAZARD --workdir DIR --python-workload FILE [--rounds N]
//               [--program-rounds N] [--processes N] [--only NAME,NAME]   the driver (FORKHAZARD_OPTIONS goes to
//                                     the shim runs; --processes: a micro figure's reading per round is the best
//                                     of N fresh processes, 3 by default)
//   bench_locks --measure NAME        one micro or memory figure in this process; prints "wall cpu" (ns per
//                                     operation; memory: KiB and nan)
//   bench_locks --timed-exec FILE -- CMD...   runs CMD (stdout to /dev/null), writes its rusage to FILE
//   bench_locks --list                the figures' names
//
// Profile one figure under the shim with, e.g.:
//   LD_PRELOAD=$PWD/build/libforkhazard.so perf record -g build/bench_locks --measure mutex_lock_unlock
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// ---- the measured process ------------------------------------------------------------------------------------

// Threads parked in read(2) on a pipe nobody writes: the process is multithreaded, as real programs are, and the
// threads cost nothing while parked. An optional mutex per thread is taken before parking (held until exit).
class ParkedThreads {
 public:
  ParkedThreads() {
    if (pipe(fds_) != 0) fds_[0] = fds_[1] = -1;
  }
  // Starts n threads; each locks its own mutex first when `holding`. Returns how many started.
  int start(int n, bool holding) {
    int started = 0;
    for (int i = 0; i < n; i++) {
      auto* slot = new Slot{this, holding, PTHREAD_MUTEX_INITIALIZER, {}};
      pthread_t t;
      if (pthread_create(&t, nullptr, &ParkedThreads::park, slot) != 0) break;
      slots_.push_back(slot);
      started++;
    }
    // Wait until every thread is parked (holding its lock, if any).
    while (ready_.load() < static_cast<int>(slots_.size())) usleep(100);
    return started;
  }

 private:
  struct Slot {
    ParkedThreads* owner;
    bool holding;
    pthread_mutex_t mutex;
    char padding[24];
  };
  static void* park(void* arg) {
    auto* slot = static_cast<Slot*>(arg);
    if (slot->holding) pthread_mutex_lock(&slot->mutex);
    slot->owner->ready_.fetch_add(1);
    char c;
    while (read(slot->owner->fds_[0], &c, 1) < 0) {
    }
    return nullptr;
  }
  int fds_[2];
  std::atomic<int> ready_{0};
  std::vector<Slot*> slots_;  // never freed: the threads live until exit
};

// One measurement: wall-clock ns per operation, and CPU ns per operation (this process's threads and the
// children it reaped). On a loaded machine the wall clock includes waiting for a CPU; the CPU time does not.
struct Sample {
  double wall = NAN, cpu = NAN;
};

double cpu_ns_now() {
  timespec self{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &self);
  rusage children{};
  getrusage(RUSAGE_CHILDREN, &children);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  return static_cast<double>(self.tv_sec) * 1e9 + static_cast<double>(self.tv_nsec) +
         (us(children.ru_utime) + us(children.ru_stime)) * 1e3;
}

class Timer {
 public:
  Timer() : wall_(clock_type::now()), cpu_(cpu_ns_now()) {}
  Sample per_op(double ops) const {
    double cpu = cpu_ns_now() - cpu_;
    return {seconds_since(wall_) * 1e9 / ops, cpu / ops};
  }

 private:
  clock_type::time_point wall_;
  double cpu_;
};

// On a loaded machine a timed loop is preempted now and then: the shortest of many short timings is the one
// that ran undisturbed, and the same estimator for native, shim and floor keeps their ratio fair.
constexpr int timings = 15;

// The best of `timings` timings of `once` (wall clock and CPU each), after one more as a warm-up.
Sample best_of(const std::function<Sample()>& once) {
  once();
  Sample best{INFINITY, INFINITY};
  for (int rep = 0; rep < timings; rep++) {
    Sample s = once();
    best = {std::min(best.wall, s.wall), std::min(best.cpu, s.cpu)};
  }
  return best;
}

// Per operation of f over `n` calls in all, split in `timings` loops: the best loop (wall clock and CPU each),
// after a warm-up loop. When `capped`, a probe first estimates the cost and a loop is cut to ~20 ms: a variant
// more than ~10x slower than native (lock_stack_depth=4 unwinds at every lock) then takes seconds, not minutes.
template <class F>
Sample best_ns_per_op(long n, F f, bool capped = true) {
  long per_loop = std::max(1L, n / timings);
  if (capped) {
    long probe = std::max(1L, per_loop / 50);
    Timer timer;
    for (long i = 0; i < probe; i++) f(i);
    double ns = timer.per_op(static_cast<double>(probe)).wall;
    if (ns > 0) per_loop = std::clamp(static_cast<long>(20e6 / ns), 1L, per_loop);
  }
  return best_of([&] {
    Timer timer;
    for (long i = 0; i < per_loop; i++) f(i);
    return timer.per_op(static_cast<double>(per_loop));
  });
}

// Resident KiB, counted from the page tables: /proc/self/status's VmRSS comes from counters the kernel updates
// in batches (64 pages at a time per CPU), too coarse for a difference of a few pages.
long rss_kib() {
  std::ifstream rollup("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(rollup, line))
    if (line.rfind("Rss:", 0) == 0) return std::atol(line.c_str() + 4);
  return -1;
}

// The first reading touches memory of its own (the stream's buffer, stdio's locale data: ~64 KiB) after the kernel
// counted: a reading before the baseline keeps that out of the difference.
long rss_kib_baseline() {
  rss_kib();
  return rss_kib();
}

pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_nested[8];
pthread_rwlock_t g_rwlock = PTHREAD_RWLOCK_INITIALIZER;
std::mutex g_std_mutex;
volatile long g_counter;
void* g_ring[64];
pthread_mutex_t g_many[10000];  // zero is PTHREAD_MUTEX_INITIALIZER on glibc

Sample mutex_lock_unlock() {
  return best_ns_per_op(2000000, [](long) {
    pthread_mutex_lock(&g_mutex);
    pthread_mutex_unlock(&g_mutex);
  });
}

Sample mutex_nested8() {
  for (auto& m : g_nested) pthread_mutex_init(&m, nullptr);
  return best_ns_per_op(250000, [](long) {
    for (auto& m : g_nested) pthread_mutex_lock(&m);
    for (int i = 7; i >= 0; i--) pthread_mutex_unlock(&g_nested[i]);
  });
}

// Two threads each take the mutex n times, an increment inside when `work`; wall time per lock+unlock, both
// threads counted.
Sample two_threads_contend(long n, bool work) {
  return best_of([n, work] {
    std::atomic<bool> go{false};
    std::atomic<int> waiting{0};
    auto body = [&] {
      waiting.fetch_add(1);
      while (!go.load()) sched_yield();
      for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&g_mutex);
        if (work) g_counter = g_counter + 1;
        pthread_mutex_unlock(&g_mutex);
      }
    };
    using Body = decltype(body);
    auto trampoline = [](void* b) -> void* {
      (*static_cast<Body*>(b))();
      return nullptr;
    };
    pthread_t a, b;
    pthread_create(&a, nullptr, trampoline, &body);
    pthread_create(&b, nullptr, trampoline, &body);
    while (waiting.load() < 2) sched_yield();
    Timer timer;
    go.store(true);
    pthread_join(a, nullptr);
    pthread_join(b, nullptr);
    return timer.per_op(2.0 * n);
  });
}

Sample mutex_contended2() { return two_threads_contend(50000, true); }

// The same two threads with nothing between lock and unlock: the tightest contention, every op a handover.
Sample mutex_contended_tight() { return two_threads_contend(100000, false); }

// syscall(SYS_futex, FUTEX_WAKE) with no waiter: what a parking lot that goes through syscall() (Rust's, and
// others') pays per wake, the wrapper's compare included.
Sample syscall_futex_wake() {
  static int word = 0;
  return best_ns_per_op(1000000, [](long) { syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0); });
}

Sample rwlock_read() {
  return best_ns_per_op(2000000, [](long) {
    pthread_rwlock_rdlock(&g_rwlock);
    pthread_rwlock_unlock(&g_rwlock);
  });
}

Sample rwlock_write() {
  return best_ns_per_op(2000000, [](long) {
    pthread_rwlock_wrlock(&g_rwlock);
    pthread_rwlock_unlock(&g_rwlock);
  });
}

// sem_post to a second thread and sem_wait for its answer: ns per round trip (two posts, two waits, two wakes).
Sample sem_pingpong() {
  constexpr long n = 1000;
  return best_of([] {
    static sem_t ping, pong;
    sem_init(&ping, 0, 0);
    sem_init(&pong, 0, 0);
    pthread_t t;
    pthread_create(
        &t, nullptr,
        [](void*) -> void* {
          for (long i = 0; i < n; i++) {
            sem_wait(&ping);
            sem_post(&pong);
          }
          return nullptr;
        },
        nullptr);
    Timer timer;
    for (long i = 0; i < n; i++) {
      sem_post(&ping);
      sem_wait(&pong);
    }
    Sample ns = timer.per_op(n);
    pthread_join(t, nullptr);
    sem_destroy(&ping);
    sem_destroy(&pong);
    return ns;
  });
}

Sample sem_post_wait() {
  static sem_t s;
  sem_init(&s, 0, 0);
  return best_ns_per_op(2000000, [](long) {
    sem_post(&s);
    sem_wait(&s);
  });
}

Sample std_mutex_guard() {
  return best_ns_per_op(2000000, [](long) {
    std::lock_guard<std::mutex> guard(g_std_mutex);
    g_counter = g_counter + 1;
  });
}

// One malloc and one free per operation, sizes 16..512 in a scattered order, through a ring of 64 live blocks
// (so a free is rarely of the block just allocated).
Sample malloc_free_mixed() {
  Sample ns = best_ns_per_op(2000000, [](long i) {
    size_t size = 16 + static_cast<size_t>((i * 7) & 31) * 16;
    void*& slot = g_ring[i & 63];
    free(slot);
    slot = malloc(size);
  });
  for (void*& slot : g_ring) {
    free(slot);
    slot = nullptr;
  }
  return ns;
}

// Threads and forks: loops of a fixed count, never cut (see best_ns_per_op).
Sample thread_create_join() {
  return best_ns_per_op(
      450,
      [](long) {
        pthread_t t;
        pthread_create(&t, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
        pthread_join(t, nullptr);
      },
      false);
}

Sample fork_exit_wait(long n) {
  return best_ns_per_op(
      n,
      [](long) {
        pid_t p = fork();
        if (p == 0) _exit(0);
        waitpid(p, nullptr, 0);
      },
      false);
}

// fork+_exit+waitpid with 4 idle threads (the 3 every measured process has, and one more).
Sample fork_4_threads(ParkedThreads& parked) {
  parked.start(1, false);
  return fork_exit_wait(90);
}

// The same with 64 more threads, each holding its own mutex, parked.
Sample fork_64_holding(ParkedThreads& parked) {
  parked.start(64, true);
  return fork_exit_wait(60);
}

// KiB of RSS per idle thread: 1000 more threads parked.
Sample rss_per_thread(ParkedThreads& parked) {
  pthread_t t;  // one thread created and joined first: one-time set-up is not a per-thread cost
  pthread_create(&t, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
  pthread_join(t, nullptr);
  long before = rss_kib_baseline();
  int started = parked.start(1000, false);
  long after = rss_kib();
  return {started > 0 ? static_cast<double>(after - before) / started : NAN, NAN};
}

// KiB of RSS that 10 000 distinct mutexes, each locked and unlocked once, add (their memory is touched first).
Sample rss_10k_mutexes() {
  memset(static_cast<void*>(g_many), 0, sizeof g_many);
  for (int i = 0; i < 100; i++) {
    pthread_mutex_lock(&g_mutex);
    pthread_mutex_unlock(&g_mutex);
  }
  long before = rss_kib_baseline();
  for (auto& m : g_many) {
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
  }
  return {static_cast<double>(rss_kib() - before), NAN};
}

// ---- the figures ----------------------------------------------------------------------------------------------

enum class Kind { micro, memory, program };

struct Figure {
  const char* name;   // in `bench name=...` lines
  const char* label;  // in the table
  Kind kind;
  const char* unit;  // of the value the measurement returns: ns, KiB or s (CPU)
  std::function<Sample(ParkedThreads&)> measure;  // micro and memory: runs in the measured process
  std::vector<std::string> command;                // program: run natively, under `forkhazard run`, with the floor
};

std::vector<Figure> figures(const std::string& input, const std::string& python, const std::string& workload) {
  auto plain = [](Sample (*f)()) { return [f](ParkedThreads&) { return f(); }; };
  return {
      {"mutex_lock_unlock", "pthread_mutex_lock+unlock, uncontended", Kind::micro, "ns", plain(mutex_lock_unlock), {}},
      {"mutex_nested8", "8 nested mutexes, lock all, unlock reverse", Kind::micro, "ns", plain(mutex_nested8), {}},
      {"mutex_contended2", "2 threads contending one mutex (per op)", Kind::micro, "ns", plain(mutex_contended2), {}},
      {"mutex_contended_tight", "2 threads, one mutex, nothing between (per op)", Kind::micro, "ns",
       plain(mutex_contended_tight), {}},
      {"syscall_futex", "syscall(SYS_futex, FUTEX_WAKE), no waiter", Kind::micro, "ns", plain(syscall_futex_wake), {}},
      {"rwlock_read", "pthread_rwlock_rdlock+unlock", Kind::micro, "ns", plain(rwlock_read), {}},
      {"rwlock_write", "pthread_rwlock_wrlock+unlock", Kind::micro, "ns", plain(rwlock_write), {}},
      {"sem_pingpong", "sem_post+sem_wait ping-pong, 2 threads", Kind::micro, "ns", plain(sem_pingpong), {}},
      {"sem_post_wait", "sem_post+sem_wait, one thread", Kind::micro, "ns", plain(sem_post_wait), {}},
      {"std_mutex_guard", "std::mutex via std::lock_guard", Kind::micro, "ns", plain(std_mutex_guard), {}},
      {"malloc_free_mixed", "malloc+free, sizes 16..512", Kind::micro, "ns", plain(malloc_free_mixed), {}},
      {"thread_create_join", "pthread_create+join", Kind::micro, "ns", plain(thread_create_join), {}},
      {"fork_4_threads", "fork+_exit+waitpid, 4 idle threads", Kind::micro, "ns", fork_4_threads, {}},
      {"fork_64_holding", "fork+_exit+waitpid, +64 threads holding a lock", Kind::micro, "ns", fork_64_holding, {}},
      {"rss_per_thread", "RSS per idle thread (1000 threads)", Kind::memory, "KiB", rss_per_thread, {}},
      {"rss_10k_mutexes", "RSS added by 10 000 mutexes locked once", Kind::memory, "KiB",
       [](ParkedThreads&) { return rss_10k_mutexes(); }, {}},
      {"pigz_p2", "pigz -p 2, 32 MiB (CPU)", Kind::program, "s", {}, {"pigz", "-p", "2", "-c", input}},
      // xz's default preset -6 makes one 24 MiB block of the input (one thread busy) and ~30 s of CPU a run;
      // -1 makes 3 MiB blocks (both threads busy) and fits the rounds in the time a benchmark should take.
      {"xz_T2", "xz -T2 -1, 32 MiB (CPU)", Kind::program, "s", {}, {"xz", "-T2", "-1", "-c", input}},
      {"zstd_T2", "zstd -T2, 32 MiB (CPU)", Kind::program, "s", {}, {"zstd", "-q", "-T2", "-c", input}},
      {"python_queue", "Python queue.Queue, 200k items (CPU)", Kind::program, "s", {},
       {python, workload, "200000"}},
      {"python_pool", "Python multiprocessing.Pool(2), 20 x 5000 tasks (CPU)", Kind::program, "s", {},
       {python, workload.substr(0, workload.rfind('/') + 1) + "pool_workload.py", "20"}},
      // Start-up: the cost per exec of a program that does nothing, the shim loaded into each one.
      {"startup_500", "sh loop of 500 /bin/true (CPU)", Kind::program, "s", {},
       {"/bin/sh", "-c", "i=0; while [ $i -lt 500 ]; do /bin/true; i=$((i+1)); done"}},
  };
}

int measure_one(const char* name) {
  ParkedThreads parked;
  parked.start(3, false);
  for (const Figure& f : figures("", "", ""))
    if (f.measure && strcmp(f.name, name) == 0) {
      Sample s = f.measure(parked);
      printf("%.6g %.6g\n", s.wall, s.cpu);
      return 0;
    }
  fprintf(stderr, "bench_locks: no figure %s\n", name);
  return 2;
}

// ---- running children -----------------------------------------------------------------------------------------

struct Outcome {
  int status = -1;  // wait status; -1 when it could not start
  std::string out;  // stdout, when captured
  double user = 0, sys = 0, wall = 0;
  bool ok() const { return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

std::string describe_status(int status) {
  if (status < 0) return "could not start";
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Runs argv with env; stdout captured (stdout_path empty) or sent to stdout_path; stderr to stderr_path or ours.
Outcome spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
              const std::string& stdout_path, const std::string& stderr_path) {
  Outcome o;
  int out[2] = {-1, -1};
  if (stdout_path.empty() && pipe(out) != 0) return o;
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  auto t0 = clock_type::now();
  pid_t pid = fork();
  if (pid == 0) {
    int fd = stdout_path.empty() ? out[1] : open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, STDOUT_FILENO);
    if (!stderr_path.empty()) {
      int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) dup2(err, STDERR_FILENO);
    }
    if (out[0] >= 0) close(out[0]);
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  if (out[1] >= 0) close(out[1]);
  if (pid < 0) {
    if (out[0] >= 0) close(out[0]);
    return o;
  }
  if (out[0] >= 0) {
    char buf[4096];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) != 0)
      if (n > 0) o.out.append(buf, static_cast<size_t>(n));
      else if (errno != EINTR) break;
    close(out[0]);
  }
  struct rusage ru {};
  while (wait4(pid, &o.status, 0, &ru) < 0 && errno == EINTR) {
  }
  o.wall = seconds_since(t0);
  o.user = static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6;
  o.sys = static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6;
  return o;
}

// --timed-exec FILE -- CMD...: runs CMD with stdout to /dev/null and writes "user sys wall status" of it (and of
// everything it waited for) to FILE, so that the CPU of CMD can be told apart from that of `forkhazard run`.
int timed_exec(const char* file, char** cmd) {
  std::vector<std::string> argv(cmd, cmd + [&] { int n = 0; while (cmd[n] != nullptr) n++; return n; }());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; e++) env.push_back(*e);
  Outcome o = spawn(argv, env, "/dev/null", "");
  FILE* f = fopen(file, "w");
  if (f != nullptr) {
    fprintf(f, "%.6f %.6f %.6f %d\n", o.user, o.sys, o.wall, o.status);
    fclose(f);
  }
  return o.ok() ? 0 : 1;
}

// ---- the driver -----------------------------------------------------------------------------------------------

enum Variant { native = 0, shim = 1, floor_ = 2 };
const char* const variant_names[] = {"native", "shim", "floor"};

struct Config {
  std::string self, shim_lib, floor_lib, cli, workdir, python_workload, options, python;
  int rounds = 7, program_rounds = 7;
  int processes = 3;  // micro figures: a round's reading of a variant is the best of this many processes
  std::vector<std::string> only;
};

// Our environment without LD_PRELOAD and FORKHAZARD_OPTIONS, plus what the variant sets.
std::vector<std::string> environment(const Config& c, Variant v, bool through_cli) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; e++)
    if (strncmp(*e, "LD_PRELOAD=", 11) != 0 && strncmp(*e, "FORKHAZARD_OPTIONS=", 19) != 0 &&
        strncmp(*e, "FORKHAZARD_LIB=", 15) != 0)
      env.push_back(*e);
  if (v == floor_) env.push_back("LD_PRELOAD=" + c.floor_lib);
  if (v == shim) {
    if (through_cli) env.push_back("FORKHAZARD_LIB=" + c.shim_lib);
    else env.push_back("LD_PRELOAD=" + c.shim_lib);
    if (!c.options.empty()) env.push_back("FORKHAZARD_OPTIONS=" + c.options);
  }
  return env;
}

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Per-round values of one variant, NaN where the run failed. value: the figure (micro: wall ns per operation;
// memory: KiB; programs: CPU seconds of the command); cpu: micro figures' CPU ns per operation; overhead, wall:
// programs' CPU of all but the command, and their wall clock.
struct Series {
  std::vector<double> value, cpu, overhead, wall;
};

struct Row {
  const Figure* figure;
  Series series[3];
  std::string note;  // failed runs
  double seconds;    // the row's time, rounds included
};

std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r;
  for (size_t i = 0; i < a.size() && i < b.size(); i++) r.push_back(b[i] > 0 ? a[i] / b[i] : NAN);
  return r;
}

std::string fmt(const char* format, double x) {
  if (!std::isfinite(x)) return "-";
  char buf[64];
  snprintf(buf, sizeof buf, format, x);
  return buf;
}

// A ratio in at most 6 characters.
std::string ratio_text(double x) { return fmt(x < 10 ? "%.2f" : x < 100 ? "%.1f" : "%.0f", x); }

// A value with its unit, scaled for reading: ns up to 10 µs, then µs; KiB; seconds of CPU.
std::string human(double x, const char* unit) {
  if (!std::isfinite(x)) return "-";
  if (strcmp(unit, "ns") == 0) return x < 10000 ? fmt("%.1f ns", x) : fmt("%.1f us", x / 1000);
  if (strcmp(unit, "KiB") == 0) return fmt("%.1f KiB", x);
  return fmt("%.3f s", x);
}

bool on_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0;
  const char* path = getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  return false;
}

// Adds what went wrong in a run to a row's note, once however many rounds it happens in.
void add_note(std::string& note, const std::string& what) {
  if (note.find(what) == std::string::npos) note += (note.empty() ? "" : "; ") + what;
}

// One reading of a micro or memory figure: a micro figure's is the best of c.processes fresh processes, a
// memory figure's one process. On this project's VM a whole process runs some loops at half speed (malloc+free:
// 5.7 or 11.2 ns per operation, about a third of the processes slow, natively and under either interposer alike,
// with ASLR off too): the best of 3 makes that a ~4 % chance per reading instead of ~35 %.
void run_micro(const Config& c, const Figure& f, Variant v, Series& s, std::string& note) {
  int processes = f.kind == Kind::micro ? c.processes : 1;
  double best_wall = NAN, best_cpu = NAN;
  for (int p = 0; p < processes; p++) {
    Outcome o = spawn({c.self, "--measure", f.name}, environment(c, v, false), "", "");
    double wall = NAN, cpu = NAN;
    if (!o.ok() || sscanf(o.out.c_str(), "%lf %lf", &wall, &cpu) < 1) {
      add_note(note, std::string(variant_names[v]) + ": " + describe_status(o.status));
      continue;
    }
    if (!(wall >= best_wall)) best_wall = wall;  // NaN compares false: the first reading is taken
    if (!(cpu >= best_cpu)) best_cpu = cpu;
  }
  s.value.push_back(best_wall);
  s.cpu.push_back(best_cpu);
}

// One run of a program: natively and with the floor through --timed-exec, with the shim through
// `forkhazard run -- bench_locks --timed-exec`, as a user would run it. value: CPU (user+sys) of the command;
// overhead: CPU of everything else in the run (the CLI and its watchdog's polls; the --timed-exec helper).
void run_program(const Config& c, const Figure& f, Variant v, Series& s, std::string& note) {
  std::string times = c.workdir + "/times." + variant_names[v], errors = c.workdir + "/stderr." + variant_names[v];
  std::vector<std::string> argv;
  if (v == shim) argv = {c.cli, "run", "--"};
  argv.insert(argv.end(), {c.self, "--timed-exec", times, "--"});
  argv.insert(argv.end(), f.command.begin(), f.command.end());
  unlink(times.c_str());
  Outcome o = spawn(argv, environment(c, v, true), "/dev/null", errors);
  double user = NAN, sys = NAN, wall = NAN;
  int status = -1;
  FILE* t = fopen(times.c_str(), "r");
  if (t != nullptr) {
    if (fscanf(t, "%lf %lf %lf %d", &user, &sys, &wall, &status) != 4) user = NAN;
    fclose(t);
  }
  // Under the shim, `forkhazard run` says 66 when it reported a hazard (a real one: a benchmark program is not
  // chosen for its innocence): the run counts when the program itself exited 0.
  const bool reported = v == shim && o.status >= 0 && WIFEXITED(o.status) && WEXITSTATUS(o.status) == 66 &&
                        status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (reported) add_note(note, "shim: hazards reported");
  if ((!o.ok() && !reported) || !std::isfinite(user)) {
    std::ifstream in(errors);
    std::string first;
    std::getline(in, first);
    add_note(note, std::string(variant_names[v]) + ": " + describe_status(o.status) +
                       (first.empty() ? "" : " (" + first + ")"));
  }
  bool ok = (o.ok() || reported) && std::isfinite(user);
  s.value.push_back(ok ? user + sys : NAN);
  s.overhead.push_back(ok ? o.user + o.sys - (user + sys) : NAN);
  s.wall.push_back(ok ? o.wall : NAN);
}

// The first line a shell command prints.
std::string first_line_of(const std::string& command) {
  std::string line;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[256];
    if (fgets(buf, sizeof buf, p) != nullptr) line = buf;
    pclose(p);
  }
  auto decoration = [](char ch) { return ch == '\n' || ch == ' ' || ch == '*'; };  // zstd: "*** Zstandard ... ***"
  while (!line.empty() && decoration(line.back())) line.pop_back();
  while (!line.empty() && decoration(line.front())) line.erase(0, 1);
  return line;
}

void print_header(const Config& c) {
  utsname u{};
  uname(&u);
  std::string cpu = "unknown";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  char date[64];
  time_t now = time(nullptr);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
  std::string load = "?";
  std::ifstream("/proc/loadavg") >> load;
  printf("forkhazard bench, %s\n", date);
  printf("machine: nproc=%ld, cpu=%s, kernel=%s %s, glibc=%s, load average (1 min) at start=%s\n",
         sysconf(_SC_NPROCESSORS_ONLN), cpu.c_str(), u.sysname, u.release, gnu_get_libc_version(), load.c_str());
  printf("shim:  %s (and %s), FORKHAZARD_OPTIONS=\"%s\"\n", c.shim_lib.c_str(), c.cli.c_str(), c.options.c_str());
  printf("floor: %s (dlsym(RTLD_NEXT) forwarding only)\n", c.floor_lib.c_str());
  std::string versions;
  for (const Figure& f : figures("", c.python, ""))
    if (f.kind == Kind::program && on_path(f.command[0])) versions += (versions.empty() ? "" : ", ") + first_line_of(
        f.command[0] + " --version 2>&1");
  printf("programs: %s\n", versions.c_str());
  printf("%d rounds (programs: %d); a round runs native, shim and floor in rotating order, each in fresh processes\n"
         "with 3 idle threads. Micro figures: wall clock per operation, the best of 15 short loops in a process and\n"
         "the best of %d processes (CPU time per operation likewise; a loop is cut to ~20 ms, so a variant ~10x\n"
         "slower than native runs fewer).\n"
         "\"shim x\", \"floor x\": medians over the rounds of that round's ratio to native; \"above floor\": of\n"
         "shim/floor; \"shim x CPU\": the shim's ratio in CPU time (process and reaped children), steadier than\n"
         "the wall clock on a loaded machine; \"shim x range\": the smallest and largest round ratio.\n"
         "Programs: CPU (user+sys) of the command; the shim runs under `forkhazard run`, whose own CPU\n"
         "(its watchdog polls every 200 ms) is in the note. Memory: KiB, one reading per process.\n\n",
         c.rounds, c.program_rounds, c.processes);
}

const char row_format[] = "%-47s %10s %10s %6s %6s %6s %6s %13s  %s\n";

// The smallest and largest finite value, as "lo-hi".
std::string range_of(const std::vector<double>& v) {
  double lo = INFINITY, hi = -INFINITY;
  for (double x : v)
    if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  return std::isfinite(lo) ? ratio_text(lo) + "-" + ratio_text(hi) : "-";
}

// The figures a row prints, from its rounds.
struct Summary {
  double native, shim, floor_value, shim_x, floor_x, above_floor, cpu_x, cli_cpu, with_cli_x;
  std::string range;
};

Summary summarize(const Row& r) {
  auto& s = r.series;
  Summary m{};
  m.native = median(s[native].value);
  m.shim = median(s[shim].value);
  m.floor_value = median(s[floor_].value);
  std::vector<double> shim_x = ratios(s[shim].value, s[native].value);
  m.shim_x = median(shim_x);
  m.range = range_of(shim_x);
  m.floor_x = median(ratios(s[floor_].value, s[native].value));
  m.above_floor = median(ratios(s[shim].value, s[floor_].value));
  // Micro figures: the same ratio in CPU time; programs: their value is CPU time already.
  m.cpu_x = r.figure->kind == Kind::program ? m.shim_x : median(ratios(s[shim].cpu, s[native].cpu));
  m.cli_cpu = median(s[shim].overhead);
  std::vector<double> total[3];
  for (int v : {native, shim})
    for (size_t i = 0; i < s[v].overhead.size(); i++) total[v].push_back(s[v].value[i] + s[v].overhead[i]);
  m.with_cli_x = median(ratios(total[shim], total[native]));
  return m;
}

void print_row(const Row& r) {
  const Figure& f = *r.figure;
  auto& s = r.series;
  Summary m = summarize(r);
  std::string note;
  if (f.kind == Kind::memory)
    note = "shim " + fmt("%+.1f", m.shim - m.native) + " KiB, floor " + fmt("%+.1f", m.floor_value - m.native) +
           " KiB";
  if (f.kind == Kind::program && std::isfinite(m.with_cli_x))
    note = "with the CLI " + fmt("%.2fx", m.with_cli_x) + " (CLI " + fmt("%.3f s", m.cli_cpu) + " CPU); wall " +
           fmt("%.2f s", median(s[shim].wall)) + " vs " + fmt("%.2f s", median(s[native].wall));
  if (!r.note.empty()) note += (note.empty() ? "" : "; ") + r.note;
  printf(row_format, f.label, human(m.native, f.unit).c_str(), human(m.shim, f.unit).c_str(),
         ratio_text(m.shim_x).c_str(), ratio_text(m.floor_x).c_str(), ratio_text(m.above_floor).c_str(),
         ratio_text(m.cpu_x).c_str(), m.range.c_str(), note.c_str());
  fflush(stdout);
}

void print_machine_line(const Row& r) {
  const Figure& f = *r.figure;
  auto& s = r.series;
  Summary m = summarize(r);
  printf("bench name=%s unit=%s native=%s shim=%s ratio=%s floor=%s above_floor=%s floor_value=%s cpu_ratio=%s "
         "ratio_range=%s",
         f.name, f.unit, fmt("%.6g", m.native).c_str(), fmt("%.6g", m.shim).c_str(), fmt("%.4g", m.shim_x).c_str(),
         fmt("%.4g", m.floor_x).c_str(), fmt("%.4g", m.above_floor).c_str(), fmt("%.6g", m.floor_value).c_str(),
         fmt("%.4g", m.cpu_x).c_str(), m.range.c_str());
  if (f.kind == Kind::program)
    printf(" cli_cpu=%s ratio_with_cli=%s wall_native=%s wall_shim=%s", fmt("%.4g", m.cli_cpu).c_str(),
           fmt("%.4g", m.with_cli_x).c_str(), fmt("%.4g", median(s[native].wall)).c_str(),
           fmt("%.4g", median(s[shim].wall)).c_str());
  printf(" rounds=%zu seconds=%.0f\n", s[native].value.size(), r.seconds);
}

// Writes the compressors' input once: text lines drawn from 128 templates over a 64-word vocabulary, each with one
// more word and a number from a fixed-seed xorshift generator (deterministic, about 7:1 for xz -1).
bool make_input(const std::string& path) {
  constexpr size_t size = 32u << 20;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && static_cast<size_t>(st.st_size) == size) return true;
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  std::vector<std::string> words, templates;
  for (int i = 0; i < 64; i++) {
    std::string w;
    for (uint64_t len = 2 + next() % 8; len > 0; len--) w += static_cast<char>('a' + next() % 26);
    words.push_back(w);
  }
  for (int i = 0; i < 128; i++) {
    std::string t;
    for (uint64_t n = 4 + next() % 7; n > 0; n--) t += (t.empty() ? "" : " ") + words[next() % 64];
    templates.push_back(t);
  }
  std::string data;
  data.reserve(size + 256);
  while (data.size() < size)
    data += templates[next() % 128] + " " + words[next() % 64] + " id=" + std::to_string(next() % 10000) + "\n";
  data.resize(size);
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = fclose(f) == 0 && ok;
  return ok && rename(tmp.c_str(), path.c_str()) == 0;
}

// Copies `from` into `dir` and returns the copy's path (`from` itself when the copy fails).
std::string snapshot(const std::string& from, const std::string& dir) {
  std::string to = dir + "/" + from.substr(from.rfind('/') + 1), tmp = to + ".tmp";
  {
    std::ifstream in(from, std::ios::binary);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
    if (!in || !out) return from;
  }
  if (chmod(tmp.c_str(), 0755) != 0 || rename(tmp.c_str(), to.c_str()) != 0) return from;
  return to;
}

int drive(Config c) {
  auto start = clock_type::now();
  const char* options = getenv("FORKHAZARD_OPTIONS");
  c.options = options != nullptr ? options : "";
  mkdir(c.workdir.c_str(), 0755);
  // The shim and the CLI measured are copies, so a rebuild while the rounds run cannot mix two builds.
  c.shim_lib = snapshot(c.shim_lib, c.workdir);
  c.cli = snapshot(c.cli, c.workdir);
  std::string input = c.workdir + "/input-32MiB.txt";
  // The system's Python, not a version manager's wrapper script (which `forkhazard run` would watch too).
  c.python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  std::vector<Figure> all = figures(input, c.python, c.python_workload);
  print_header(c);
  printf(row_format, "figure", "native", "shim", "shim", "floor", "above", "shim x", "shim x", "note");
  printf(row_format, "", "", "", "x", "x", "floor", "CPU", "range", "");
  std::vector<Row> rows;
  bool input_ready = false;
  for (const Figure& f : all) {
    if (!c.only.empty() && std::find(c.only.begin(), c.only.end(), f.name) == c.only.end()) continue;
    Row row{&f, {}, "", 0};
    auto row_start = clock_type::now();
    if (f.kind == Kind::program) {
      if (!on_path(f.command[0])) {
        row.note = f.command[0] + " not installed: skipped (`make bench` installs it when run as root)";
        printf(row_format, f.label, "-", "-", "-", "-", "-", "-", "-", row.note.c_str());
        continue;
      }
      if (!input_ready && !(input_ready = make_input(input))) {
        printf(row_format, f.label, "-", "-", "-", "-", "-", "-", "-", ("cannot write " + input).c_str());
        continue;
      }
    }
    int rounds = f.kind == Kind::program ? c.program_rounds : c.rounds;
    for (int r = 0; r < rounds; r++)
      for (int k = 0; k < 3; k++) {
        auto v = static_cast<Variant>((r + k) % 3);
        if (f.kind == Kind::program) run_program(c, f, v, row.series[v], row.note);
        else run_micro(c, f, v, row.series[v], row.note);
      }
    row.seconds = seconds_since(row_start);
    print_row(row);
    rows.push_back(row);
  }
  printf("\n");
  for (const Row& r : rows) print_machine_line(r);
  printf("bench total %.0f s\n", seconds_since(start));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 && strcmp(argv[1], "--measure") == 0) return measure_one(argv[2]);
  if (argc > 4 && strcmp(argv[1], "--timed-exec") == 0 && strcmp(argv[3], "--") == 0)
    return timed_exec(argv[2], argv + 4);
  if (argc > 1 && strcmp(argv[1], "--list") == 0) {
    for (const Figure& f : figures("", "", "")) printf("%s\n", f.name);
    return 0;
  }
  Config c;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  c.self.assign(self, static_cast<size_t>(n));
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--shim") c.shim_lib = value;
    else if (key == "--floor") c.floor_lib = value;
    else if (key == "--cli") c.cli = value;
    else if (key == "--workdir") c.workdir = value;
    else if (key == "--python-workload") c.python_workload = value;
    else if (key == "--rounds") c.rounds = std::max(1, atoi(value.c_str()));
    else if (key == "--program-rounds") c.program_rounds = std::max(1, atoi(value.c_str()));
    else if (key == "--processes") c.processes = std::max(1, atoi(value.c_str()));
    else if (key == "--only") {
      std::stringstream names(value);
      for (std::string name; std::getline(names, name, ',');) c.only.push_back(name);
    } else {
      fprintf(stderr, "bench_locks: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  if (c.shim_lib.empty() || c.floor_lib.empty() || c.cli.empty() || c.workdir.empty()) {
    fprintf(stderr,
            "usage: bench_locks --shim LIB --floor LIB --cli FORKHAZARD --workdir DIR --python-workload FILE "
            "[--rounds N] [--program-rounds N] [--processes N] [--only NAME,...]\n");
    return 2;
  }
  return drive(c);
}
