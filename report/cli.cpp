// `forkhazard run`, `report` and `calls`: options (one table, report/cli_options.def), then
// read -> symbolize -> merge -> suppress -> print.
#include "report/cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "report/catalogue.h"
#include "report/inspect.h"
#include "report/json.h"
#include "report/launch.h"
#include "report/merge.h"
#include "report/reader.h"
#include "report/resolve.h"
#include "report/sarif.h"
#include "report/suppress.h"
#include "report/text.h"
#include "report/watchdog.h"
#include "shim/options.h"

namespace fh {

namespace {

// The commands an option of cli_options.def belongs to.
enum CommandBits : unsigned { cmd_run = 1u << 0, cmd_report = 1u << 1, cmd_inspect = 1u << 2 };


struct CliOptions {
#define FH_CLI_PATH(name, flag, placeholder, commands, desc) std::string name;
#define FH_CLI_PATHS(name, flag, placeholder, commands, desc) std::vector<std::string> name;
#define FH_CLI_CHOICE(name, flag, choices, def, commands, desc) int name = choice_index(choices, def);
#define FH_CLI_INT(name, flag, placeholder, def, lo, hi, commands, desc) long name = def;
#define FH_CLI_FLAG(name, flag, short_flag, commands, desc) bool name = false;
#include "report/cli_options.def"
#undef FH_CLI_PATH
#undef FH_CLI_PATHS
#undef FH_CLI_CHOICE
#undef FH_CLI_INT
#undef FH_CLI_FLAG
};

// Index values of the choice options, in the order of their choices; the asserts below hold them to the table.
enum FailOn {
  fail_on_error = 0,
  fail_on_warning = 1,
  fail_on_note = 2,
  fail_on_deadlock = 3,
  fail_on_possible_deadlock = 4,
  fail_on_unsafe_call = 5,
  fail_on_any = 6,
};
enum ColorWhen { color_auto = 0, color_always = 1, color_never = 2 };
enum WatchdogWhen { watchdog_on = 0, watchdog_off = 1 };

#define FH_CLI_PATH(name, flag, placeholder, commands, desc)
#define FH_CLI_PATHS(name, flag, placeholder, commands, desc)
#define FH_CLI_CHOICE(name, flag, choices, def, commands, desc) constexpr std::string_view name##_choices = choices;
#define FH_CLI_INT(name, flag, placeholder, def, lo, hi, commands, desc)
#define FH_CLI_FLAG(name, flag, short_flag, commands, desc)
#include "report/cli_options.def"
#undef FH_CLI_PATH
#undef FH_CLI_PATHS
#undef FH_CLI_CHOICE
#undef FH_CLI_INT
#undef FH_CLI_FLAG
static_assert(choice_index(fail_on_choices, "error") == fail_on_error);
static_assert(choice_index(fail_on_choices, "warning") == fail_on_warning);
static_assert(choice_index(fail_on_choices, "note") == fail_on_note);
static_assert(choice_index(fail_on_choices, "deadlock") == fail_on_deadlock);
static_assert(choice_index(fail_on_choices, "possible-deadlock") == fail_on_possible_deadlock);
static_assert(choice_index(fail_on_choices, "unsafe-call") == fail_on_unsafe_call);
static_assert(choice_index(fail_on_choices, "any") == fail_on_any);
static_assert(choice_index(color_choices, "auto") == color_auto);
static_assert(choice_index(color_choices, "always") == color_always);
static_assert(choice_index(color_choices, "never") == color_never);
static_assert(choice_index(watchdog_choices, "on") == watchdog_on);
static_assert(choice_index(watchdog_choices, "off") == watchdog_off);

enum class ValueKind { path, paths, choice, integer, flag };

// One row of the table, for the parser and the help text; exactly one member pointer is set, as `kind` says.
struct OptionSpec {
  ValueKind kind;
  const char* flag;
  const char* short_flag;   // flags only; may be null
  const char* placeholder;  // the value's name in help: FILE, N, or the choices
  const char* def;          // shown in help; "" for none
  long lo, hi;              // integers only
  unsigned commands;
  const char* description;
  std::string CliOptions::*path;
  std::vector<std::string> CliOptions::*paths;
  int CliOptions::*choice;
  long CliOptions::*integer;
  bool CliOptions::*flag_member;
};

constexpr OptionSpec option_specs[] = {
#define FH_CLI_PATH(name, flag, placeholder, commands, desc) \
  {ValueKind::path, flag, nullptr, placeholder, "", 0, 0, commands, desc, &CliOptions::name, nullptr, nullptr, nullptr, nullptr},
#define FH_CLI_PATHS(name, flag, placeholder, commands, desc) \
  {ValueKind::paths, flag, nullptr, placeholder, "", 0, 0, commands, desc, nullptr, &CliOptions::name, nullptr, nullptr, nullptr},
#define FH_CLI_CHOICE(name, flag, choices, def, commands, desc) \
  {ValueKind::choice, flag, nullptr, choices, def, 0, 0, commands, desc, nullptr, nullptr, &CliOptions::name, nullptr, nullptr},
#define FH_CLI_INT(name, flag, placeholder, def, lo, hi, commands, desc) \
  {ValueKind::integer, flag, nullptr, placeholder, #def, lo, hi, commands, desc, nullptr, nullptr, nullptr, &CliOptions::name, nullptr},
#define FH_CLI_FLAG(name, flag_text, short_flag, commands, desc) \
  {ValueKind::flag, flag_text, short_flag, "", "", 0, 0, commands, desc, nullptr, nullptr, nullptr, nullptr, &CliOptions::name},
#include "report/cli_options.def"
#undef FH_CLI_PATH
#undef FH_CLI_PATHS
#undef FH_CLI_CHOICE
#undef FH_CLI_INT
#undef FH_CLI_FLAG
};

const char usage_line[] =
    "usage: forkhazard run [OPTIONS] -- CMD [ARGS...] | forkhazard report [OPTIONS] PATH... | "
    "forkhazard inspect [OPTIONS] PID... | forkhazard calls | forkhazard --help\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "%s\n%s", message.c_str(), usage_line);
  return exit_usage;
}

// ---- help --------------------------------------------------------------------------------------------------------

// `text` in lines of at most `width` columns (longer words stay whole), each starting with `indent`.
std::string wrapped(std::string_view text, const std::string& indent, size_t width = 100) {
  std::string out, line;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) out += indent + line + "\n";
  return out;
}

// "auto, always or never"
std::string choices_phrase(std::string_view choices) {
  std::string out;
  while (true) {
    size_t bar = choices.find('|');
    out += choices.substr(0, bar);
    if (bar == std::string_view::npos) return out;
    choices.remove_prefix(bar + 1);
    out += choices.find('|') == std::string_view::npos ? " or " : ", ";
  }
}

std::string option_synopsis(const OptionSpec& spec) {
  switch (spec.kind) {
    case ValueKind::path:
    case ValueKind::paths:
    case ValueKind::integer: return std::string(spec.flag) + " " + spec.placeholder;
    case ValueKind::choice: return std::string(spec.flag) + "=" + spec.placeholder;
    case ValueKind::flag:
      return spec.short_flag ? std::string(spec.short_flag) + ", " + spec.flag : std::string(spec.flag);
  }
  return spec.flag;
}

std::string options_help(unsigned command) {
  std::string out = "options (--name VALUE or --name=VALUE):\n";
  for (const OptionSpec& spec : option_specs) {
    if ((spec.commands & command) == 0) continue;
    out += "  " + option_synopsis(spec);
    if (spec.kind == ValueKind::integer)
      out += "  (default: " + std::string(spec.def) + "; " + std::to_string(spec.lo) + ".." +
             std::to_string(spec.hi) + ")";
    else if (*spec.def != '\0')
      out += "  (default: " + std::string(spec.def) + ")";
    out += "\n" + wrapped(spec.description, "      ");
  }
  return out;
}

// The shim's own table (shim/options.def), for `run --help`: what FORKHAZARD_OPTIONS can say.
std::string shim_options_help() {
  std::string out = wrapped(
      "FORKHAZARD_OPTIONS, the shim's options (name=value:name=value; `forkhazard run` passes them on to CMD and "
      "sets log_path itself; FORKHAZARD_OPTIONS=help=1 prints them when a program starts):",
      "");
  auto add = [&](const char* name, const std::string& value, const std::string& def, const char* desc) {
    out += "  " + std::string(name) + "=" + value + "  (default: " + (def.empty() ? "none" : def) + ")\n";
    out += wrapped(desc, "      ");
  };
#define FH_OPTION_STRING(name, def, desc) add(#name, "STRING", def, desc);
#define FH_OPTION_CHOICE(name, def, choices, desc) add(#name, choices, def, desc);
#define FH_OPTION_INT(name, def, lo, hi, desc) add(#name, #lo ".." #hi, std::to_string(def), desc);
#define FH_OPTION_BOOL(name, def, desc) add(#name, "0|1", (def) ? "1" : "0", desc);
#include "shim/options.def"
#undef FH_OPTION_STRING
#undef FH_OPTION_CHOICE
#undef FH_OPTION_INT
#undef FH_OPTION_BOOL
  return out;
}

const char run_usage[] =
    "  forkhazard run [OPTIONS] -- CMD [ARGS...]\n"
    "      run CMD with libforkhazard.so preloaded into it and all its descendants, then print every hazard\n"
    "      on stderr, merged across processes, with a summary line.\n";
const char report_usage[] =
    "  forkhazard report [OPTIONS] PATH...\n"
    "      read the raw reports in PATH (files, or directories of them) that the shim wrote with\n"
    "      FORKHAZARD_OPTIONS=log_path=..., symbolize them with the module map they recorded, print them.\n";
const char inspect_usage[] =
    "  forkhazard inspect [OPTIONS] PID... | --all\n"
    "      look at processes that are already blocked, with nothing preloaded: each thread's wait, its C and\n"
    "      Python stacks, and the verdict by run's rule (a deadlock only where every thread waits for good and\n"
    "      a wait is the fork's doing). Read-only: the processes are stopped an instant and let go, unchanged.\n";
const char calls_usage[] =
    "  forkhazard calls\n"
    "      list the calls the shim reports in the child of a multithreaded fork() (the catalogue).\n";
const char run_status[] =
    "  run: the --exitcode (66) when a hazard --fail-on names (by default an error or a warning) remains after\n"
    "  suppressions, else CMD's own (128+N when killed by signal N); 127 when CMD cannot be run; 2 on a usage\n"
    "  error.\n";
const char report_status[] =
    "  report: the --exitcode (66) when a hazard --fail-on names (by default an error or a warning) remains\n"
    "  after suppressions, else 1 when a file could not be read, else 0; 2 on a usage error.\n";
const char inspect_status[] =
    "  inspect: the --exitcode (66) when a deadlock is found, else 2 when a PID cannot be inspected (no such\n"
    "  process, not permitted) or on a usage error, else 0.\n";
const char levels_help[] =
    "levels (shown in each hazard's headline, \"level\" in JSON, SARIF's level):\n"
    "  error    a deadlock: the child blocks forever\n"
    "  warning  a possible deadlock (a lock a thread that vanished at fork() used), a hang-prone unsafe call\n"
    "  note     a non-portable unsafe call (the allocator, stdio): works with glibc, undefined by POSIX\n";
const char environment_help[] =
    "environment:\n"
    "  FORKHAZARD_OPTIONS  the shim's options (run passes them on); suppressions=FILE is also read by run and\n"
    "                      report, as another --suppressions FILE\n"
    "  FORKHAZARD_LIB      path of libforkhazard.so (default: next to this program, or ../lib/forkhazard/)\n"
    "  NO_COLOR            when set and not empty, --color=auto means never (https://no-color.org)\n";

// The help of one command (cmd_run, cmd_report, cmd_inspect) or, with every bit, of forkhazard as a whole.
std::string help_text(unsigned command) {
  bool run = command & cmd_run, report = command & cmd_report, inspect = command & cmd_inspect;
  bool all = run && report && inspect;
  std::string out;
  if (all)
    out += "forkhazard: finds what breaks in the child of a multithreaded fork() (locks held by threads that\n"
           "vanished at fork, calls that are not async-signal-safe before exec).\n\n";
  out += "usage:\n";
  if (run) out += run_usage;
  if (report) out += report_usage;
  if (inspect) out += inspect_usage;
  if (all) out += calls_usage;
  out += "\n" + options_help(command) + "\n" + levels_help + "\nexit status:\n";
  if (run) out += run_status;
  if (report) out += report_status;
  if (inspect) out += inspect_status;
  out += std::string("\n") + environment_help;
  if (run) out += "\n" + shim_options_help();
  out += "\nman forkhazard has the details: suppression files, FILES, examples.\n";
  return out;
}

// ---- parsing -----------------------------------------------------------------------------------------------------

// Whole-string decimal; false on anything else (sign, spaces, overflow).
bool parse_decimal(const std::string& text, long* value) {
  if (text.empty() || text.size() > 9) return false;
  long v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *value = v;
  return true;
}

const OptionSpec* find_option(std::string_view flag) {
  for (const OptionSpec& spec : option_specs)
    if (flag == spec.flag || (spec.short_flag && flag == spec.short_flag)) return &spec;
  return nullptr;
}

// Stores `value` for `spec`; returns the error message ("" when set).
std::string set_option(const OptionSpec& spec, const std::string& value, const std::string& prefix,
                       CliOptions* options) {
  std::string bad = prefix + "bad value for " + spec.flag + ": '" + value + "' (expected ";
  switch (spec.kind) {
    case ValueKind::path:
    case ValueKind::paths:
      if (value.empty()) return prefix + spec.flag + " needs a " + spec.placeholder;
      if (spec.kind == ValueKind::path)
        options->*spec.path = value;
      else
        (options->*spec.paths).push_back(value);
      return "";
    case ValueKind::choice: {
      int index = choice_index(spec.placeholder, value);
      if (index < 0) return bad + choices_phrase(spec.placeholder) + ")";
      options->*spec.choice = index;
      return "";
    }
    case ValueKind::integer: {
      long v = 0;
      if (!parse_decimal(value, &v) || v < spec.lo || v > spec.hi)
        return bad + std::to_string(spec.lo) + ".." + std::to_string(spec.hi) + ")";
      options->*spec.integer = v;
      return "";
    }
    case ValueKind::flag: return prefix + spec.flag + " takes no value";
  }
  return "";
}

// What the command line asked for: options, then the operands (PATHs of report, CMD of run after "--").
struct CommandLine {
  CliOptions options;
  std::vector<std::string> operands;
  bool dashdash = false;  // "--" was given
};

// Parses `args` for `command` (cmd_run: options end at "--", everything after is CMD; cmd_report: options and
// PATHs may mix, "--" ends options). Returns an exit status when there is nothing more to do: 0 after --help,
// exit_usage after a one-line error and the usage line.
std::optional<int> parse_command_line(const std::vector<std::string>& args, unsigned command, const char* name,
                                      CommandLine* out) {
  const std::string prefix = std::string("forkhazard: ") + name + ": ";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out->dashdash = true;
      out->operands.insert(out->operands.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      return std::nullopt;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (command == cmd_run) return usage_error(prefix + "put '--' before the command ('" + arg + "')");
      out->operands.push_back(arg);
      continue;
    }
    size_t eq = arg.rfind("--", 0) == 0 ? arg.find('=') : std::string::npos;
    std::string flag = arg.substr(0, eq);
    const OptionSpec* spec = find_option(flag);
    if (spec == nullptr) return usage_error(prefix + "unknown option '" + flag + "'");
    if ((spec->commands & command) == 0) return usage_error(prefix + flag + " is not an option of " + name);
    if (spec->kind == ValueKind::flag) {
      if (eq != std::string::npos) return usage_error(prefix + flag + " takes no value");
      out->options.*spec->flag_member = true;
      if (spec->flag_member == &CliOptions::help) {
        std::fputs(help_text(command).c_str(), stdout);
        return 0;
      }
      continue;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      switch (spec->kind) {
        case ValueKind::path:
        case ValueKind::paths: return usage_error(prefix + flag + " needs a " + spec->placeholder);
        case ValueKind::choice:
          return usage_error(prefix + flag + " needs a value (" + choices_phrase(spec->placeholder) + ")");
        case ValueKind::integer:
          return usage_error(prefix + flag + " needs a number (" + std::to_string(spec->lo) + ".." +
                             std::to_string(spec->hi) + ")");
        case ValueKind::flag: break;
      }
    }
    std::string error = set_option(*spec, value, prefix, &out->options);
    if (!error.empty()) return usage_error(error);
  }
  return std::nullopt;
}

// suppressions=FILE of FORKHAZARD_OPTIONS in our own environment ("" when none), read by the shim's own parser
// (shim/options.cpp): the same items, the same "last one counts", the same limits. Its complaints about the
// other items are the shim's to make, once the program starts.
std::string suppressions_from_environment() {
  Options options;
  options_set_defaults(&options);
  options_parse(std::getenv("FORKHAZARD_OPTIONS"), &options, -1);
  return options.suppressions;
}

// Every suppressions file, read and parsed before anything runs; false after printing the one-line error.
bool load_all_suppressions(const CliOptions& options, Suppressions* rules) {
  std::string error;
  for (const std::string& file : options.suppressions) {
    if (!load_suppressions(file, rules, &error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return false;
    }
  }
  std::string file = suppressions_from_environment();
  if (!file.empty() && !load_suppressions(file, rules, &error)) {
    std::fprintf(stderr, "%s (suppressions= in FORKHAZARD_OPTIONS)\n", error.c_str());
    return false;
  }
  return true;
}

// ---- output --------------------------------------------------------------------------------------------------------

// A --json or --sarif destination, opened before any work so a bad path fails early.
class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)) {}
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (file_ != nullptr && file_ != stdout) std::fclose(file_);
  }

  bool wanted() const { return !path_.empty(); }

  bool open(std::string* error) {
    if (path_.empty()) return true;
    file_ = path_ == "-" ? stdout : std::fopen(path_.c_str(), "w");
    if (file_ == nullptr) *error = "forkhazard: cannot write " + path_ + ": " + std::strerror(errno);
    return file_ != nullptr;
  }

  // False (message printed) when the text could not be written.
  bool write(const std::string& text) {
    if (file_ == nullptr) return true;
    bool ok = std::fwrite(text.data(), 1, text.size(), file_) == text.size() && std::fputc('\n', file_) != EOF;
    ok = (file_ == stdout ? std::fflush(file_) == 0 : std::fclose(file_) == 0) && ok;
    file_ = nullptr;
    if (!ok) std::fprintf(stderr, "forkhazard: cannot write %s: %s\n", path_.c_str(), std::strerror(errno));
    return ok;
  }

 private:
  std::string path_;
  FILE* file_ = nullptr;
};

struct Outputs {
  OutputFile json, sarif;
  bool both_stdout;
  explicit Outputs(const CliOptions& options)
      : json(options.json), sarif(options.sarif), both_stdout(options.json == "-" && options.sarif == "-") {}

  // Both opened, or false after printing the one-line error.
  bool open(const char* command) {
    if (both_stdout) {
      std::fprintf(stderr, "forkhazard: %s: --json and --sarif cannot both write to stdout ('-')\n", command);
      return false;
    }
    std::string error;
    if (json.open(&error) && sarif.open(&error)) return true;
    std::fprintf(stderr, "%s\n", error.c_str());
    return false;
  }
};

// Whether `hazard` makes the status the --exitcode: a level counts with every more severe one (Level is ordered
// most severe first); a kind only itself.
bool fails_on(const Hazard& hazard, int fail_on) {
  auto at_least = [&](Level threshold) { return level_of(hazard) <= threshold; };
  switch (static_cast<FailOn>(fail_on)) {
    case fail_on_error: return at_least(Level::error);
    case fail_on_warning: return at_least(Level::warning);
    case fail_on_note: return at_least(Level::note);
    case fail_on_deadlock: return hazard.kind == HazardKind::deadlock;
    case fail_on_possible_deadlock: return hazard.kind == HazardKind::possible_deadlock;
    case fail_on_unsafe_call: return hazard.kind == HazardKind::unsafe_call;
    case fail_on_any: return true;
  }
  return true;
}

struct Outcome {
  bool fail = false;           // a hazard --fail-on names remains
  bool output_failed = false;  // --json or --sarif could not be written
};

// Symbolizes, merges, suppresses; prints read errors, the human report, the used suppressions and the summary on
// stderr; writes the JSON and SARIF.
Outcome present(ReadResult& result, const CliOptions& options, Suppressions& rules, Outputs& outputs) {
  for (const std::string& error : result.errors) std::fprintf(stderr, "%s\n", error.c_str());
  Symbolizer symbolizer;
  FrameResolver resolver(symbolizer);
  for (Report& report : result.reports) resolver.resolve(report);
  for (const std::string& warning : symbolizer.warnings()) std::fprintf(stderr, "%s\n", warning.c_str());

  std::vector<HazardGroup> groups = merge_hazards(result.reports);
  apply_suppressions(&rules, &groups);

  TextStyle style;
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) != nullptr) style.strip_prefix = std::string(cwd) + "/";
  style.color = options.color == color_always ||
                (options.color == color_auto && auto_color(isatty(STDERR_FILENO) == 1, std::getenv("NO_COLOR")));
  // By length, not as C strings: a NUL inside a report must not cut off what follows it.
  for (const std::string& part : {format_text(groups, style), format_used_suppressions(rules), format_summary(groups)})
    std::fwrite(part.data(), 1, part.size(), stderr);

  Outcome outcome;
  for (const HazardGroup& group : groups) outcome.fail = outcome.fail || fails_on(group.hazard, options.fail_on);
  if (!outputs.json.write(to_json(groups))) outcome.output_failed = true;
  if (outputs.sarif.wanted() && !outputs.sarif.write(to_sarif(groups, style.strip_prefix)))
    outcome.output_failed = true;
  return outcome;
}

// ---- commands ------------------------------------------------------------------------------------------------------

int command_run(const std::vector<std::string>& args) {
  CommandLine line;
  if (std::optional<int> done = parse_command_line(args, cmd_run, "run", &line)) return *done;
  // With '--' mandatory, options end only at it: no '--' means no command.
  if (!line.dashdash) return usage_error("forkhazard: run: missing '-- CMD'");
  if (line.operands.empty()) return usage_error("forkhazard: run: no command after '--'");
  const std::vector<std::string>& command = line.operands;

  Suppressions rules;
  if (!load_all_suppressions(line.options, &rules)) return exit_usage;
  std::string error;
  std::string shim = find_shim_library(&error);
  if (shim.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return exit_usage;
  }
  std::string program = resolve_command(command[0], &error);
  if (program.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return exit_not_found;
  }
  std::string warning = unwatchable_warning(program, command[0]);
  if (!warning.empty()) std::fprintf(stderr, "%s\n", warning.c_str());
  Outputs outputs(line.options);
  if (!outputs.open("run")) return exit_usage;
  std::string dir = make_private_dir(&error);
  if (dir.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return exit_usage;
  }

  std::fflush(nullptr);  // nothing buffered may be written twice by the child
  std::optional<watchdog::Watchdog> hang_watchdog;
  if (line.options.watchdog == watchdog_on)
    hang_watchdog.emplace(
        watchdog::Config{shim, dir, watchdog::poll_interval_from(std::getenv("FORKHAZARD_WATCHDOG_POLL_MS")),
                         line.options.still_waiting});
  WatchedRun run = run_watched(command, shim, dir, hang_watchdog ? &*hang_watchdog : nullptr);
  if (!run.error.empty()) {
    std::fprintf(stderr, "%s\n", run.error.c_str());
    remove_private_dir(dir);
    return exit_usage;
  }
  if (run.descendants_left)
    std::fprintf(stderr, "forkhazard: some descendants of %s are still running; reports they write from now on "
                 "are lost\n", command[0].c_str());

  ReadResult result;
  read_raw_path(dir, result);
  Outcome outcome = present(result, line.options, rules, outputs);
  remove_private_dir(dir);
  if (outcome.fail) return static_cast<int>(line.options.exitcode);
  int command_status = shell_status(run.wait_status);
  return outcome.output_failed && command_status == 0 ? 1 : command_status;
}

int command_report(const std::vector<std::string>& args) {
  CommandLine line;
  if (std::optional<int> done = parse_command_line(args, cmd_report, "report", &line)) return *done;
  if (line.operands.empty()) return usage_error("forkhazard: report: no PATH to read");
  Suppressions rules;
  if (!load_all_suppressions(line.options, &rules)) return exit_usage;
  Outputs outputs(line.options);
  if (!outputs.open("report")) return exit_usage;
  ReadResult result;
  for (const std::string& path : line.operands) read_raw_path(path, result);
  Outcome outcome = present(result, line.options, rules, outputs);
  if (outcome.fail) return static_cast<int>(line.options.exitcode);
  if (!result.errors.empty() || outcome.output_failed) return 1;
  if (result.files == 0) std::fprintf(stderr, "forkhazard: no report files found\n");
  return 0;
}

int command_inspect(const std::vector<std::string>& args) {
  CommandLine line;
  if (std::optional<int> done = parse_command_line(args, cmd_inspect, "inspect", &line)) return *done;
  std::vector<pid_t> pids;
  for (const std::string& operand : line.operands) {
    long pid = 0;
    if (!parse_decimal(operand, &pid) || pid <= 0)
      return usage_error("forkhazard: inspect: '" + operand + "' is not a process id");
    pids.push_back(static_cast<pid_t>(pid));
  }
  if (line.options.all && !pids.empty()) return usage_error("forkhazard: inspect: --all takes no PID");
  if (!line.options.all && pids.empty()) return usage_error("forkhazard: inspect: no PID (or --all)");
  Outputs outputs(line.options);
  if (!outputs.open("inspect")) return exit_usage;
  if (line.options.all) {
    pids = watchdog::blocked_processes();
    if (pids.empty()) std::fprintf(stderr, "forkhazard: inspect: no process of yours is blocked for good\n");
  }
  ReadResult result;
  bool bad = false;
  for (pid_t pid : pids) {
    watchdog::Inspection seen = watchdog::inspect_process(pid);
    std::fwrite(seen.summary.data(), 1, seen.summary.size(), stderr);
    bad = bad || seen.status == watchdog::Inspection::Status::no_such_process ||
          seen.status == watchdog::Inspection::Status::not_permitted;
    if (seen.deadlock) read_raw_text(seen.raw, "inspect of " + std::to_string(pid), result);
  }
  std::fflush(stderr);
  Suppressions none;
  Outcome outcome = present(result, line.options, none, outputs);
  if (outcome.fail) return static_cast<int>(line.options.exitcode);
  if (bad) return exit_usage;
  return outcome.output_failed ? 1 : 0;
}

}  // namespace

int cli_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("forkhazard: missing command");
  const std::string& command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(help_text(cmd_run | cmd_report | cmd_inspect).c_str(), stdout);
    return 0;
  }
  if (command == "run") return command_run(rest);
  if (command == "report") return command_report(rest);
  if (command == "inspect") return command_inspect(rest);
  if (command == "calls") {
    if (rest.size() == 1 && (rest[0] == "-h" || rest[0] == "--help")) {
      std::fputs(calls_usage, stdout);
      return 0;
    }
    if (!rest.empty()) return usage_error("forkhazard: calls: takes no arguments");
    std::fputs(format_catalogue().c_str(), stdout);
    return 0;
  }
  return usage_error("forkhazard: unknown command '" + command + "'");
}

}  // namespace fh
