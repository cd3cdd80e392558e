// `make stress`: every case of tests/stress/cases.h at STRESS_SCALE (default 5), natively and under the shim,
// one line per case ("PASS name  time  native: ... | forkhazard: ..."); a failing case prints why and keeps its
// output directories. Exit status 1 when any case failed. Arguments: case names to run only those; --list.
// Run from the project root.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/stress/cases.h"

int main(int argc, char** argv) {
  std::vector<std::string> only;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--list") {
      for (const stress::Case& c : stress::cases()) std::printf("%-30s %s\n", c.name, c.about);
      return 0;
    }
    if (stress::find_case(arg) == nullptr) {
      std::fprintf(stderr, "stress_runner: no case named %s (--list lists them)\n", arg.c_str());
      return 2;
    }
    only.push_back(arg);
  }
  if (!e2e::file_exists(e2e::kCli) || !e2e::file_exists(e2e::kShim)) {
    std::fprintf(stderr, "stress_runner: %s or %s is missing: run from the project root after `make all`\n", e2e::kCli,
                 e2e::kShim);
    return 2;
  }

  stress::Settings settings;
  const char* scale = std::getenv("STRESS_SCALE");
  settings.scale = scale != nullptr && std::atoi(scale) > 0 ? std::atoi(scale) : 5;
  settings.native = true;
  settings.deadline = 600;
  std::printf("forkhazard stress: STRESS_SCALE=%d; each case natively, then under the shim\n", settings.scale);
  std::fflush(stdout);

  int failed = 0, run = 0;
  for (const stress::Case& c : stress::cases()) {
    bool wanted = only.empty();
    for (const std::string& name : only) wanted = wanted || name == c.name;
    if (!wanted) continue;
    auto start = std::chrono::steady_clock::now();
    stress::Verdict v = c.run(settings);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    run++;
    if (!v.ok()) failed++;
    std::printf("%s %-30s %6.1f s  native: %s | forkhazard: %s\n", v.ok() ? "PASS" : "FAIL", c.name, seconds,
                v.native.empty() ? "(not run)" : v.native.c_str(), v.watched.c_str());
    if (!v.ok()) {
      std::string text = v.failure_text();
      for (size_t at = 0; at < text.size();) {  // indented under its case
        size_t end = text.find('\n', at);
        std::printf("    %s\n", text.substr(at, end - at).c_str());
        at = end == std::string::npos ? text.size() : end + 1;
      }
    }
    std::fflush(stdout);
    v.clean_up();
  }
  std::printf("forkhazard stress: %d of %d cases passed\n", run - failed, run);
  return failed == 0 ? 0 : 1;
}
