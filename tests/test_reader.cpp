// Unit tests of report/: the raw-format reader, frame resolution, the JSON and text printers, CLI arguments.
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "report/cli.h"
#include "report/json.h"
#include "report/reader.h"
#include "report/resolve.h"
#include "report/text.h"

// A function of this binary with a known name, for the symbolization test.
extern "C" __attribute__((noinline, used)) int fh_reader_probe(int x) { return x * 3 + 1; }

// Criterion keeps the pointers it compares: the strings must outlive the assertion, not be temporaries.
#define EXPECT_TEXT(actual, expected)                   \
  do {                                                  \
    const std::string actual_text = (actual);           \
    const std::string expected_text = (expected);       \
    cr_expect_str_eq(actual_text.c_str(), expected_text.c_str()); \
  } while (0)

namespace {

// A complete block using every record; PCs lie outside its modules except where a test adds one.
const char full_block[] =
    "forkhazard-raw v=1\n"
    "report pid=4242 ppid=4241\n"
    "# forkhazard: deadlock in process 4242 (free text)\n"
    "hazard kind=deadlock call=pthread_mutex_lock\n"
    "lock addr=0x55d5d2a2c040 type=mutex\n"
    "owner tid=4239 name=worker%20one%25 relation=vanished\n"
    "acquired pcs=0x55d5d2a2b1c9\n"
    "stack pcs=0x55d5d2a2b2f0,0x7f1c2a02324a,0xABC\n"
    "fork parent_pid=4241 forking_tid=4241 pcs=0x55d5d2a2b2a0\n"
    "thread tid=4239 name=worker%20one%25 relation=vanished created=0x55d5d2a2b290\n"
    "held addr=0x55d5d2a2c040 type=mutex depth=1 pcs=0x55d5d2a2b1c9\n"
    "held addr=0x55d5d2a2c080 type=rwlock-read depth=3 pcs=0x1,0x2\n"
    "thread tid=4241 name=main relation=forker created=-\n"
    "module lo=0x55d5d2a2a000 hi=0x55d5d2a2f010 bias=0x55d5d2a2a000 build_id=3f2a path=/abs/my%20path\n"
    "module lo=0x7f1c2a000000 hi=0x7f1c2a200000 bias=0x7f1c2a000000 build_id=- path=/lib/libc.so.6\n"
    "end\n";

// A small report whose PCs match no module, so no symbolization happens.
const char small_block[] =
    "forkhazard-raw v=1\n"
    "report pid=20 ppid=10\n"
    "hazard kind=deadlock call=pthread_mutex_lock\n"
    "lock addr=0x1000 type=mutex\n"
    "owner tid=11 name=w%22q relation=vanished\n"
    "acquired pcs=0xa1\n"
    "stack pcs=0xb1,0xb2\n"
    "fork parent_pid=10 forking_tid=10 pcs=0xc1\n"
    "thread tid=11 name=w%22q relation=vanished created=0xd1\n"
    "held addr=0x1000 type=mutex depth=2 pcs=0xe1\n"
    "end\n";

const char small_json[] =
    R"({"version":1,"hazards":[{"kind":"deadlock","pid":20,"call":"pthread_mutex_lock",)"
    R"("lock":{"addr":"0x1000","type":"mutex"},"owner":{"tid":11,"name":"w\"q","relation":"vanished"},)"
    R"("acquired_at":[{"pc":"0xa1"}],"stack":[{"pc":"0xb1"},{"pc":"0xb2"}],)"
    R"("fork":{"parent_pid":10,"forking_tid":10,"stack":[{"pc":"0xc1"}],)"
    R"("threads":[{"tid":11,"name":"w\"q","relation":"vanished","created_at":[{"pc":"0xd1"}],)"
    R"("held":[{"addr":"0x1000","type":"mutex","depth":2,"acquired_at":[{"pc":"0xe1"}]}]}]}}]})";

fh::ReadResult parse(const std::string& text, const std::string& name = "t.raw") {
  fh::ReadResult result;
  fh::read_raw_text(text, name, result);
  return result;
}

std::string joined_errors(const fh::ReadResult& r) {
  std::string all;
  for (const std::string& e : r.errors) all += e + "\n";
  return all;
}

void resolve_all(fh::ReadResult& r) {
  fh::Symbolizer symbolizer;
  fh::FrameResolver resolver(symbolizer);
  for (fh::Report& report : r.reports) resolver.resolve(report);
}

std::string temp_dir() {
  char pattern[] = "/tmp/forkhazard-reader.XXXXXX";
  const char* dir = mkdtemp(pattern);
  cr_assert(dir != nullptr, "mkdtemp failed");
  return dir;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  cr_assert(out.good(), "cannot write %s", path.c_str());
}

int call_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "forkhazard");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return fh::cli_main(static_cast<int>(args.size()), argv.data());
}

}  // namespace

Test(reader, parses_every_record) {
  fh::ReadResult r = parse(full_block);
  cr_assert(r.errors.empty(), "unexpected errors:\n%s", joined_errors(r).c_str());
  cr_assert_eq(r.reports.size(), 1u);
  const fh::Report& report = r.reports[0];
  cr_expect_eq(report.pid, 4242);
  cr_expect_eq(report.ppid, 4241);
  cr_expect_str_eq(report.source.c_str(), "t.raw");
  cr_assert_eq(report.hazards.size(), 1u);
  const fh::Hazard& h = report.hazards[0];
  cr_expect(h.kind == fh::HazardKind::deadlock);
  cr_expect_eq(h.pid, 4242);
  cr_expect_eq(h.ppid, 4241);
  cr_expect_str_eq(h.call.c_str(), "pthread_mutex_lock");
  cr_assert(h.lock.has_value());
  cr_expect_eq(h.lock->addr, 0x55d5d2a2c040u);
  cr_expect(h.lock->type == fh::LockType::mutex);
  cr_assert(h.owner.has_value());
  cr_expect_eq(h.owner->tid, 4239);
  cr_expect_str_eq(h.owner->name.c_str(), "worker one%");
  cr_expect(h.owner->relation == fh::Relation::vanished);
  cr_assert_eq(h.acquired_at.size(), 1u);
  cr_expect_eq(h.acquired_at[0].pc, 0x55d5d2a2b1c9u);
  cr_assert_eq(h.stack.size(), 3u);
  cr_expect_eq(h.stack[0].pc, 0x55d5d2a2b2f0u);
  cr_expect_eq(h.stack[1].pc, 0x7f1c2a02324au);
  cr_expect_eq(h.stack[2].pc, 0xabcu);

  cr_assert(h.fork.has_value());
  const fh::ForkContext& f = *h.fork;
  cr_expect_eq(f.parent_pid, 4241);
  cr_expect_eq(f.forking_tid, 4241);
  cr_assert_eq(f.stack.size(), 1u);
  cr_expect_eq(f.stack[0].pc, 0x55d5d2a2b2a0u);
  cr_assert_eq(f.threads.size(), 2u);
  const fh::ForkThread& worker = f.threads[0];
  cr_expect_eq(worker.tid, 4239);
  cr_expect_str_eq(worker.name.c_str(), "worker one%");
  cr_expect(worker.relation == fh::Relation::vanished);
  cr_assert_eq(worker.created_at.size(), 1u);
  cr_expect_eq(worker.created_at[0].pc, 0x55d5d2a2b290u);
  cr_assert_eq(worker.held.size(), 2u);
  cr_expect_eq(worker.held[0].lock.addr, 0x55d5d2a2c040u);
  cr_expect(worker.held[0].lock.type == fh::LockType::mutex);
  cr_expect_eq(worker.held[0].depth, 1);
  cr_expect_eq(worker.held[1].lock.addr, 0x55d5d2a2c080u);
  cr_expect(worker.held[1].lock.type == fh::LockType::rwlock_read);
  cr_expect_eq(worker.held[1].depth, 3);
  cr_assert_eq(worker.held[1].acquired_at.size(), 2u);
  cr_expect_eq(worker.held[1].acquired_at[1].pc, 0x2u);
  const fh::ForkThread& main_thread = f.threads[1];
  cr_expect(main_thread.relation == fh::Relation::forker);
  cr_expect(main_thread.created_at.empty(), "an empty PC list is an empty stack");
  cr_expect(main_thread.held.empty());

  cr_assert_eq(report.modules.size(), 2u);
  cr_expect_eq(report.modules[0].lo, 0x55d5d2a2a000u);
  cr_expect_eq(report.modules[0].hi, 0x55d5d2a2f010u);
  cr_expect_eq(report.modules[0].bias, 0x55d5d2a2a000u);
  cr_expect_str_eq(report.modules[0].build_id.c_str(), "3f2a");
  cr_expect_str_eq(report.modules[0].path.c_str(), "/abs/my path");
  cr_expect_str_eq(report.modules[1].build_id.c_str(), "");
  cr_expect_str_eq(report.modules[1].path.c_str(), "/lib/libc.so.6");
}

Test(reader, percent_decoding) {
  std::string out;
  cr_assert(fh::percent_decode("a%20b%25c%2C%3d%0A", &out));
  cr_expect_str_eq(out.c_str(), "a b%c,=\n");
  cr_assert(fh::percent_decode("%2D-", &out));
  cr_expect_str_eq(out.c_str(), "--");
  cr_assert(fh::percent_decode("", &out));
  cr_expect_str_eq(out.c_str(), "");
  cr_expect_not(fh::percent_decode("abc%2", &out), "a truncated escape is malformed");
  cr_expect_not(fh::percent_decode("abc%", &out));
  cr_expect_not(fh::percent_decode("%zz", &out));

  fh::ReadResult r = parse("forkhazard-raw v=1\nreport pid=1 ppid=0\nhazard kind=deadlock call=f%2\nend\n");
  cr_assert_eq(r.errors.size(), 1u);
  cr_expect(r.errors[0].find("t.raw:3:") != std::string::npos, "error names the line: %s", r.errors[0].c_str());
}

Test(reader, magic_line_is_required) {
  fh::ReadResult r = parse("report pid=1 ppid=0\nhazard kind=deadlock call=f\nend\n", "x.raw");
  cr_assert_eq(r.errors.size(), 1u);
  cr_expect_str_eq(r.errors[0].c_str(), "forkhazard: x.raw: not a forkhazard raw report (bad first line)");
  cr_expect(r.reports.empty());

  r = parse("forkhazard-raw v=2\nreport pid=1 ppid=0\nend\n", "x.raw");
  cr_assert_eq(r.errors.size(), 1u);
  cr_expect(r.errors[0].find("version '2' is not supported") != std::string::npos, "%s", r.errors[0].c_str());
  cr_expect(r.reports.empty());

  r = parse("", "empty.raw");
  cr_assert_eq(r.errors.size(), 1u);
  cr_expect(r.errors[0].find("empty.raw") != std::string::npos);
}

Test(reader, truncated_block_keeps_complete_ones) {
  std::string text = std::string(full_block) +
                     "report pid=5000 ppid=4242\n"
                     "hazard kind=deadlock call=sem_wait\n"
                     "lock addr=0x10 type=semaphore\n";
  fh::ReadResult r = parse(text);
  cr_assert_eq(r.errors.size(), 1u, "errors:\n%s", joined_errors(r).c_str());
  cr_expect_str_eq(r.errors[0].c_str(), "forkhazard: t.raw: truncated report (no 'end' line)");
  cr_assert_eq(r.reports.size(), 1u);
  cr_expect_eq(r.reports[0].pid, 4242);

  // A 'report' line inside an open block also ends it as truncated; the next block still counts.
  r = parse("forkhazard-raw v=1\nreport pid=1 ppid=0\nhazard kind=deadlock call=f\n"
            "report pid=2 ppid=0\nhazard kind=deadlock call=g\nend\n");
  cr_assert_eq(r.errors.size(), 1u);
  cr_expect(r.errors[0].find("t.raw:4: truncated report") != std::string::npos, "%s", r.errors[0].c_str());
  cr_assert_eq(r.reports.size(), 1u);
  cr_expect_eq(r.reports[0].pid, 2);
}

Test(reader, unknown_records_keys_and_comments_are_ignored) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1 flavour=new\n"
      "stray before=block\n"
      "report pid=7 ppid=6 colour=blue\n"
      "# a comment with = signs and %zz\n"
      "\n"
      "frobnicate a=b c=d\n"
      "hazard kind=deadlock call=pthread_rwlock_wrlock severity=high\n"
      "lock addr=0x20 type=rwlock-write future=1\n"
      "owner tid=3 name=t relation=vanished since=boot\n"
      "end\n");
  cr_assert(r.errors.empty(), "unexpected errors:\n%s", joined_errors(r).c_str());
  cr_assert_eq(r.reports.size(), 1u);
  cr_assert_eq(r.reports[0].hazards.size(), 1u);
  const fh::Hazard& h = r.reports[0].hazards[0];
  cr_expect_eq(h.pid, 7);
  cr_expect_str_eq(h.call.c_str(), "pthread_rwlock_wrlock");
  cr_expect(h.lock->type == fh::LockType::rwlock_write);
  cr_expect_eq(h.owner->tid, 3);
  cr_expect(!h.fork.has_value(), "no fork record, no fork context");
}

Test(reader, dash_is_the_empty_value) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\nreport pid=7 ppid=6\nhazard kind=deadlock call=f\n"
      "owner tid=3 name=- relation=vanished\nacquired pcs=-\nstack pcs=0x1\n"
      "fork parent_pid=6 forking_tid=6 pcs=-\nthread tid=3 name=%2Dx relation=vanished created=-\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  const fh::Hazard& h = r.reports.at(0).hazards.at(0);
  cr_expect_str_eq(h.owner->name.c_str(), "");
  cr_expect(h.acquired_at.empty());
  cr_expect_eq(h.stack.size(), 1u);
  cr_expect(h.fork->stack.empty());
  cr_expect_str_eq(h.fork->threads.at(0).name.c_str(), "-x", "an escaped leading '-' is a real one");
  cr_expect(h.fork->threads.at(0).created_at.empty());
}

Test(reader, unknown_words_are_kept_verbatim) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\nreport pid=7 ppid=6\nhazard kind=cond-destroy call=pthread_cond_destroy\n"
      "lock addr=0x20 type=condvar\nowner tid=3 name= relation=zombie\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  const fh::Hazard& h = r.reports.at(0).hazards.at(0);
  cr_expect(h.kind == fh::HazardKind::other);
  cr_expect(h.lock->type == fh::LockType::other);
  cr_expect(h.owner->relation == fh::Relation::other);
  std::string json = fh::to_json(r.reports);
  cr_expect(json.find(R"("kind":"cond-destroy")") != std::string::npos, "%s", json.c_str());
  cr_expect(json.find(R"("type":"condvar")") != std::string::npos, "%s", json.c_str());
  cr_expect(json.find(R"("relation":"zombie")") != std::string::npos, "%s", json.c_str());
}

Test(reader, malformed_numbers_name_file_and_line) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\n"
      "report pid=1 ppid=0\n"
      "hazard kind=deadlock call=f\n"
      "lock addr=0xZZ type=mutex\n"
      "owner tid=12x name=a relation=vanished\n"
      "stack pcs=0x1,,0x2\n"
      "end\n",
      "bad.raw");
  cr_assert_eq(r.errors.size(), 3u, "errors:\n%s", joined_errors(r).c_str());
  cr_expect_str_eq(r.errors[0].c_str(), "forkhazard: bad.raw:4: malformed hex number '0xZZ' in 'lock addr='");
  cr_expect_str_eq(r.errors[1].c_str(), "forkhazard: bad.raw:5: malformed decimal number '12x' in 'owner tid='");
  cr_expect(r.errors[2].find("bad.raw:6: malformed hex number in PC list") != std::string::npos, "%s",
            r.errors[2].c_str());
  for (const std::string& e : r.errors) cr_expect(e.find('\n') == std::string::npos, "one line: %s", e.c_str());
  // The block itself is complete: it is kept, with the bad values left at their defaults.
  cr_assert_eq(r.reports.size(), 1u);
  cr_expect_eq(r.reports[0].hazards.at(0).lock->addr, 0u);
  cr_expect(r.reports[0].hazards.at(0).stack.empty());
}

Test(reader, field_without_equals_is_an_error) {
  fh::ReadResult r = parse("forkhazard-raw v=1\nreport pid=1 ppid=0\nhazard kind=deadlock oops\nend\n");
  cr_assert_eq(r.errors.size(), 1u);
  cr_expect(r.errors[0].find("t.raw:3: malformed field 'oops'") != std::string::npos, "%s", r.errors[0].c_str());
}

Test(reader, directory_reads_regular_files_in_order) {
  std::string dir = temp_dir();
  write_file(dir + "/fh.300", "forkhazard-raw v=1\nreport pid=300 ppid=1\nhazard kind=deadlock call=f\nend\n");
  write_file(dir + "/fh.100", "forkhazard-raw v=1\nreport pid=100 ppid=1\nhazard kind=deadlock call=f\nend\n");
  write_file(dir + "/fh.200", "not a report\n");
  cr_assert_eq(mkdir((dir + "/sub").c_str(), 0700), 0);
  write_file(dir + "/sub/fh.400", "forkhazard-raw v=1\nreport pid=400 ppid=1\nend\n");
  fh::ReadResult r;
  fh::read_raw_path(dir, r);
  cr_expect_eq(r.files, 3u);
  cr_assert_eq(r.reports.size(), 2u, "one bad file must not lose the others");
  cr_expect_eq(r.reports[0].pid, 100);
  cr_expect_eq(r.reports[1].pid, 300);
  cr_assert_eq(r.errors.size(), 1u);
  EXPECT_TEXT(r.errors[0], "forkhazard: " + dir + "/fh.200: not a forkhazard raw report (bad first line)");

  fh::ReadResult missing;
  fh::read_raw_path(dir + "/nope", missing);
  cr_assert_eq(missing.errors.size(), 1u);
  cr_expect(missing.errors[0].find("/nope: cannot open") != std::string::npos, "%s", missing.errors[0].c_str());
  std::string cmd = "rm -rf '" + dir + "'";
  cr_expect_eq(std::system(cmd.c_str()), 0);
}

Test(reader, json_of_a_parsed_report) {
  fh::ReadResult r = parse(small_block);
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  resolve_all(r);
  EXPECT_TEXT(fh::to_json(r.reports), small_json);
}

Test(reader, json_of_a_clean_run) {
  EXPECT_TEXT(fh::to_json({}), R"({"version":1,"hazards":[]})");
  fh::ReadResult r = parse("forkhazard-raw v=1\nreport pid=1 ppid=0\nend\n");
  cr_assert_eq(r.reports.size(), 1u);
  EXPECT_TEXT(fh::to_json(r.reports), R"({"version":1,"hazards":[]})");
}

Test(reader, json_omits_what_a_hazard_lacks) {
  fh::ReadResult r = parse("forkhazard-raw v=1\nreport pid=9 ppid=8\nhazard kind=unsafe-call call=localtime_r\n"
                           "stack pcs=0x5\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  EXPECT_TEXT(fh::to_json(r.reports),
                   R"({"version":1,"hazards":[{"kind":"unsafe-call","pid":9,"call":"localtime_r",)"
                   R"("stack":[{"pc":"0x5"}]}]})");
}

Test(reader, json_frames_with_module_and_source) {
  fh::Report report;
  fh::Hazard& h = report.hazards.emplace_back();
  h.pid = 1;
  h.call = "sem_wait";
  fh::Frame inner;
  inner.pc = 0x1010;
  inner.module = "/m/x.so";
  inner.offset = 0x10;
  inner.function = "inner";
  inner.file = "a.c";
  inner.line = 3;
  inner.inlined = true;
  fh::Frame outer = inner;
  outer.function = "outer";
  outer.line = 9;
  outer.inlined = false;
  fh::Frame bare;
  bare.pc = 0x2000;
  bare.module = "/m/x.so";
  bare.offset = 0x1000;
  h.stack = {inner, outer, bare};
  EXPECT_TEXT(fh::to_json({report}),
                   R"({"version":1,"hazards":[{"kind":"deadlock","pid":1,"call":"sem_wait","stack":[)"
                   R"({"pc":"0x1010","module":"/m/x.so","offset":"0x10","function":"inner","file":"a.c","line":3,)"
                   R"("inlined":true},)"
                   R"({"pc":"0x1010","module":"/m/x.so","offset":"0x10","function":"outer","file":"a.c","line":9},)"
                   R"({"pc":"0x2000","module":"/m/x.so","offset":"0x1000"}]}]})");
}

Test(reader, json_string_escaping) {
  EXPECT_TEXT(fh::json_string("plain"), "\"plain\"");
  EXPECT_TEXT(fh::json_string("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
  EXPECT_TEXT(fh::json_string("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_TEXT(fh::json_string(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_TEXT(fh::json_string(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_TEXT(fh::json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"),
                   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92\"");  // valid UTF-8 passes through
  // Bytes that are not UTF-8 (a Latin-1 path, a cut sequence, an overlong, a surrogate) keep the JSON valid.
  EXPECT_TEXT(fh::json_string("\xff/x"), "\"\\ufffd/x\"");
  EXPECT_TEXT(fh::json_string("\xe2\x82"), "\"\\ufffd\\ufffd\"");
  EXPECT_TEXT(fh::json_string("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
  EXPECT_TEXT(fh::json_string("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
}

Test(reader, frames_in_an_unreadable_module_get_module_and_offset) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\nreport pid=2 ppid=1\nhazard kind=deadlock call=f\n"
      "stack pcs=0x401234,0x999,0x401000\n"
      "module lo=0x400000 hi=0x402000 bias=0x3ff000 build_id=ab path=/nonexistent/forkhazard/x.so\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  fh::Symbolizer symbolizer;
  fh::FrameResolver resolver(symbolizer);
  resolver.resolve(r.reports[0]);
  const fh::Stack& s = r.reports[0].hazards[0].stack;
  cr_assert_eq(s.size(), 3u);
  cr_expect_str_eq(s[0].module.c_str(), "/nonexistent/forkhazard/x.so");
  cr_expect_eq(s[0].offset, 0x2234u);
  cr_expect(s[0].function.empty());
  cr_expect(s[1].module.empty(), "a PC outside every module keeps only its pc");
  cr_expect_eq(s[2].offset, 0x2000u);
  cr_expect_eq(symbolizer.warnings().size(), 1u, "one warning per module, not per frame");
  std::string json = fh::to_json(r.reports);
  cr_expect(json.find(R"({"pc":"0x401234","module":"/nonexistent/forkhazard/x.so","offset":"0x2234"})") !=
                std::string::npos,
            "%s", json.c_str());
  std::string text = fh::format_text(r.reports);
  cr_expect(text.find("    #0 0x401234 (x.so+0x2234)\n") != std::string::npos, "%s", text.c_str());
  cr_expect(text.find("    #1 0x999 (no module)\n") != std::string::npos, "%s", text.c_str());
}

Test(reader, frames_of_this_binary_are_symbolized) {
  Dl_info info;
  link_map* map = nullptr;
  void* probe = reinterpret_cast<void*>(&fh_reader_probe);
  cr_assert(dladdr1(probe, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) != 0 && map != nullptr);
  char exe[PATH_MAX];
  cr_assert(realpath("/proc/self/exe", exe) != nullptr);
  uint64_t pc = reinterpret_cast<uint64_t>(probe) + 1;  // as a return address: the lookup is at pc-1
  auto hex = [](uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return std::string(buf);
  };
  std::string text = "forkhazard-raw v=1\nreport pid=2 ppid=1\nhazard kind=deadlock call=f\nstack pcs=" + hex(pc) +
                     "\nmodule lo=" + hex(pc - 1) + " hi=" + hex(pc + 1) + " bias=" + hex(map->l_addr) +
                     " path=" + exe + "\nend\n";
  fh::ReadResult r = parse(text);
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  resolve_all(r);
  const fh::Stack& s = r.reports[0].hazards[0].stack;
  cr_assert_geq(s.size(), 1u);
  cr_expect_str_eq(s.back().function.c_str(), "fh_reader_probe");
  cr_expect(s.back().file.find("test_reader.cpp") != std::string::npos, "file: %s", s.back().file.c_str());
  cr_expect_gt(s.back().line, 0);
  cr_expect_eq(s.back().offset, pc - map->l_addr);
}

Test(reader, text_report_reads_like_a_sanitizer) {
  fh::ReadResult r = parse(small_block);
  resolve_all(r);
  std::string text = fh::format_text(r.reports);
  const char* expected[] = {
      "==================\nforkhazard: deadlock in process 20 (child of 10)\n",
      "  pthread_mutex_lock(0x1000) would block forever: the mutex is held by thread 11 \"w\"q\", which vanished "
      "at fork()\n    #0 0xb1 (no module)\n    #1 0xb2 (no module)\n",
      "Thread 11 \"w\"q\" acquired the mutex at:\n    #0 0xa1 (no module)\n",
      "Process 10 called fork() in thread 10 at:\n",
      "    thread 11 \"w\"q\" (vanished at fork()), created at:\n      #0 0xd1 (no module)\n"
      "      holding mutex 0x1000 (depth 2), acquired at:\n        #0 0xe1 (no module)\n",
      "  hint: take the lock in a pthread_atfork prepare handler",
  };
  for (const char* piece : expected)
    cr_expect(text.find(piece) != std::string::npos, "missing [%s] in:\n%s", piece, text.c_str());
  cr_expect(text.size() > 20 && text.compare(text.size() - 20, 20, "\n==================\n") == 0);
}

Test(reader, text_report_names_the_owner_by_relation) {
  fh::Hazard h;
  h.pid = 5;
  h.ppid = 4;
  h.call = "pthread_mutex_lock";
  h.lock = fh::LockRef{0x40, fh::LockType::mutex, ""};
  h.owner = fh::Owner{4, "main", fh::Relation::forker, ""};
  std::string text = fh::format_hazard(h);
  cr_expect(text.find("held by this thread since before fork() (under its parent-side tid 4)") != std::string::npos,
            "%s", text.c_str());
  h.owner = fh::Owner{77, "", fh::Relation::unknown, ""};
  text = fh::format_hazard(h);
  cr_expect(text.find("held by thread 77, which does not exist in this process") != std::string::npos, "%s",
            text.c_str());
  h.lock->type = fh::LockType::rwlock_write;
  text = fh::format_hazard(h);
  cr_expect(text.find("the rwlock is held for writing by thread 77") != std::string::npos, "%s", text.c_str());
}

Test(reader, cli_rejects_bad_arguments_without_running_anything, .init = cr_redirect_stderr) {
  cr_expect_eq(call_cli({}), fh::exit_usage);
  cr_expect_eq(call_cli({"frob"}), fh::exit_usage);
  cr_expect_eq(call_cli({"run"}), fh::exit_usage);
  cr_expect_eq(call_cli({"run", "--bogus", "--", "/bin/true"}), fh::exit_usage);
  cr_expect_eq(call_cli({"run", "/bin/true"}), fh::exit_usage);
  cr_expect_eq(call_cli({"run", "--json"}), fh::exit_usage);
  cr_expect_eq(call_cli({"run", "--json", "x.json", "--"}), fh::exit_usage);
  cr_expect_eq(call_cli({"report"}), fh::exit_usage);
  std::fflush(stderr);
  cr_expect_stderr_eq_str(
      "forkhazard: missing command\n"
      "usage: forkhazard run [--json FILE] -- CMD [ARGS...] | forkhazard report [--json FILE] PATH...\n"
      "forkhazard: unknown command 'frob'\n"
      "usage: forkhazard run [--json FILE] -- CMD [ARGS...] | forkhazard report [--json FILE] PATH...\n"
      "forkhazard: run: missing '-- CMD'\n"
      "usage: forkhazard run [--json FILE] -- CMD [ARGS...] | forkhazard report [--json FILE] PATH...\n"
      "forkhazard: run: unknown option '--bogus'\n"
      "usage: forkhazard run [--json FILE] -- CMD [ARGS...] | forkhazard report [--json FILE] PATH...\n"
      "forkhazard: run: put '--' before the command ('/bin/true')\n"
      "usage: forkhazard run [--json FILE] -- CMD [ARGS...] | forkhazard report [--json FILE] PATH...\n"
      "forkhazard: run: --json needs a FILE\n"
      "usage: forkhazard run [--json FILE] -- CMD [ARGS...] | forkhazard report [--json FILE] PATH...\n"
      "forkhazard: run: no command after '--'\n"
      "usage: forkhazard run [--json FILE] -- CMD [ARGS...] | forkhazard report [--json FILE] PATH...\n"
      "forkhazard: report: no PATH to read\n"
      "usage: forkhazard run [--json FILE] -- CMD [ARGS...] | forkhazard report [--json FILE] PATH...\n");
}

Test(reader, cli_report_exit_codes_and_json, .init = cr_redirect_stderr) {
  std::string dir = temp_dir();
  write_file(dir + "/hazard.raw", small_block);
  write_file(dir + "/clean.raw", "forkhazard-raw v=1\nreport pid=1 ppid=0\nend\n");
  write_file(dir + "/bad.raw", "garbage\n");
  cr_expect_eq(call_cli({"report", "--json", dir + "/out.json", dir + "/hazard.raw"}), fh::exit_hazard);
  std::ifstream in(dir + "/out.json");
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TEXT(json, std::string(small_json) + "\n");
  cr_expect_eq(call_cli({"report", dir + "/clean.raw"}), 0);
  cr_expect_eq(call_cli({"report", dir + "/clean.raw", dir + "/bad.raw"}), 1);
  cr_expect_eq(call_cli({"report", dir + "/bad.raw", dir + "/hazard.raw"}), fh::exit_hazard,
               "a hazard outweighs a bad file");
  std::string cmd = "rm -rf '" + dir + "'";
  cr_expect_eq(std::system(cmd.c_str()), 0);
}
