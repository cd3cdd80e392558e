// Golden files for the text and JSON printers, and the CLI contract around them (options, exit statuses,
// suppressions, colour, help, man page). Inputs are fixed raw reports, tests/golden/text_*.raw, whose modules
// exist nowhere (/nonexistent/...), so nothing symbolizes and the output is the same on every machine; each is
// compared byte for byte with tests/golden/text_*.txt (colours off) and text_*.json. Run with cwd = the project
// root. FORKHAZARD_UPDATE_GOLDEN=1 rewrites the expected files from the current output and fails the test, so
// the diff gets reviewed before it is committed.
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

// Criterion keeps the pointers it compares: the strings must outlive the assertion, not be temporaries.
#define EXPECT_TEXT(actual, expected)                             \
  do {                                                            \
    const std::string actual_text = (actual);                     \
    const std::string expected_text = (expected);                 \
    cr_expect_str_eq(actual_text.c_str(), expected_text.c_str()); \
  } while (0)

// The line after every usage error.
#define USAGE \
  "usage: forkhazard run [OPTIONS] -- CMD [ARGS...] | forkhazard report [OPTIONS] PATH... | forkhazard calls | " \
  "forkhazard --help\n"

namespace {

const std::string golden_dir = "tests/golden/";

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  cr_assert(in.good(), "cannot read %s (cwd must be the project root)", path.c_str());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  cr_assert(out.good(), "cannot write %s", path.c_str());
}

std::string temp_dir() {
  char pattern[] = "/tmp/forkhazard-golden.XXXXXX";
  const char* dir = mkdtemp(pattern);
  cr_assert(dir != nullptr, "mkdtemp failed");
  return dir;
}

void remove_tree(const std::string& dir) {
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  cr_expect(!error, "cannot remove %s: %s", dir.c_str(), error.message().c_str());
}

// "line N: expected [..], got [..]" for the first line that differs, or "" when equal.
std::string first_difference(const std::string& expected, const std::string& actual) {
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
void expect_golden(const std::string& name, const std::string& actual) {
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
std::vector<fh::HazardGroup> groups_of(const std::string& raw) {
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

bool contains(const std::string& text, const std::string& piece) { return text.find(piece) != std::string::npos; }

// ---- running the CLI in this process, with stdout and stderr captured ------------------------------------------

struct Cli {
  int status = -1;
  std::string out, err;
};

std::string slurp(FILE* f) {
  std::string text;
  std::rewind(f);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return text;
}

// Runs `forkhazard ARGS...` through fh::cli_main with fds 1 and 2 on temporary files (not terminals).
Cli cli(std::vector<std::string> args) {
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
void clean_environment() {
  unsetenv("FORKHAZARD_OPTIONS");
  unsetenv("NO_COLOR");
}

// The flags of report/cli_options.def and the options of shim/options.def, from the tables themselves.
// The commands a row of cli_options.def belongs to (report/cli.cpp has the same bits).
constexpr unsigned cmd_run = 1u << 0, cmd_report = 1u << 1;

// The flags of the options of `command` (both commands' by default).
std::vector<std::string> cli_flags(unsigned command = cmd_run | cmd_report) {
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

std::vector<ShimOption> shim_options() {
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

}  // namespace

// ---- the printers against the golden files -------------------------------------------------------------------------

Test(golden, deadlock_with_fork_context) {
  std::vector<fh::HazardGroup> groups = groups_of("text_deadlock.raw");
  cr_assert_eq(groups.size(), 1u);
  std::string text = fh::format_text(groups);
  expect_golden("text_deadlock.txt", text);
  expect_golden("text_deadlock.json", fh::to_json(groups) + "\n");
  // What the golden file must show, whatever it was regenerated from.
  cr_expect(contains(text, "    thread 4239 \"table-owner\" (vanished at fork()), created at:\n"), "%s", text.c_str());
  cr_expect(contains(text, "      holding rwlock 0x55d5d2a2e080 for reading (depth 2), acquired at:\n"), "%s",
            text.c_str());
  cr_expect(contains(text, "    #4 0xdeadbeef (no module)\n"), "%s", text.c_str());
  cr_expect(!contains(text, "occurrences"), "a hazard seen once says nothing about occurrences:\n%s", text.c_str());
}

Test(golden, unsafe_call_with_repeats) {
  std::vector<fh::HazardGroup> groups = groups_of("text_unsafe_call.raw");
  cr_assert_eq(groups.size(), 2u);
  std::string text = fh::format_text(groups);
  expect_golden("text_unsafe_call.txt", text);
  std::string json = fh::to_json(groups) + "\n";
  expect_golden("text_unsafe_call.json", json);
  cr_expect(contains(text, "  called 17 times at this site\n"), "%s", text.c_str());
  cr_expect(contains(text, "      inside the glibc env lock family (setenv/unsetenv/putenv/clearenv), entered at:\n"), "%s",
            text.c_str());
  cr_expect(contains(json, R"("count":17,)"), "%s", json.c_str());
}

Test(golden, merged_across_processes) {
  std::vector<fh::HazardGroup> groups = groups_of("text_merged.raw");
  cr_assert_eq(groups.size(), 3u, "the deadlock of 11/12/13, printf of 14/16, the deadlock of 15");
  std::string text = fh::format_text(groups);
  std::string json = fh::to_json(groups) + "\n";
  expect_golden("text_merged.txt", text);
  expect_golden("text_merged.json", json);
  cr_expect(contains(text, "  (3 occurrences in processes 11, 12, 13)\n"), "%s", text.c_str());
  cr_expect(contains(text, "  called 8 times at this site\n  (2 occurrences in processes 14, 16)\n"), "%s",
            text.c_str());
  cr_expect(contains(text, "forkhazard: unsafe call in process 14 (child of 12; restricted since process 10 forked "
                           "with threads running) [note]: printf()"),
            "%s", text.c_str());
  cr_expect(contains(json, R"("occurrences":3,"pids":[11,12,13]})"), "%s", json.c_str());
  cr_expect(contains(json, R"("occurrences":2,"pids":[14,16]})"), "%s", json.c_str());
  cr_expect(contains(json, R"("occurrences":1,"pids":[15]})"), "%s", json.c_str());
  size_t separators = 0;
  for (size_t at = text.find("==================\n"); at != std::string::npos;
       at = text.find("==================\n", at + 1))
    ++separators;
  cr_expect_eq(separators, 6u, "each merged hazard is printed once, between two separators");
}

Test(golden, possible_deadlock_overflow_and_unsafe_call_owner) {
  std::vector<fh::HazardGroup> groups = groups_of("possible_deadlock.raw");
  cr_assert_eq(groups.size(), 2u, "the possible deadlock of 4242/4243, setenv of 4244");
  std::string text = fh::format_text(groups);
  std::string json = fh::to_json(groups) + "\n";
  expect_golden("possible_deadlock.txt", text);
  expect_golden("possible_deadlock.json", json);
  cr_expect(contains(text, "forkhazard: possible deadlock in process 4242 (child of 4241) [warning]\n"), "%s",
            text.c_str());
  cr_expect(contains(text, "Had the fork come while thread 4239 held it, this call would never have returned\n"
                           "  (2 occurrences in processes 4242, 4243)\n"),
            "%s", text.c_str());
  cr_expect(contains(text, "  Thread 4239 \"logger\" acquired the mutex at:\n    #0 0x55d5d2a2b1c9 (app+0x11c9)\n"),
            "%s", text.c_str());
  cr_expect(contains(text, "  not recorded: 3 lock acquisitions (held stacks full), 1 thread (registry full)\n"),
            "the second occurrence's overflow is not lost in the merge:\n%s", text.c_str());
  cr_expect(contains(text, "  hint: take the lock in a pthread_atfork prepare handler"), "%s", text.c_str());
  cr_expect(contains(text, "  thread 4240 \"env-writer\" was inside the glibc env lock family "
                           "(setenv/unsetenv/putenv/clearenv) when it vanished at fork(): if it held that lock, this "
                           "call never returns\n"),
            "%s", text.c_str());
  cr_expect(!contains(text, "Thread 4240"), "an unsafe call's owner took no lock the shim saw:\n%s", text.c_str());
  cr_expect(contains(json, R"({"kind":"possible-deadlock","level":"warning","pid":4242,)"), "%s", json.c_str());
  cr_expect(contains(json, R"("overflow":{"held":3,"threads":1,"sites":0},"occurrences":2,"pids":[4242,4243]})"),
            "%s", json.c_str());
  cr_expect(contains(json, R"("count":1,"owner":{"tid":4240,"name":"env-writer","relation":"vanished"},"stack":)"),
            "an unsafe call's owner, without acquired_at:\n%s", json.c_str());
}

Test(golden, levels_in_headlines_and_json) {
  std::string deadlock = fh::format_text(groups_of("text_deadlock.raw"));
  cr_expect(contains(deadlock, "forkhazard: deadlock in process 4242 (child of 4241) [error]\n"), "%s",
            deadlock.c_str());
  std::vector<fh::HazardGroup> unsafe = groups_of("text_unsafe_call.raw");
  std::string text = fh::format_text(unsafe);
  cr_expect(contains(text, "forkhazard: unsafe call in process 5001 (child of 5000) [note]: malloc()"), "%s",
            text.c_str());
  cr_expect(contains(text, "forkhazard: unsafe call in process 5001 (child of 5000) [warning]: setenv()"), "%s",
            text.c_str());
  std::string json = fh::to_json(unsafe);
  cr_expect(contains(json, R"({"kind":"unsafe-call","level":"note","pid":5001,"call":"malloc",)"), "%s", json.c_str());
  cr_expect(contains(json, R"({"kind":"unsafe-call","level":"warning","pid":5001,"call":"setenv",)"), "%s",
            json.c_str());
  cr_expect(!contains(json, R"("overflow")"), "no overflow, no key:\n%s", json.c_str());
}

Test(golden, colour_wraps_headline_and_hint_only_when_on) {
  fh::TextStyle coloured;
  coloured.color = true;
  std::string deadlock = fh::format_text(groups_of("text_deadlock.raw"), coloured);
  cr_expect(contains(deadlock, "==================\n\033[1m\033[31mforkhazard: deadlock in process 4242 (child of "
                               "4241) [error]\033[0m\n"),
            "the deadlock headline is not bold red:\n%s", deadlock.c_str());
  cr_expect(contains(deadlock, "\n  \033[32mhint: take the lock in a pthread_atfork prepare handler"), "%s",
            deadlock.c_str());
  cr_expect(contains(deadlock, " \033[2m(app+0x12f0)\033[0m\n"), "module+offset is not dim:\n%s", deadlock.c_str());
  std::string unsafe = fh::format_text(groups_of("text_unsafe_call.raw"), coloured);
  cr_expect(contains(unsafe,
                     "\033[1m\033[35mforkhazard: unsafe call in process 5001 (child of 5000) [note]\033[0m: malloc()"),
            "the unsafe-call headline is not bold magenta:\n%s", unsafe.c_str());

  for (const char* raw : {"text_deadlock.raw", "text_unsafe_call.raw", "text_merged.raw"}) {
    std::string plain = fh::format_text(groups_of(raw));
    cr_expect(plain.find('\033') == std::string::npos, "%s: an ESC byte with colours off", raw);
  }
}

Test(golden, function_names_are_bold_when_coloured) {
  fh::Hazard h;
  h.pid = 2;
  h.ppid = 1;
  h.call = "sem_wait";
  fh::Frame f;
  f.pc = 0x1010;
  f.module = "/m/x.so";
  f.offset = 0x10;
  f.function = "lock_cache";
  f.file = "src/cache.c";
  f.line = 42;
  h.stack = {f};
  fh::TextStyle coloured;
  coloured.color = true;
  std::string text = fh::format_hazard(h, coloured);
  cr_expect(contains(text, "    #0 0x1010 in \033[1mlock_cache\033[0m src/cache.c:42 \033[2m(x.so+0x10)\033[0m\n"),
            "%s", text.c_str());
  EXPECT_TEXT(fh::format_hazard(h).substr(fh::format_hazard(h).find("    #0")),
              "    #0 0x1010 in lock_cache src/cache.c:42 (x.so+0x10)\n\n  hint: take the lock in a pthread_atfork "
              "prepare handler and release it in the parent and child handlers, or call only async-signal-safe "
              "functions between fork() and exec()\n"
              "==================\n");
}

Test(golden, auto_colour_follows_the_terminal_and_no_color) {
  cr_expect(fh::auto_color(true, nullptr));
  cr_expect(fh::auto_color(true, ""), "an empty NO_COLOR does not count (no-color.org)");
  cr_expect_not(fh::auto_color(true, "1"));
  cr_expect_not(fh::auto_color(false, nullptr));
  cr_expect_not(fh::auto_color(false, ""));
}

// ---- the CLI on the golden inputs -----------------------------------------------------------------------------------

Test(golden, cli_report_prints_golden_text_and_json, .init = clean_environment) {
  std::string dir = temp_dir();
  Cli r = cli({"report", "--json", dir + "/out.json", golden_dir + "text_merged.raw"});
  cr_expect_eq(r.status, fh::exit_hazard, "stderr:\n%s", r.err.c_str());
  EXPECT_TEXT(read_file(dir + "/out.json"), read_file(golden_dir + "text_merged.json"));
  EXPECT_TEXT(r.err, "forkhazard: /nonexistent/forkhazard/server: cannot open module file: No such file or directory; "
                     "frames fall back to module+offset\n" +
                         read_file(golden_dir + "text_merged.txt") +
                         "forkhazard: 2 deadlocks, 1 unsafe call in 6 processes\n");
  cr_expect(r.out.empty(), "stdout: %s", r.out.c_str());
  remove_tree(dir);
}

Test(golden, cli_colour_option, .init = clean_environment) {
  std::string raw = golden_dir + "text_deadlock.raw";
  Cli always = cli({"report", "--color=always", raw});
  cr_expect(contains(always.err, "\033[1m\033[31mforkhazard: deadlock in process 4242"), "%s", always.err.c_str());
  Cli never = cli({"report", "--color", "never", raw});
  cr_expect(never.err.find('\033') == std::string::npos, "%s", never.err.c_str());
  Cli automatic = cli({"report", raw});
  cr_expect(automatic.err.find('\033') == std::string::npos, "auto colours a file, not a terminal:\n%s",
            automatic.err.c_str());
  for (const Cli* r : {&always, &never, &automatic}) cr_expect_eq(r->status, fh::exit_hazard);
}

Test(golden, cli_fail_on_and_exitcode, .init = clean_environment) {
  std::string deadlock = golden_dir + "text_deadlock.raw", unsafe = golden_dir + "text_unsafe_call.raw";
  struct Case {
    std::vector<std::string> args;
    int status;
  } cases[] = {
      {{"report", deadlock}, 66},
      {{"report", unsafe}, 66},
      {{"report", "--fail-on=any", unsafe}, 66},
      {{"report", "--fail-on=deadlock", deadlock}, 66},
      {{"report", "--fail-on=deadlock", unsafe}, 0},
      {{"report", "--fail-on", "unsafe-call", unsafe}, 66},
      {{"report", "--fail-on=unsafe-call", deadlock}, 0},
      {{"report", "--exitcode", "9", deadlock}, 9},
      {{"report", "--exitcode=255", unsafe}, 255},
      {{"report", "--exitcode=1", unsafe}, 1},
      {{"report", deadlock, "--exitcode", "7"}, 7},  // report takes options after its PATHs too
      {{"report", "--fail-on=deadlock", "--exitcode=9", unsafe}, 0},
      {{"report", "--fail-on=unsafe-call", "--exitcode=9", deadlock, unsafe}, 9},
      {{"report", "--fail-on=deadlock", unsafe, golden_dir + "no-such-file.raw"}, 1},  // a bad file, no failing hazard
      {{"report", "--fail-on=deadlock", deadlock, golden_dir + "no-such-file.raw"}, 66},  // the hazard outweighs it
  };
  for (const Case& c : cases) {
    Cli r = cli(c.args);
    std::string shown;
    for (const std::string& a : c.args) shown += " " + a;
    cr_expect_eq(r.status, c.status, "forkhazard%s: exit %d, expected %d; stderr:\n%s", shown.c_str(), r.status,
                 c.status, r.err.c_str());
  }
  Cli bad = cli({"report", "--fail-on=deadlock", unsafe, golden_dir + "no-such-file.raw"});
  cr_expect(contains(bad.err, "forkhazard: tests/golden/no-such-file.raw: cannot open"), "%s", bad.err.c_str());
  cr_expect(contains(bad.err, "forkhazard: 2 unsafe calls in 1 process\n"), "the good file was still read:\n%s",
            bad.err.c_str());
}

// --fail-on=LEVEL fails on that level and every more severe one (error > warning > note); the default is warning,
// so a run whose hazards are all notes (the allocator, stdio: what every Python child does) exits 0.
Test(golden, cli_fail_on_levels, .init = clean_environment) {
  std::string dir = temp_dir();
  std::string notes = dir + "/notes.raw";
  write_file(notes,
             "forkhazard-raw v=1\nreport pid=7 ppid=6\n"
             "hazard kind=unsafe-call call=malloc class=non-portable site=0x401234 why=allocates\nstack pcs=0x401234\n"
             "end\nreport pid=8 ppid=6\n"
             "hazard kind=unsafe-call call=fputs class=non-portable site=0x401300 why=stdio\nstack pcs=0x401300\nend\n");
  std::string deadlock = golden_dir + "text_deadlock.raw", unsafe = golden_dir + "text_unsafe_call.raw",
              predicted = golden_dir + "possible_deadlock.raw";
  struct Case {
    std::vector<std::string> args;
    int status;
  } cases[] = {
      {{"report", notes}, 0},  // notes only: the default (warning) does not fail
      {{"report", "--fail-on=warning", notes}, 0},
      {{"report", "--fail-on=error", notes}, 0},
      {{"report", "--fail-on=note", notes}, 66},
      {{"report", "--fail-on", "note", "--exitcode", "7", notes}, 7},
      {{"report", "--fail-on=unsafe-call", notes}, 66},  // a kind, whatever its level
      {{"report", "--fail-on=any", notes}, 66},
      {{"report", predicted}, 66},  // a possible deadlock (and a hang-prone call): warnings
      {{"report", "--fail-on=error", predicted}, 0},
      {{"report", "--fail-on=note", predicted}, 66},
      {{"report", "--fail-on=possible-deadlock", predicted}, 66},
      {{"report", "--fail-on=deadlock", predicted}, 0},
      {{"report", "--fail-on=error", deadlock}, 66},
      {{"report", "--fail-on=warning", deadlock}, 66},
      {{"report", "--fail-on=note", deadlock}, 66},
      {{"report", "--fail-on=possible-deadlock", deadlock}, 0},
      {{"report", "--fail-on=error", unsafe}, 0},    // malloc (note) and setenv (warning)
      {{"report", "--fail-on=warning", unsafe}, 66},  // setenv
      {{"report", "--fail-on=error", "--exitcode=9", deadlock, notes}, 9},
      {{"report", notes, golden_dir + "no-such-file.raw"}, 1},  // a bad file; the notes do not fail
  };
  for (const Case& c : cases) {
    Cli r = cli(c.args);
    std::string shown;
    for (const std::string& a : c.args) shown += " " + a;
    cr_expect_eq(r.status, c.status, "forkhazard%s: exit %d, expected %d; stderr:\n%s", shown.c_str(), r.status,
                 c.status, r.err.c_str());
  }
  // The notes are still reported, with their level, when they do not fail the run.
  Cli quiet = cli({"report", notes});
  cr_expect(contains(quiet.err, "forkhazard: unsafe call in process 7 (child of 6) [note]: malloc()"), "%s",
            quiet.err.c_str());
  cr_expect(contains(quiet.err, "forkhazard: 2 unsafe calls in 2 processes\n"), "%s", quiet.err.c_str());
  Cli predicted_run = cli({"report", predicted});
  cr_expect(contains(predicted_run.err, "forkhazard: 1 possible deadlock, 1 unsafe call in 3 processes\n"), "%s",
            predicted_run.err.c_str());
  remove_tree(dir);
}

Test(golden, cli_rejects_bad_values_with_one_line, .init = clean_environment) {
  std::string dir = temp_dir();
  std::string marker = dir + "/ran";
  std::vector<std::string> command = {"--", "/bin/sh", "-c", "touch '" + marker + "'"};
  struct Case {
    std::vector<std::string> options;
    std::string message;
  } cases[] = {
      {{"--fail-on=foo"},
       "forkhazard: run: bad value for --fail-on: 'foo' (expected error, warning, note, deadlock, possible-deadlock, "
       "unsafe-call or any)\n"},
      {{"--fail-on", "Any"},
       "forkhazard: run: bad value for --fail-on: 'Any' (expected error, warning, note, deadlock, possible-deadlock, "
       "unsafe-call or any)\n"},
      {{"--fail-on=Warning"},
       "forkhazard: run: bad value for --fail-on: 'Warning' (expected error, warning, note, deadlock, "
       "possible-deadlock, unsafe-call or any)\n"},
      {{"--exitcode", "0"}, "forkhazard: run: bad value for --exitcode: '0' (expected 1..255)\n"},
      {{"--exitcode=300"}, "forkhazard: run: bad value for --exitcode: '300' (expected 1..255)\n"},
      {{"--exitcode=12x"}, "forkhazard: run: bad value for --exitcode: '12x' (expected 1..255)\n"},
      {{"--exitcode=-1"}, "forkhazard: run: bad value for --exitcode: '-1' (expected 1..255)\n"},
      {{"--exitcode="}, "forkhazard: run: bad value for --exitcode: '' (expected 1..255)\n"},
      {{"--color=purple"}, "forkhazard: run: bad value for --color: 'purple' (expected auto, always or never)\n"},
      {{"--sarif="}, "forkhazard: run: --sarif needs a FILE\n"},
      {{"--suppressions="}, "forkhazard: run: --suppressions needs a FILE\n"},
      {{"--help=yes"}, "forkhazard: run: --help takes no value\n"},
      {{"--bogus"}, "forkhazard: run: unknown option '--bogus'\n"},
      {{"--json=-", "--sarif", "-"}, "forkhazard: run: --json and --sarif cannot both write to stdout ('-')\n"},
      {{"--json", dir + "/no/such/dir/out.json"},
       "forkhazard: cannot write " + dir + "/no/such/dir/out.json: No such file or directory\n"},
      {{"--sarif", dir}, "forkhazard: cannot write " + dir + ": Is a directory\n"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"run"};
    args.insert(args.end(), c.options.begin(), c.options.end());
    args.insert(args.end(), command.begin(), command.end());
    Cli r = cli(args);
    cr_expect_eq(r.status, fh::exit_usage, "%s: exit %d", c.options[0].c_str(), r.status);
    bool output_problem = contains(c.message, "cannot");
    std::string expected = c.message + (output_problem ? "" : USAGE);
    cr_expect_str_eq(r.err.c_str(), expected.c_str(), "%s", c.options[0].c_str());
    cr_expect(!file_exists(marker), "%s: the command ran", c.options[0].c_str());
  }
  // The same parser for report; a missing value at the end of the line.
  Cli missing = cli({"report", "--exitcode"});
  cr_expect_eq(missing.status, fh::exit_usage);
  EXPECT_TEXT(missing.err, "forkhazard: report: --exitcode needs a number (1..255)\n" USAGE);
  Cli colour = cli({"report", "--color", golden_dir + "text_deadlock.raw"});
  cr_expect_eq(colour.status, fh::exit_usage);
  EXPECT_TEXT(colour.err,
              "forkhazard: report: bad value for --color: 'tests/golden/text_deadlock.raw' (expected auto, always or "
              "never)\n" USAGE);
  remove_tree(dir);
}

Test(golden, cli_run_writes_json_and_sarif_and_passes_the_status_through, .init = clean_environment) {
  cr_assert(file_exists("build/libforkhazard.so"), "build/libforkhazard.so is missing: run `make` first");
  std::string dir = temp_dir();
  Cli r = cli({"run", "--json=" + dir + "/r.json", "--sarif", dir + "/r.sarif", "--exitcode", "9", "--", "/bin/sh",
               "-c", "exit 3"});
  cr_expect_eq(r.status, 3, "no hazard: the command's own status, not --exitcode; stderr:\n%s", r.err.c_str());
  EXPECT_TEXT(read_file(dir + "/r.json"), "{\"version\":1,\"hazards\":[]}\n");
  std::string sarif = read_file(dir + "/r.sarif");
  cr_expect(contains(sarif, "\"version\":\"2.1.0\"") || contains(sarif, "\"version\": \"2.1.0\""), "%s",
            sarif.c_str());
  cr_expect(contains(r.err, "forkhazard: no hazards\n"), "%s", r.err.c_str());
  remove_tree(dir);
}

// ---- suppressions ----------------------------------------------------------------------------------------------------

Test(golden, cli_suppressions_drop_what_they_name, .init = clean_environment) {
  std::string dir = temp_dir();
  std::string raw = golden_dir + "text_merged.raw";
  write_file(dir + "/supp.txt", "# the server's cache\ndeadlock:server\nunsafe-call:no_such_function\n");
  Cli r = cli({"report", "--suppressions", dir + "/supp.txt", "--json", dir + "/r.json", raw});
  // printf remains, a note: the default --fail-on (warning) lets it pass; --fail-on=note does not.
  cr_expect_eq(r.status, 0, "printf remains, a note; stderr:\n%s", r.err.c_str());
  Cli notes = cli({"report", "--suppressions", dir + "/supp.txt", "--fail-on=note", raw});
  cr_expect_eq(notes.status, fh::exit_hazard, "printf remains; stderr:\n%s", notes.err.c_str());
  cr_expect(contains(r.err, "forkhazard: used suppressions:\n     4 deadlock:server (" + dir + "/supp.txt:2)\n"
                            "forkhazard: 1 unsafe call in 2 processes\n"),
            "%s", r.err.c_str());
  cr_expect(!contains(r.err, "forkhazard: deadlock in process"), "%s", r.err.c_str());
  std::string json = read_file(dir + "/r.json");
  cr_expect(contains(json, R"("kind":"unsafe-call")") && !contains(json, R"("kind":"deadlock")"), "%s", json.c_str());

  Cli only_deadlocks = cli({"report", "--suppressions=" + dir + "/supp.txt", "--fail-on=deadlock", raw});
  cr_expect_eq(only_deadlocks.status, 0, "every deadlock is suppressed");

  // Repeated --suppressions, and suppressions= in FORKHAZARD_OPTIONS among other shim options.
  write_file(dir + "/unsafe.txt", "unsafe-call:server\n");
  Cli both = cli({"report", "--suppressions", dir + "/supp.txt", "--suppressions", dir + "/unsafe.txt", raw});
  cr_expect_eq(both.status, 0, "%s", both.err.c_str());
  cr_expect(contains(both.err, "forkhazard: no hazards\n"), "%s", both.err.c_str());
  setenv("FORKHAZARD_OPTIONS", ("mode=glibc:suppressions=" + dir + "/unsafe.txt:stack_depth=8").c_str(), 1);
  Cli from_env = cli({"report", "--suppressions", dir + "/supp.txt", raw});
  cr_expect_eq(from_env.status, 0, "%s", from_env.err.c_str());
  cr_expect(contains(from_env.err, "     2 unsafe-call:server (" + dir + "/unsafe.txt:1)\n"), "%s",
            from_env.err.c_str());
  remove_tree(dir);
}

Test(golden, cli_suppresses_possible_deadlocks, .init = clean_environment) {
  std::string dir = temp_dir();
  std::string raw = golden_dir + "possible_deadlock.raw";
  write_file(dir + "/supp.txt", "deadlock:app\npossible-deadlock:forkhazard/app\n");
  Cli r = cli({"report", "--suppressions", dir + "/supp.txt", "--json", dir + "/r.json", raw});
  cr_expect_eq(r.status, fh::exit_hazard, "setenv (a warning) remains; stderr:\n%s", r.err.c_str());
  cr_expect(contains(r.err, "forkhazard: used suppressions:\n     2 possible-deadlock:forkhazard/app (" + dir +
                                "/supp.txt:2)\nforkhazard: 1 unsafe call in 1 process\n"),
            "%s", r.err.c_str());
  cr_expect(!contains(r.err, "possible deadlock in process"), "%s", r.err.c_str());
  std::string json = read_file(dir + "/r.json");
  cr_expect(!contains(json, R"("kind":"possible-deadlock")") && contains(json, R"("kind":"unsafe-call")"), "%s",
            json.c_str());
  Cli fails_on_it = cli({"report", "--suppressions", dir + "/supp.txt", "--fail-on=possible-deadlock", raw});
  cr_expect_eq(fails_on_it.status, 0, "every possible deadlock is suppressed; stderr:\n%s", fails_on_it.err.c_str());
  remove_tree(dir);
}

Test(golden, cli_malformed_suppressions_stop_everything, .init = clean_environment) {
  std::string dir = temp_dir();
  std::string marker = dir + "/ran";
  write_file(dir + "/bad.txt", "deadlock:ok\n\n# fine so far\nthis line has no kind\n");
  Cli run = cli({"run", "--suppressions", dir + "/bad.txt", "--", "/bin/sh", "-c", "touch '" + marker + "'"});
  cr_expect_eq(run.status, fh::exit_usage);
  cr_expect(run.err.rfind("forkhazard: " + dir + "/bad.txt:4: ", 0) == 0, "%s", run.err.c_str());
  cr_expect_eq(std::count(run.err.begin(), run.err.end(), '\n'), 1, "one line:\n%s", run.err.c_str());
  cr_expect(!file_exists(marker), "the command ran");

  Cli report = cli({"report", "--suppressions=" + dir + "/bad.txt", "--json", dir + "/r.json",
                    golden_dir + "text_deadlock.raw"});
  cr_expect_eq(report.status, fh::exit_usage);
  cr_expect(report.err.rfind("forkhazard: " + dir + "/bad.txt:4: ", 0) == 0, "%s", report.err.c_str());
  cr_expect(!file_exists(dir + "/r.json"), "nothing was written before the suppressions were read");

  Cli missing = cli({"report", "--suppressions", dir + "/none.txt", golden_dir + "text_deadlock.raw"});
  cr_expect_eq(missing.status, fh::exit_usage);
  EXPECT_TEXT(missing.err, "forkhazard: " + dir + "/none.txt: cannot read: No such file or directory\n");

  setenv("FORKHAZARD_OPTIONS", ("suppressions=" + dir + "/bad.txt").c_str(), 1);
  Cli env = cli({"run", "--", "/bin/sh", "-c", "touch '" + marker + "'"});
  cr_expect_eq(env.status, fh::exit_usage);
  cr_expect(env.err.rfind("forkhazard: " + dir + "/bad.txt:4: ", 0) == 0, "%s", env.err.c_str());
  cr_expect(contains(env.err, " (suppressions= in FORKHAZARD_OPTIONS)\n"), "%s", env.err.c_str());
  cr_expect(!file_exists(marker), "the command ran");
  remove_tree(dir);
}

// ---- help and the man page --------------------------------------------------------------------------------------------

Test(golden, help_lists_the_tables, .init = clean_environment) {
  Cli top = cli({"--help"});
  Cli run = cli({"run", "--help"});
  Cli report = cli({"report", "-h"});
  for (auto [r, command] : {std::pair{&top, cmd_run | cmd_report}, {&run, cmd_run}, {&report, cmd_report}}) {
    cr_expect_eq(r->status, 0);
    cr_expect(r->err.empty(), "%s", r->err.c_str());
    for (const std::string& flag : cli_flags(command))
      cr_expect(contains(r->out, "  " + flag) || contains(r->out, ", " + flag), "help lacks %s:\n%s", flag.c_str(),
                r->out.c_str());
  }
  cr_expect(contains(top.out, "  --fail-on=error|warning|note|deadlock|possible-deadlock|unsafe-call|any  (default: "
                              "warning)\n"),
            "%s", top.out.c_str());
  cr_expect(contains(top.out, "levels (shown in each hazard's headline") &&
                contains(top.out, "\n  note     a non-portable unsafe call (the allocator, stdio)"),
            "--help explains the levels:\n%s", top.out.c_str());
  cr_expect(contains(top.out, "  --exitcode N  (default: 66; 1..255)\n"), "%s", top.out.c_str());
  for (const ShimOption& option : shim_options()) {
    std::string line = "\n  " + option.name + "=";
    cr_expect(contains(run.out, line), "run --help lacks the shim option %s:\n%s", option.name.c_str(),
              run.out.c_str());
    size_t at = run.out.find(line);
    std::string shown = at == std::string::npos ? "" : run.out.substr(at + 1, run.out.find('\n', at + 1) - at - 1);
    cr_expect(contains(shown, "(default: " + option.def + ")"), "%s: [%s]", option.name.c_str(), shown.c_str());
  }
  cr_expect(contains(run.out, "FORKHAZARD_OPTIONS"), "%s", run.out.c_str());
  cr_expect(!contains(report.out, "  on_deadlock="), "the shim's options are run's business:\n%s", report.out.c_str());
  cr_expect(contains(report.out, "forkhazard report [OPTIONS] PATH...") && !contains(report.out, "forkhazard run ["),
            "%s", report.out.c_str());
  Cli calls = cli({"calls"});
  cr_expect_eq(calls.status, 0);
  cr_expect(contains(calls.out, "malloc"), "forkhazard calls still lists the catalogue:\n%s", calls.out.c_str());
}

Test(golden, man_page_documents_every_option) {
  std::string page = read_file("report/forkhazard.1");
  std::string text;  // without troff's escaped hyphens
  for (size_t i = 0; i < page.size(); ++i) {
    if (page[i] == '\\' && i + 1 < page.size() && page[i + 1] == '-') continue;
    text += page[i];
  }
  for (const char* section : {".TH FORKHAZARD 1", ".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS",
                              ".SH EXIT STATUS", ".SH ENVIRONMENT", ".SH FILES", ".SH SUPPRESSIONS", ".SH EXAMPLES",
                              ".SH SEE ALSO"})
    cr_expect(contains(text, section), "the man page lacks %s", section);
  for (const std::string& flag : cli_flags())
    cr_expect(contains(text, flag), "the man page does not document %s", flag.c_str());
  for (const ShimOption& option : shim_options())
    cr_expect(contains(text, ".B " + option.name + "=") || contains(text, "\\fB" + option.name + "="),
              "the man page does not document the shim option %s", option.name.c_str());
  for (const char* word : {"NO_COLOR", "FORKHAZARD_LIB", "LD_PRELOAD", "signal-safety", "pthread_atfork",
                           "forkhazard run --sarif forkhazard.sarif -- make test"})
    cr_expect(contains(text, word), "the man page does not mention %s", word);
}

// A fork among thousands of idle threads: the text lists every thread that held a lock and the forker, the first
// 16 others and a count (a 9 000-thread fork had made a 3 MB text report); JSON keeps them all. Likewise the pids
// of a hazard seen in many processes.
Test(golden, text_caps_idle_threads_and_pids) {
  fh::HazardGroup group;
  fh::Hazard& h = group.hazard;
  h.kind = fh::HazardKind::deadlock;
  h.pid = 500;
  h.call = "pthread_mutex_lock";
  fh::ForkContext& fork = h.fork.emplace();
  fork.parent_pid = 400;
  fork.forking_tid = 400;
  for (int64_t i = 0; i < 40; i++) {
    fh::ForkThread& t = fork.threads.emplace_back();
    t.tid = 1000 + i;
    t.name = "idle";
  }
  fh::ForkThread& holder = fork.threads.emplace_back();
  holder.tid = 2000;
  holder.name = "holder";
  fh::HeldLock& held = holder.held.emplace_back();
  held.lock.addr = 0x1000;
  held.lock.has_addr = true;
  fh::ForkThread& forker = fork.threads.emplace_back();
  forker.tid = 400;
  forker.name = "main";
  forker.relation = fh::Relation::forker;
  group.occurrences = 25;
  for (int64_t pid = 500; pid < 525; pid++) group.pids.push_back(pid);
  std::string text = fh::format_text({group});
  cr_expect(contains(text, "thread 1015 \"idle\""), "%s", text.c_str());
  cr_expect(!contains(text, "thread 1016 \"idle\""), "the 17th idle thread is listed:\n%s", text.c_str());
  cr_expect(contains(text, "thread 2000 \"holder\""), "a thread that held a lock is left out:\n%s", text.c_str());
  cr_expect(contains(text, "thread 400 \"main\""), "the forker is left out:\n%s", text.c_str());
  cr_expect(contains(text, "    ... and 24 more threads that held no lock the shim saw (--json lists them)\n"), "%s",
            text.c_str());
  cr_expect(contains(text, "(25 occurrences in processes 500, 501, 502, 503, 504, 505, 506, 507, 508, 509, ... and 15 "
                           "more)"),
            "%s", text.c_str());
  std::string json = fh::to_json({group});
  cr_expect(contains(json, "1039") && contains(json, "524"), "JSON lost a thread or a pid:\n%s", json.c_str());
}
