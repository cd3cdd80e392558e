// `make bench`: the cost of the shim on hot operations, as ratios against the same program run natively in
// the same run. Not a test: it asserts nothing and prints a table.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace {

using clock_type = std::chrono::steady_clock;

template <class F>
double ns_per_op(long n, F f) {
  auto t0 = clock_type::now();
  for (long i = 0; i < n; i++) f(i);
  return std::chrono::duration<double, std::nano>(clock_type::now() - t0).count() / static_cast<double>(n);
}

pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t g_rwlock = PTHREAD_RWLOCK_INITIALIZER;
void* volatile g_sink;

__attribute__((noinline)) void thrower(long i) { throw std::runtime_error(std::to_string(i)); }

// Runs every measurement and prints "name ns" lines.
int measure() {
  // Warm up allocator and unwinder paths.
  ns_per_op(100000, [](long) { g_sink = malloc(32); free(g_sink); });
  printf("mutex_lock_unlock %.2f\n", ns_per_op(20000000, [](long) {
           pthread_mutex_lock(&g_mutex);
           pthread_mutex_unlock(&g_mutex);
         }));
  printf("rwlock_rd_unlock %.2f\n", ns_per_op(10000000, [](long) {
           pthread_rwlock_rdlock(&g_rwlock);
           pthread_rwlock_unlock(&g_rwlock);
         }));
  printf("malloc_free_32 %.2f\n", ns_per_op(20000000, [](long) {
           g_sink = malloc(32);
           free(g_sink);
         }));
  printf("throw_catch %.2f\n", ns_per_op(100000, [](long i) {
           try {
             thrower(i);
           } catch (const std::exception& e) {
             g_sink = const_cast<std::exception*>(&e);
           }
         }));
  printf("thread_create_join %.2f\n", ns_per_op(5000, [](long) {
           pthread_t t;
           pthread_create(&t, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
           pthread_join(t, nullptr);
         }));
  printf("fork_exit_wait %.2f\n", ns_per_op(300, [](long) {
           pid_t p = fork();
           if (p == 0) _exit(0);
           waitpid(p, nullptr, 0);
         }));
  return 0;
}

// Runs this binary in measure mode, natively or with the shim, and returns its output.
std::string run_child(const char* self, const char* shim) {
  std::string cmd = std::string(shim != nullptr ? "env LD_PRELOAD=" + std::string(shim) + " " : "env -u LD_PRELOAD ") +
                    self + " --measure";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[256];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  return out;
}

double value_of(const std::string& out, const std::string& name) {
  size_t at = out.find(name + " ");
  return at == std::string::npos ? -1 : atof(out.c_str() + at + name.size() + 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--measure") == 0) return measure();
  if (argc < 2) {
    fprintf(stderr, "usage: bench_locks /abs/path/libforkhazard.so\n");
    return 2;
  }
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = '\0';
  std::string native = run_child(self, nullptr);
  std::string shim = run_child(self, argv[1]);
  printf("%-20s %12s %12s %8s\n", "operation", "native ns", "shim ns", "ratio");
  for (const char* name : {"mutex_lock_unlock", "rwlock_rd_unlock", "malloc_free_32", "throw_catch",
                           "thread_create_join", "fork_exit_wait"}) {
    double a = value_of(native, name), b = value_of(shim, name);
    printf("%-20s %12.1f %12.1f %8.2f\n", name, a, b, a > 0 ? b / a : 0.0);
  }
  return 0;
}
