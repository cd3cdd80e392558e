// The CLI's contract on the golden inputs (tests/golden/): options, exit statuses, --fail-on, suppressions,
// colour, help and the man page. Run with cwd = the project root.
#include "tests/golden_support.h"

using namespace golden;

// ---- the CLI on the golden inputs -----------------------------------------------------------------------------------

Test(cli, report_prints_golden_text_and_json, .init = clean_environment) {
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

Test(cli, colour_option, .init = clean_environment) {
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

Test(cli, fail_on_and_exitcode, .init = clean_environment) {
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
Test(cli, fail_on_levels, .init = clean_environment) {
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

Test(cli, rejects_bad_values_with_one_line, .init = clean_environment) {
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

Test(cli, run_writes_json_and_sarif_and_passes_the_status_through, .init = clean_environment) {
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

Test(cli, suppressions_drop_what_they_name, .init = clean_environment) {
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

Test(cli, suppresses_possible_deadlocks, .init = clean_environment) {
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

Test(cli, malformed_suppressions_stop_everything, .init = clean_environment) {
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

Test(cli, help_lists_the_tables, .init = clean_environment) {
  Cli top = cli({"--help"});
  Cli run = cli({"run", "--help"});
  Cli report = cli({"report", "-h"});
  Cli inspect = cli({"inspect", "--help"});
  for (auto [r, command] : {std::pair{&top, cmd_run | cmd_report | cmd_inspect}, {&run, cmd_run}, {&report, cmd_report},
                            {&inspect, cmd_inspect}}) {
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
  cr_expect(contains(inspect.out, "forkhazard inspect [OPTIONS] PID... | --all") &&
                contains(inspect.out, "inspect: the --exitcode (66) when a deadlock is found"),
            "%s", inspect.out.c_str());
  Cli calls = cli({"calls"});
  cr_expect_eq(calls.status, 0);
  cr_expect(contains(calls.out, "malloc"), "forkhazard calls still lists the catalogue:\n%s", calls.out.c_str());
}

Test(cli, man_page_documents_every_option) {
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

