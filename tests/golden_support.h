// What the golden-file and CLI-contract tests share: fixed raw inputs, the CLI run in this process with its
// output captured, the tables it is checked against (tests/test_golden.cpp, tests/test_cli.cpp).
#pragma once

#include <criterion/criterion.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <filesystem>
#include <string>
#include <vector>

#include "report/cli.h"
#include "report/json.h"
#include "report/merge.h"
#include "report/reader.h"
#include "report/resolve.h"
#include "report/text.h"
#include "tests/expect_text.h"



namespace golden {

inline const std::string golden_dir = "tests/golden/";

inline bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  cr_assert(in.good(), "cannot read %s (cwd must be the project root)", path.c_str());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  cr_assert(out.good(), "cannot write %s", path.c_str());
}

inline std::string temp_dir() {
  char pattern[] = "/tmp/forkhazard-golden.XXXXXX";
  const char* dir = mkdtemp(pattern);
  cr_assert(dir != nullptr, "mkdtemp failed");
  return dir;
}

inline void remove_tree(const std::string& dir) {
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  cr_expect(!error, "cannot remove %s: %s", dir.c_str(), error.message().c_str());
}

// "line N: expected [..], got [..]" for the first line that differs, or "" when equal.
inline std::string first_difference(const std::string& expected, const std::string& actual) {
  std::istringstream e(expected), a(actual);
  std::string el, al;
  for (int line = 1;; ++line) {
    bool more_e = static_cast<bool>(std::getline(e, el)), more_a = static_cast<bool>(std::getline(a, al));
    if (!more_e && !more_a) return expected == actual ? "" : "only the final newline differs";
    if (!more_e || !more_a || el != al)
      return "line " + std::to_string(line) + ": expected [" + (more_e ? el : "<end>") + "], got [" +
             (more_a ? al : "<end>") + "]";
  }
}

// Compares `actual` with the golden file byte for byte (or rewrites it, see the file comment).
inline void expect_golden(const std::string& name, const std::string& actual) {
  std::string path = golden_dir + name;
  const char* update = std::getenv("FORKHAZARD_UPDATE_GOLDEN");
  if (update != nullptr && *update != '\0' && std::string(update) != "0") {
    write_file(path, actual);
    cr_expect_fail("%s rewritten (FORKHAZARD_UPDATE_GOLDEN): review the diff, then run again without it", path.c_str());
    return;
  }
  std::string expected = read_file(path);
  std::string difference = first_difference(expected, actual);
  cr_expect(difference.empty(), "%s differs, %s\nwhole output:\n%s", path.c_str(), difference.c_str(),
            actual.c_str());
}

// The groups of a golden raw input, as the CLI builds them (read, symbolize, merge); no read errors allowed.
inline std::vector<fh::HazardGroup> groups_of(const std::string& raw) {
  fh::ReadResult result;
  fh::read_raw_path(golden_dir + raw, result);
  std::string errors;
  for (const std::string& e : result.errors) errors += e + "\n";
  cr_assert(errors.empty(), "%s does not read cleanly:\n%s", raw.c_str(), errors.c_str());
  cr_assert_eq(result.files, 1u);
  fh::Symbolizer symbolizer;
  fh::FrameResolver resolver(symbolizer);
  for (fh::Report& report : result.reports) resolver.resolve(report);
  return fh::merge_hazards(result.reports);
}

inline bool contains(const std::string& text, const std::string& piece) { return text.find(piece) != std::string::npos; }

// ---- running the CLI in this process, with stdout and stderr captured ------------------------------------------

struct Cli {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(FILE* f) {
  std::string text;
  std::rewind(f);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return text;
}

// Runs `forkhazard ARGS...` through fh::cli_main with fds 1 and 2 on temporary files (not terminals).
inline Cli cli(std::vector<std::string> args) {
  args.insert(args.begin(), "forkhazard");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  FILE* out = std::tmpfile();
  FILE* err = std::tmpfile();
  cr_assert(out != nullptr && err != nullptr, "tmpfile failed");
  std::fflush(stdout);
  std::fflush(stderr);
  int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
  dup2(fileno(out), STDOUT_FILENO);
  dup2(fileno(err), STDERR_FILENO);
  Cli result;
  result.status = fh::cli_main(static_cast<int>(args.size()), argv.data());
  std::fflush(stdout);
  std::fflush(stderr);
  dup2(saved_out, STDOUT_FILENO);
  dup2(saved_err, STDERR_FILENO);
  close(saved_out);
  close(saved_err);
  result.out = slurp(out);
  result.err = slurp(err);
  return result;
}

// What the CLI reads from its own environment must come from the test alone.
inline void clean_environment() {
  unsetenv("FORKHAZARD_OPTIONS");
  unsetenv("NO_COLOR");
}

// The flags of report/cli_options.def and the options of shim/options.def, from the tables themselves.
// The commands a row of cli_options.def belongs to (report/cli.cpp has the same bits).
constexpr unsigned cmd_run = 1u << 0, cmd_report = 1u << 1, cmd_inspect = 1u << 2;

// The flags of the options of `command` (every command's by default).
inline std::vector<std::string> cli_flags(unsigned command = cmd_run | cmd_report | cmd_inspect) {
  std::vector<std::string> flags;
#define FH_CLI_ADD(flag, commands) \
  if ((commands) & command) flags.push_back(flag);
#define FH_CLI_PATH(name, flag, placeholder, commands, desc) FH_CLI_ADD(flag, commands)
#define FH_CLI_PATHS(name, flag, placeholder, commands, desc) FH_CLI_ADD(flag, commands)
#define FH_CLI_CHOICE(name, flag, choices, def, commands, desc) FH_CLI_ADD(flag, commands)
#define FH_CLI_INT(name, flag, placeholder, def, lo, hi, commands, desc) FH_CLI_ADD(flag, commands)
#define FH_CLI_FLAG(name, flag, short_flag, commands, desc) FH_CLI_ADD(flag, commands)
#include "report/cli_options.def"
#undef FH_CLI_PATH
#undef FH_CLI_PATHS
#undef FH_CLI_CHOICE
#undef FH_CLI_INT
#undef FH_CLI_FLAG
#undef FH_CLI_ADD
  return flags;
}

struct ShimOption {
  std::string name, def;
};

inline std::vector<ShimOption> shim_options() {
  std::vector<ShimOption> options;
#define FH_OPTION_STRING(name, def, desc) options.push_back({#name, std::string(def).empty() ? "none" : def});
#define FH_OPTION_CHOICE(name, def, choices, desc) options.push_back({#name, def});
#define FH_OPTION_INT(name, def, lo, hi, desc) options.push_back({#name, std::to_string(def)});
#define FH_OPTION_BOOL(name, def, desc) options.push_back({#name, (def) ? "1" : "0"});
#include "shim/options.def"
#undef FH_OPTION_STRING
#undef FH_OPTION_CHOICE
#undef FH_OPTION_INT
#undef FH_OPTION_BOOL
  return options;
}

}  // namespace golden

