// `forkhazard run` and `forkhazard report`: argument parsing, then read -> symbolize -> print.
#include "report/cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "report/catalogue.h"
#include "report/json.h"
#include "report/launch.h"
#include "report/reader.h"
#include "report/resolve.h"
#include "report/text.h"

namespace fh {

namespace {

const char usage_line[] =
    "usage: forkhazard run [--json FILE] -- CMD [ARGS...] | forkhazard report [--json FILE] PATH... | "
    "forkhazard calls\n";

const char help_text[] =
    "forkhazard: finds what breaks in the child of a multithreaded fork() (locks held by threads that\n"
    "vanished at fork, calls that are not async-signal-safe before exec).\n"
    "\n"
    "usage:\n"
    "  forkhazard run [--json FILE] -- CMD [ARGS...]\n"
    "      run CMD with libforkhazard.so preloaded into it and all its descendants, then print every\n"
    "      hazard on stderr. Exit status: 66 when a hazard was reported, else CMD's own (128+N when\n"
    "      killed by signal N); 127 when CMD cannot be run; 2 on a usage error.\n"
    "  forkhazard report [--json FILE] PATH...\n"
    "      print the raw reports in PATH (files, or directories of them) written by the shim with\n"
    "      FORKHAZARD_OPTIONS=log_path=... Exit status: 66 when a hazard is in them, 1 when a file could\n"
    "      not be read, else 0.\n"
    "\n"
    "options:\n"
    "  --json FILE   also write the hazards as JSON to FILE ('-' for stdout)\n"
    "  -h, --help    print this help\n"
    "\n"
    "environment:\n"
    "  FORKHAZARD_LIB       path of libforkhazard.so (default: next to this program, or ../lib/forkhazard/)\n"
    "  FORKHAZARD_OPTIONS   options of the shim, key=value:key=value (help=1 lists them)\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "%s\n%s", message.c_str(), usage_line);
  return exit_usage;
}

// The JSON destination, opened before any work so a bad path fails early.
struct JsonOutput {
  std::string path;
  FILE* file = nullptr;

  bool open(std::string* error) {
    if (path.empty()) return true;
    file = path == "-" ? stdout : std::fopen(path.c_str(), "w");
    if (file == nullptr) *error = "forkhazard: cannot write " + path + ": " + std::strerror(errno);
    return file != nullptr;
  }

  // False (message printed) when the text could not be written.
  bool write(const std::string& json) {
    if (file == nullptr) return true;
    bool ok = std::fputs(json.c_str(), file) >= 0 && std::fputc('\n', file) != EOF;
    ok = (file == stdout ? std::fflush(file) == 0 : std::fclose(file) == 0) && ok;
    file = nullptr;
    if (!ok) std::fprintf(stderr, "forkhazard: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
    return ok;
  }
};

// Options shared by both commands. Returns the index of the first operand, or -1 after printing a usage error
// (*status set); `dashdash_required` makes "--" mandatory before the operands (run).
int parse_options(const std::vector<std::string>& args, const char* command, bool dashdash_required,
                  JsonOutput* json, int* status) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return static_cast<int>(i + 1);
    if (arg == "-h" || arg == "--help") {
      std::fputs(help_text, stdout);
      *status = 0;
      return -1;
    }
    if (arg == "--json") {
      if (i + 1 >= args.size()) {
        *status = usage_error(std::string("forkhazard: ") + command + ": --json needs a FILE");
        return -1;
      }
      json->path = args[++i];
    } else if (arg.rfind("--json=", 0) == 0) {
      json->path = arg.substr(7);
    } else if (arg.size() > 1 && arg[0] == '-') {
      *status = usage_error(std::string("forkhazard: ") + command + ": unknown option '" + arg + "'");
      return -1;
    } else if (dashdash_required) {
      *status = usage_error(std::string("forkhazard: ") + command + ": put '--' before the command ('" + arg + "')");
      return -1;
    } else {
      return static_cast<int>(i);
    }
    if (json->path.empty()) {
      *status = usage_error(std::string("forkhazard: ") + command + ": --json needs a FILE");
      return -1;
    }
  }
  return static_cast<int>(args.size());
}

struct Presented {
  size_t hazards = 0;
  bool json_failed = false;
};

// Symbolizes, prints the human report and read errors on stderr, writes the JSON.
Presented present(ReadResult& result, JsonOutput& json) {
  for (const std::string& error : result.errors) std::fprintf(stderr, "%s\n", error.c_str());
  Symbolizer symbolizer;
  FrameResolver resolver(symbolizer);
  Presented presented;
  for (Report& report : result.reports) {
    resolver.resolve(report);
    presented.hazards += report.hazards.size();
  }
  for (const std::string& warning : symbolizer.warnings()) std::fprintf(stderr, "%s\n", warning.c_str());

  TextStyle style;
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) != nullptr) style.strip_prefix = std::string(cwd) + "/";
  std::string text = format_text(result.reports, style);
  std::fputs(text.c_str(), stderr);
  std::fputs(format_summary(result.reports).c_str(), stderr);
  presented.json_failed = !json.write(to_json(result.reports));
  return presented;
}

int command_run(const std::vector<std::string>& args) {
  JsonOutput json;
  int status = 0;
  int first = parse_options(args, "run", true, &json, &status);
  if (first < 0) return status;
  // With '--' mandatory, options end only at it: no '--' means no command.
  if (first == 0 || args[first - 1] != "--") return usage_error("forkhazard: run: missing '-- CMD'");
  if (static_cast<size_t>(first) == args.size()) return usage_error("forkhazard: run: no command after '--'");
  std::vector<std::string> command(args.begin() + first, args.end());

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
  if (!json.open(&error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return exit_usage;
  }
  std::string dir = make_private_dir(&error);
  if (dir.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return exit_usage;
  }

  std::fflush(nullptr);  // nothing buffered may be written twice by the child
  WatchedRun run = run_watched(command, shim, dir);
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
  Presented presented = present(result, json);
  remove_private_dir(dir);
  if (presented.hazards > 0) return exit_hazard;
  int command_status = shell_status(run.wait_status);
  return presented.json_failed && command_status == 0 ? 1 : command_status;
}

int command_report(const std::vector<std::string>& args) {
  JsonOutput json;
  int status = 0;
  int first = parse_options(args, "report", false, &json, &status);
  if (first < 0) return status;
  if (static_cast<size_t>(first) >= args.size()) return usage_error("forkhazard: report: no PATH to read");
  std::string error;
  if (!json.open(&error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return exit_usage;
  }
  ReadResult result;
  for (size_t i = static_cast<size_t>(first); i < args.size(); ++i) read_raw_path(args[i], result);
  Presented presented = present(result, json);
  if (presented.hazards > 0) return exit_hazard;
  if (!result.errors.empty() || presented.json_failed) return 1;
  if (result.files == 0) std::fprintf(stderr, "forkhazard: no report files found\n");
  return 0;
}

}  // namespace

int cli_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("forkhazard: missing command");
  const std::string& command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(help_text, stdout);
    return 0;
  }
  if (command == "run") return command_run(rest);
  if (command == "report") return command_report(rest);
  if (command == "calls") {
    if (!rest.empty()) return usage_error("forkhazard: calls: takes no arguments");
    std::fputs(format_catalogue().c_str(), stdout);
    return 0;
  }
  return usage_error("forkhazard: unknown command '" + command + "'");
}

}  // namespace fh
