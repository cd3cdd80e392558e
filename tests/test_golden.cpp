// Golden files for the text and JSON printers. Inputs are fixed raw reports, tests/golden/text_*.raw, whose
// modules exist nowhere (/nonexistent/...), so nothing symbolizes and the output is the same on every machine;
// each is compared byte for byte with tests/golden/text_*.txt (colours off) and text_*.json. Run with cwd = the
// project root. FORKHAZARD_UPDATE_GOLDEN=1 rewrites the expected files from the current output and fails the
// test, so the diff gets reviewed before it is committed.
#include "tests/golden_support.h"

using namespace golden;

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

// A CPython child: its Python stack under the C stack, the vanished holder's and the forking thread's at the
// fork; two children of one pool merge (the same Python stacks).
Test(golden, python_stacks) {
  std::vector<fh::HazardGroup> groups = groups_of("python_deadlock.raw");
  cr_assert_eq(groups.size(), 1u, "the two children's deadlocks merge");
  std::string text = fh::format_text(groups);
  std::string json = fh::to_json(groups) + "\n";
  expect_golden("python_deadlock.txt", text);
  expect_golden("python_deadlock.json", json);
  cr_expect(contains(text, "  Python stack:\n    File \"/usr/lib/python3.11/logging/__init__.py\", line 1089, in emit\n"),
            "%s", text.c_str());
  cr_expect(contains(text, "    File \"/srv/app/jobs.py\", line 30, in child_main\n"), "%s", text.c_str());
  cr_expect(contains(text, "      Python stack at fork():\n        File \"/usr/lib/python3.11/logging/__init__.py\", "
                           "line 1113, in emit\n        File \"/srv/app/shipper.py\", line 17, in ship_forever\n"),
            "%s", text.c_str());
  cr_expect(contains(text, "in Python: start child processes with multiprocessing.get_context(\"forkserver\")"), "%s",
            text.c_str());
  cr_expect(contains(text, "(2 occurrences in processes 7302, 7303)"), "%s", text.c_str());
  cr_expect(contains(json, R"("python_stack":[{"file":"/usr/lib/python3.11/logging/__init__.py","line":1089,"function":"emit"},)"),
            "%s", json.c_str());
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
