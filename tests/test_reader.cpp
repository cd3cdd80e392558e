// Unit tests of report/: the raw-format reader, frame resolution, the JSON and text printers, CLI arguments.
// The printers take merged hazards (report/merge.h); each hazard here is its own group of one occurrence.
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

// A function of this binary with a known name, for the symbolization test.
extern "C" __attribute__((noinline, used)) int fh_reader_probe(int x) { return x * 3 + 1; }



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
    R"({"version":1,"hazards":[{"kind":"deadlock","level":"error","pid":20,"call":"pthread_mutex_lock",)"
    R"("lock":{"addr":"0x1000","type":"mutex"},"owner":{"tid":11,"name":"w\"q","relation":"vanished"},)"
    R"("acquired_at":[{"pc":"0xa1"}],"stack":[{"pc":"0xb1"},{"pc":"0xb2"}],)"
    R"("fork":{"parent_pid":10,"forking_tid":10,"stack":[{"pc":"0xc1"}],)"
    R"("threads":[{"tid":11,"name":"w\"q","relation":"vanished","created_at":[{"pc":"0xd1"}],)"
    R"("held":[{"addr":"0x1000","type":"mutex","depth":2,"acquired_at":[{"pc":"0xe1"}]}]}]},)"
    R"("occurrences":1,"pids":[20]}]})";

// An unsafe call in a child whose PCs lie in a module that cannot be read: frames get module and offset only.
const char unsafe_block[] =
    "forkhazard-raw v=1\n"
    "report pid=4242 ppid=4241\n"
    "hazard kind=unsafe-call call=malloc class=non-portable site=0x401234 why=allocates future=1\n"
    "stack pcs=0x401234,0x999\n"
    "fork parent_pid=4241 forking_tid=4241 pcs=0x401100\n"
    "thread tid=4239 name=w relation=vanished created=0x401050\n"
    "held addr=0x4000 type=mutex depth=1 pcs=0x401010\n"
    "module lo=0x400000 hi=0x402000 bias=0x3ff000 build_id=ab path=/nonexistent/forkhazard/app\n"
    "end\n";

const char unsafe_json[] =
    R"({"version":1,"hazards":[{"kind":"unsafe-call","level":"note","pid":4242,"call":"malloc",)"
    R"("class":"non-portable",)"
    R"("why":"allocates","site":{"pc":"0x401234","module":"/nonexistent/forkhazard/app","offset":"0x2234"},)"
    R"("count":17,"stack":[{"pc":"0x401234","module":"/nonexistent/forkhazard/app","offset":"0x2234"},)"
    R"({"pc":"0x999"}],"fork":{"parent_pid":4241,"forking_tid":4241,)"
    R"("stack":[{"pc":"0x401100","module":"/nonexistent/forkhazard/app","offset":"0x2100"}],)"
    R"("threads":[{"tid":4239,"name":"w","relation":"vanished",)"
    R"("created_at":[{"pc":"0x401050","module":"/nonexistent/forkhazard/app","offset":"0x2050"}],)"
    R"("held":[{"addr":"0x4000","type":"mutex","depth":1,)"
    R"("acquired_at":[{"pc":"0x401010","module":"/nonexistent/forkhazard/app","offset":"0x2010"}]}]}]},)"
    R"("occurrences":1,"pids":[4242]}]})";

// The process's own count of that call, written when it exits.
const char unsafe_repeats[] =
    "repeats pid=4242\n"
    "repeat call=malloc site=0x401234 count=17\n"
    "end\n";

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
  cr_expect_not(fh::percent_decode("a%00b", &out), "values are C strings: a NUL is corrupt");
  cr_expect_not(fh::percent_decode(std::string_view("a\0b", 3), &out), "a raw NUL too");

  fh::ReadResult r = parse("forkhazard-raw v=1\nreport pid=1 ppid=0\nhazard kind=deadlock call=f%2\nend\n");
  cr_assert_eq(r.errors.size(), 1u);
  cr_expect(r.errors[0].find("t.raw:3:") != std::string::npos, "error names the line: %s", r.errors[0].c_str());
}

// A NUL in a decoded value (tests/fuzz/corpus/reader/regress_nul_escape.raw) ended the text report at that
// hazard: fputs stopped there and the hazards of every later file were lost.
Test(reader, escaped_nul_is_malformed_and_later_hazards_survive) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\nreport pid=1 ppid=0\nhazard kind=deadlock call=f\nlock addr=0x1 type=%00x\n"
      "owner tid=2 name=a%00b\nend\nreport pid=3 ppid=0\nhazard kind=deadlock call=g\nend\n");
  cr_assert_eq(r.errors.size(), 2u);
  cr_expect(r.errors[0].find("t.raw:4: malformed %-escape '%00x' in 'lock type='") != std::string::npos, "%s",
            r.errors[0].c_str());
  cr_assert_eq(r.reports.size(), 2u);
  cr_expect(r.reports[0].hazards[0].owner->name.empty());
  // A raw NUL (tests/fuzz/corpus/reader/regress_raw_nul.raw, found by fuzz_reader) the same.
  const char with_nul[] = "forkhazard-raw v=1\nreport pid=1 ppid=0\nhazard kind=unsafe-call call=malloc "
                          "class=alloc\0\0aP\nend\n";
  fh::ReadResult raw = parse(std::string(with_nul, sizeof with_nul - 1));
  cr_assert_eq(raw.errors.size(), 1u);
  EXPECT_TEXT(raw.errors[0], "forkhazard: t.raw:3: NUL byte in value 'alloc\\x00\\x00aP' in 'hazard class='");
  cr_expect(raw.reports.at(0).hazards.at(0).klass_spelling.find('\0') == std::string::npos);
  std::string text = fh::format_text(fh::merge_hazards(r.reports));
  cr_expect(text.find('\0') == std::string::npos);
  cr_expect(text.find("deadlock in process 3 ") != std::string::npos, "%s", text.c_str());
}

// What a message quotes from the file is short and printable (tests/fuzz/corpus/reader/regress_long_field.raw):
// a megabyte-long field was echoed whole, an escape sequence raw to the terminal.
Test(reader, messages_quote_the_file_short_and_printable) {
  std::string long_field(1 << 20, 'A');
  fh::ReadResult r = parse("forkhazard-raw v=1\nreport pid=1 ppid=0\nhazard kind=deadlock call=f\nlock " +
                           long_field + "\nowner tid=\x1b[31m\rX\nend\n");
  cr_assert_eq(r.errors.size(), 2u);
  EXPECT_TEXT(r.errors[0], "forkhazard: t.raw:4: malformed field '" + std::string(80, 'A') +
                               "... (1048576 bytes)' (expected KEY=VALUE)");
  EXPECT_TEXT(r.errors[1], "forkhazard: t.raw:5: malformed decimal number '\\x1b[31m\\x0dX' in 'owner tid='");
  fh::ReadResult v = parse("forkhazard-raw v=\x1b]0;title\x07\n");
  cr_assert_eq(v.errors.size(), 1u);
  EXPECT_TEXT(v.errors[0], "forkhazard: t.raw: raw report version '\\x1b]0;title\\x07' is not supported (this "
                           "forkhazard reads version 1)");
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
      "lock addr=0x20 type=barrier\nowner tid=3 name= relation=zombie\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  const fh::Hazard& h = r.reports.at(0).hazards.at(0);
  cr_expect(h.kind == fh::HazardKind::other);
  cr_expect(h.lock->type == fh::LockType::other);
  cr_expect(h.owner->relation == fh::Relation::other);
  std::string json = fh::to_json(fh::merge_hazards(r.reports));
  cr_expect(json.find(R"("kind":"cond-destroy")") != std::string::npos, "%s", json.c_str());
  cr_expect(json.find(R"("type":"barrier")") != std::string::npos, "%s", json.c_str());
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
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  cr_expect(!error, "cannot remove %s: %s", dir.c_str(), error.message().c_str());
}

Test(reader, json_of_a_parsed_report) {
  fh::ReadResult r = parse(small_block);
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  resolve_all(r);
  EXPECT_TEXT(fh::to_json(fh::merge_hazards(r.reports)), small_json);
}

Test(reader, json_of_a_clean_run) {
  EXPECT_TEXT(fh::to_json({}), R"({"version":1,"hazards":[]})");
  fh::ReadResult r = parse("forkhazard-raw v=1\nreport pid=1 ppid=0\nend\n");
  cr_assert_eq(r.reports.size(), 1u);
  EXPECT_TEXT(fh::to_json(fh::merge_hazards(r.reports)), R"({"version":1,"hazards":[]})");
}

Test(reader, json_omits_what_a_hazard_lacks) {
  fh::ReadResult r = parse("forkhazard-raw v=1\nreport pid=9 ppid=8\nhazard kind=unsafe-call call=localtime_r\n"
                           "stack pcs=0x5\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  EXPECT_TEXT(fh::to_json(fh::merge_hazards(r.reports)),
                   R"({"version":1,"hazards":[{"kind":"unsafe-call","level":"warning","pid":9,"call":"localtime_r",)"
                   R"("count":1,)"
                   R"("stack":[{"pc":"0x5"}],"occurrences":1,"pids":[9]}]})");
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
  EXPECT_TEXT(fh::to_json(fh::merge_hazards({report})),
                   R"({"version":1,"hazards":[{"kind":"deadlock","level":"error","pid":1,"call":"sem_wait","stack":[)"
                   R"({"pc":"0x1010","module":"/m/x.so","offset":"0x10","function":"inner","file":"a.c","line":3,)"
                   R"("inlined":true},)"
                   R"({"pc":"0x1010","module":"/m/x.so","offset":"0x10","function":"outer","file":"a.c","line":9},)"
                   R"({"pc":"0x2000","module":"/m/x.so","offset":"0x1000"}],"occurrences":1,"pids":[1]}]})");
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
  std::string json = fh::to_json(fh::merge_hazards(r.reports));
  cr_expect(json.find(R"({"pc":"0x401234","module":"/nonexistent/forkhazard/x.so","offset":"0x2234"})") !=
                std::string::npos,
            "%s", json.c_str());
  std::string text = fh::format_text(fh::merge_hazards(r.reports));
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
  std::string text = fh::format_text(fh::merge_hazards(r.reports));
  const char* expected[] = {
      "==================\nforkhazard: deadlock in process 20 (child of 10) [error]\n",
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
  cr_expect_eq(call_cli({"calls", "extra"}), fh::exit_usage);
  std::fflush(stderr);
  cr_expect_stderr_eq_str(
      "forkhazard: missing command\n" USAGE
      "forkhazard: unknown command 'frob'\n" USAGE
      "forkhazard: run: missing '-- CMD'\n" USAGE
      "forkhazard: run: unknown option '--bogus'\n" USAGE
      "forkhazard: run: put '--' before the command ('/bin/true')\n" USAGE
      "forkhazard: run: --json needs a FILE\n" USAGE
      "forkhazard: run: no command after '--'\n" USAGE
      "forkhazard: report: no PATH to read\n" USAGE
      "forkhazard: calls: takes no arguments\n" USAGE);
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
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  cr_expect(!error, "cannot remove %s: %s", dir.c_str(), error.message().c_str());
}

Test(reader, parses_an_unsafe_call_block) {
  fh::ReadResult r = parse(unsafe_block);
  cr_assert(r.errors.empty(), "unexpected errors:\n%s", joined_errors(r).c_str());
  const fh::Hazard& h = r.reports.at(0).hazards.at(0);
  cr_expect(h.kind == fh::HazardKind::unsafe_call);
  cr_expect_str_eq(h.call.c_str(), "malloc");
  cr_assert(h.klass.has_value());
  cr_expect(*h.klass == fh::CallClass::non_portable);
  cr_expect_str_eq(h.why.c_str(), "allocates");
  cr_assert(h.site.has_value());
  cr_expect_eq(h.site->pc, 0x401234u);
  cr_expect_eq(h.count, 1, "no repeats block: called once");
  cr_expect(!h.lock.has_value());
  cr_expect(!h.owner.has_value());
  cr_expect_eq(h.stack.size(), 2u);
  cr_assert(h.fork.has_value());
  cr_expect_eq(h.fork->threads.at(0).held.at(0).lock.addr, 0x4000u);

  r = parse("forkhazard-raw v=1\nreport pid=5 ppid=4\n"
            "hazard kind=unsafe-call call=setenv class=hang-prone site=0x10 why=takes%20the%20env%20lock\nend\n"
            "report pid=6 ppid=4\nhazard kind=unsafe-call call=frob class=sticky\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  const fh::Hazard& setenv_call = r.reports.at(0).hazards.at(0);
  cr_expect(setenv_call.klass == fh::CallClass::hang_prone);
  cr_expect_str_eq(setenv_call.why.c_str(), "takes the env lock");
  const fh::Hazard& frob = r.reports.at(1).hazards.at(0);
  cr_expect(frob.klass == fh::CallClass::other);
  cr_expect_str_eq(frob.klass_spelling.c_str(), "sticky");
  cr_expect(!frob.site.has_value());
  cr_expect(frob.why.empty());
  std::string json = fh::to_json(fh::merge_hazards({r.reports.at(1)}));
  cr_expect(json.find(R"("call":"frob","class":"sticky","count":1,"stack":[])") != std::string::npos, "%s",
            json.c_str());
}

Test(reader, repeats_set_the_count_by_pid_call_and_site) {
  // The hazard, then another site of the same call, then the repeats block naming only the first site; a
  // block of another process with the same (call, site) changes nothing here.
  std::string text = std::string(unsafe_block) +
                     "report pid=4242 ppid=4241\n"
                     "hazard kind=unsafe-call call=malloc class=non-portable site=0x401300 why=allocates\nend\n"
                     "report pid=4243 ppid=4241\n"
                     "hazard kind=unsafe-call call=free class=non-portable site=0x401234 why=allocates\nend\n" +
                     unsafe_repeats +
                     "repeats pid=4243\nrepeat call=malloc site=0x401300 count=5\nend\n";
  fh::ReadResult r = parse(text);
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  cr_assert_eq(r.reports.size(), 3u);
  cr_expect_eq(r.reports[0].hazards.at(0).count, 17);
  cr_expect_eq(r.reports[1].hazards.at(0).count, 1, "another site of the same call");
  cr_expect_eq(r.reports[2].hazards.at(0).count, 1, "another call at the same site");

  // The repeats may come in a file read before the hazard's, and a later, larger count wins.
  fh::ReadResult split;
  fh::read_raw_text(std::string("forkhazard-raw v=1\n") + unsafe_repeats, "a.raw", split);
  fh::read_raw_text("forkhazard-raw v=1\nrepeats pid=4242\nrepeat call=malloc site=0x401234 count=20\nend\n",
                    "b.raw", split);
  fh::read_raw_text(unsafe_block, "c.raw", split);
  cr_assert(split.errors.empty(), "%s", joined_errors(split).c_str());
  cr_expect_eq(split.reports.at(0).hazards.at(0).count, 20);
}

Test(reader, missing_or_truncated_repeats_leave_count_one) {
  // The process was killed before it wrote its repeats: the block is missing, or cut off.
  fh::ReadResult r = parse(std::string(unsafe_block) + "repeats pid=4242\nrepeat call=malloc site=0x401234 count=17\n");
  cr_assert_eq(r.errors.size(), 1u, "%s", joined_errors(r).c_str());
  cr_expect_str_eq(r.errors[0].c_str(), "forkhazard: t.raw: truncated repeats block (no 'end' line)");
  cr_expect_eq(r.reports.at(0).hazards.at(0).count, 1);
  cr_expect(r.repeat_counts.empty());

  // A report line inside an open repeats block ends it as truncated, and that report still counts.
  r = parse(std::string("forkhazard-raw v=1\nrepeats pid=4242\nrepeat call=malloc site=0x401234 count=17\n") +
            (unsafe_block + sizeof "forkhazard-raw v=1\n" - 1));
  cr_assert_eq(r.errors.size(), 1u, "%s", joined_errors(r).c_str());
  cr_expect(r.errors[0].find("t.raw:4: truncated repeats block") != std::string::npos, "%s", r.errors[0].c_str());
  cr_assert_eq(r.reports.size(), 1u);
  cr_expect_eq(r.reports[0].hazards.at(0).count, 1);

  // A malformed count is an error and sets nothing.
  r = parse(std::string(unsafe_block) + "repeats pid=4242\nrepeat call=malloc site=0x401234 count=x\nend\n");
  cr_assert_eq(r.errors.size(), 1u, "%s", joined_errors(r).c_str());
  cr_expect(r.errors[0].find("malformed decimal number 'x' in 'repeat count='") != std::string::npos, "%s",
            r.errors[0].c_str());
  cr_expect_eq(r.reports.at(0).hazards.at(0).count, 1);
}

Test(reader, lock_without_addr_is_glibc_state) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\nreport pid=7 ppid=6\nhazard kind=deadlock call=setenv\n"
      "lock type=libc:env\nowner tid=3 name=w relation=vanished\nstack pcs=0x1\n"
      "fork parent_pid=6 forking_tid=6 pcs=-\nthread tid=3 name=w relation=vanished created=-\n"
      "held type=libc:env depth=1 pcs=0x2\nend\n"
      "report pid=8 ppid=6\nhazard kind=deadlock call=pthread_cond_destroy\nlock addr=0x30 type=condvar\nend\n"
      "report pid=9 ppid=6\nhazard kind=deadlock call=__cxa_guard_acquire\nlock addr=0x40 type=static-init\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  cr_assert_eq(r.reports.size(), 3u);
  const fh::Hazard& h = r.reports[0].hazards.at(0);
  cr_assert(h.lock.has_value());
  cr_expect_not(h.lock->has_addr);
  cr_expect(h.lock->type == fh::LockType::libc);
  cr_expect(fh::libc_family(*h.lock) == "env");
  const fh::LockRef& held = h.fork->threads.at(0).held.at(0).lock;
  cr_expect_not(held.has_addr);
  cr_expect(held.type == fh::LockType::libc);
  cr_expect(r.reports[1].hazards.at(0).lock->type == fh::LockType::condvar);
  cr_expect(r.reports[1].hazards.at(0).lock->has_addr);
  cr_expect(r.reports[2].hazards.at(0).lock->type == fh::LockType::static_init);
  cr_expect_eq(r.reports[2].hazards.at(0).lock->addr, 0x40u);

  std::string json = fh::to_json(fh::merge_hazards(r.reports));
  cr_expect(json.find(R"("call":"setenv","lock":{"type":"libc:env"},"owner":)") != std::string::npos, "%s",
            json.c_str());
  cr_expect(json.find(R"("held":[{"type":"libc:env","depth":1,)") != std::string::npos, "%s", json.c_str());
  cr_expect(json.find(R"("lock":{"addr":"0x30","type":"condvar"})") != std::string::npos, "%s", json.c_str());
  cr_expect(json.find(R"("lock":{"addr":"0x40","type":"static-init"})") != std::string::npos, "%s", json.c_str());
  cr_expect(json.find(R"("count")") == std::string::npos, "deadlocks carry no count: %s", json.c_str());
}

Test(reader, json_of_an_unsafe_call_with_unknown_modules) {
  fh::ReadResult r = parse(std::string(unsafe_block) + unsafe_repeats);
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  resolve_all(r);
  EXPECT_TEXT(fh::to_json(fh::merge_hazards(r.reports)), unsafe_json);
}

Test(reader, text_of_an_unsafe_call) {
  fh::ReadResult r = parse(std::string(unsafe_block) + unsafe_repeats);
  resolve_all(r);
  std::string text = fh::format_text(fh::merge_hazards(r.reports));
  const char* expected[] = {
      "==================\nforkhazard: unsafe call in process 4242 (child of 4241) [note]: malloc() is not "
      "async-signal-safe (allocates)\n",
      "\n  non-portable: undefined after fork() in a multithreaded process by POSIX; glibc keeps it working "
      "(FORKHAZARD_OPTIONS=mode=glibc drops this class)\n  called 17 times at this site\n"
      "    #0 0x401234 (app+0x2234)\n    #1 0x999 (no module)\n",
      "    thread 4239 \"w\" (vanished at fork()), created at:\n      #0 0x401050 (app+0x2050)\n"
      "      holding mutex 0x4000, acquired at:\n",
      "\n  hint: call only async-signal-safe functions between fork() and exec() (see signal-safety(7)), or use "
      "posix_spawn\n==================\n",
  };
  for (const char* piece : expected)
    cr_expect(text.find(piece) != std::string::npos, "missing [%s] in:\n%s", piece, text.c_str());

  fh::Hazard& h = r.reports[0].hazards[0];
  h.call = "localtime_r";
  h.why = "takes the tz lock";
  h.klass = fh::CallClass::hang_prone;
  h.count = 1;
  text = fh::format_hazard(h);
  cr_expect(text.find("localtime_r() is not async-signal-safe (takes the tz lock)\n  hang-prone: takes a glibc lock "
                      "that fork() does not reset: this child can hang here\n    #0 ") != std::string::npos,
            "%s", text.c_str());
  cr_expect(text.find("called 1 times") == std::string::npos, "%s", text.c_str());
  cr_expect(text.find("  hint: do this before fork(), or in the child only after exec()\n") != std::string::npos,
            "%s", text.c_str());
}

Test(reader, text_hint_per_unsafe_call) {
  struct Case {
    const char* call;
    fh::CallClass klass;
    const char* hint;
  } cases[] = {
      {"exit", fh::CallClass::hang_prone, "  hint: use _exit() in the child: exit() runs atexit handlers"},
      {"pthread_create", fh::CallClass::non_portable, "  hint: do not start threads in the child of a multithreaded"},
      {"setenv", fh::CallClass::hang_prone, "  hint: build the child's environment before fork() and pass it to "
                                            "execve()\n"},
      {"putenv", fh::CallClass::hang_prone, "  hint: build the child's environment before fork()"},
      {"getpwnam", fh::CallClass::hang_prone, "  hint: do this before fork(), or in the child only after exec()"},
      {"dlopen", fh::CallClass::hang_prone, "  hint: do this before fork(), or in the child only after exec()"},
      {"syslog", fh::CallClass::hang_prone, "  hint: do this before fork(), or in the child only after exec()"},
      {"printf", fh::CallClass::non_portable, "  hint: call only async-signal-safe functions between fork() and "
                                              "exec() (see signal-safety(7)), or use posix_spawn\n"},
      {"free", fh::CallClass::non_portable, "  hint: call only async-signal-safe functions"},
      {"some_new_locker", fh::CallClass::hang_prone, "  hint: do this before fork()"},
  };
  for (const Case& c : cases) {
    fh::Hazard h;
    h.kind = fh::HazardKind::unsafe_call;
    h.pid = 2;
    h.ppid = 1;
    h.call = c.call;
    h.klass = c.klass;
    std::string text = fh::format_hazard(h);
    cr_expect(text.find(c.hint) != std::string::npos, "%s: missing [%s] in:\n%s", c.call, c.hint, text.c_str());
  }
}

Test(reader, text_of_deadlocks_on_glibc_state_condvars_statics_and_semaphores) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\n"
      "report pid=7 ppid=6\nhazard kind=deadlock call=setenv\nlock type=libc:env\n"
      "owner tid=4239 name=w relation=vanished\nacquired pcs=0x5\nstack pcs=0x1\n"
      "fork parent_pid=6 forking_tid=6 pcs=-\nthread tid=4239 name=w relation=vanished created=-\n"
      "held type=libc:env depth=1 pcs=0x5\nend\n"
      "report pid=8 ppid=6\nhazard kind=deadlock call=pthread_cond_destroy\nlock addr=0x30 type=condvar\n"
      "owner tid=4239 name=w relation=vanished\nacquired pcs=0x6\nstack pcs=0x1\nend\n"
      "report pid=9 ppid=6\nhazard kind=deadlock call=__cxa_guard_acquire\nlock addr=0x40 type=static-init\n"
      "owner tid=4239 name=w relation=vanished\nstack pcs=0x1\nend\n"
      "report pid=10 ppid=6\nhazard kind=deadlock call=sem_wait\nlock addr=0x50 type=semaphore\n"
      "owner tid=4239 name=w relation=vanished\nstack pcs=0x1\nend\n"
      "report pid=11 ppid=6\nhazard kind=deadlock call=sem_clockwait\nlock addr=0x60 type=semaphore\n"
      "stack pcs=0x1\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  cr_assert_eq(r.reports.size(), 5u);
  struct Case {
    size_t report;
    const char* pieces[3];
  } cases[] = {
      {0,
       {"  setenv() would block forever: thread 4239 \"w\" was inside the glibc env lock family "
        "(setenv/unsetenv/putenv/clearenv) when it vanished at fork()\n",
        "  Thread 4239 \"w\" entered the glibc env lock family (setenv/unsetenv/putenv/clearenv) at:\n    #0 0x5 (no module)\n"
        "\n  Process 6 called fork()",
        "      inside the glibc env lock family (setenv/unsetenv/putenv/clearenv), entered at:\n"}},
      {1,
       {"  pthread_cond_destroy(0x30) would block forever: thread 4239 \"w\" was waiting on this condition "
        "variable when it vanished at fork()\n",
        "  Thread 4239 \"w\" started waiting on the condition variable at:\n",
        "  hint: destroy condition variables (std::condition_variable's destructor does) only after exec, or let "
        "the child _exit() without running destructors\n"}},
      {2,
       {"  __cxa_guard_acquire(0x40) would block forever: thread 4239 \"w\" was constructing this function-local "
        "static when it vanished at fork()\n",
        "  Thread 4239 \"w\" started constructing the function-local static at a site forkhazard did not see",
        "  hint: construct function-local statics before fork()"}},
      {3,
       {"  sem_wait(0x50) would block forever: the semaphore is at 0 and its taker, thread 4239 \"w\", vanished at "
        "fork(); nothing left in this single-threaded process can post it\n",
        "  Thread 4239 \"w\" took the semaphore at",
        "Python's threading.Lock is such a semaphore"}},
      {4,
       {"  sem_clockwait(0x60) would block forever: the semaphore is at 0 and nothing left in this "
        "single-threaded process can post it\n",
        "forkhazard: deadlock in process 11 (child of 6) [error]\n",
        "Python's threading.Lock is such a semaphore"}},
  };
  for (const Case& c : cases) {
    std::string text = fh::format_hazard(r.reports[c.report].hazards.at(0));
    for (const char* piece : c.pieces)
      cr_expect(text.find(piece) != std::string::npos, "missing [%s] in:\n%s", piece, text.c_str());
  }
  std::string setenv_text = fh::format_hazard(r.reports[0].hazards.at(0));
  cr_expect(setenv_text.find("  hint: build the child's environment before fork() and pass it to execve()\n") !=
                std::string::npos,
            "%s", setenv_text.c_str());
}

// ---- the prediction, what the shim could not record, an unsafe call's owner (issue 8) --------------------------

namespace {

// A possible deadlock as the shim writes it (shim/protocol.h), with an overflow line.
const char possible_block[] =
    "forkhazard-raw v=1\n"
    "report pid=4242 ppid=4241\n"
    "# forkhazard: possible-deadlock in process 4242: pthread_mutex_lock() takes mutex 0x55d5d2a2c040, free now\n"
    "hazard kind=possible-deadlock call=pthread_mutex_lock\n"
    "lock addr=0x55d5d2a2c040 type=mutex\n"
    "owner tid=4239 name=logger relation=vanished\n"
    "acquired pcs=0x55d5d2a2b1c9\n"
    "stack pcs=0x55d5d2a2b2f0,0x55d5d2a2b410\n"
    "fork parent_pid=4241 forking_tid=4241 pcs=0x55d5d2a2b2a0\n"
    "thread tid=4239 name=logger relation=vanished created=0x55d5d2a2b290\n"
    "thread tid=4241 name=main relation=forker created=-\n"
    "overflow held=3 threads=0 sites=12\n"
    "end\n";

}  // namespace

Test(reader, parses_a_possible_deadlock) {
  fh::ReadResult r = parse(possible_block);
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  const fh::Hazard& h = r.reports.at(0).hazards.at(0);
  cr_expect(h.kind == fh::HazardKind::possible_deadlock);
  cr_expect(h.kind_spelling.empty(), "a known kind keeps no spelling");
  EXPECT_TEXT(std::string(fh::spelling(h.kind, h.kind_spelling)), "possible-deadlock");
  cr_expect(fh::parse_hazard_kind("possible-deadlock") == fh::HazardKind::possible_deadlock);
  cr_expect(fh::level_of(h) == fh::Level::warning);
  EXPECT_TEXT(h.call, "pthread_mutex_lock");
  cr_assert(h.lock.has_value());
  cr_expect_eq(h.lock->addr, 0x55d5d2a2c040u);
  cr_expect(h.lock->type == fh::LockType::mutex);
  cr_assert(h.owner.has_value());
  cr_expect_eq(h.owner->tid, 4239);
  EXPECT_TEXT(h.owner->name, "logger");
  cr_expect(h.owner->relation == fh::Relation::vanished);
  cr_assert_eq(h.acquired_at.size(), 1u);
  cr_expect_eq(h.acquired_at[0].pc, 0x55d5d2a2b1c9u);
  cr_expect_eq(h.stack.size(), 2u);
  cr_assert(h.fork.has_value());
  cr_expect_eq(h.fork->threads.size(), 2u);
  cr_expect(h.fork->threads[0].held.empty(), "the lock was free at fork()");
  cr_expect_eq(h.count, 1);
}

Test(reader, json_and_text_of_a_possible_deadlock) {
  fh::ReadResult r = parse(possible_block);
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  std::vector<fh::HazardGroup> groups = fh::merge_hazards(r.reports);
  EXPECT_TEXT(fh::to_json(groups),
              R"({"version":1,"hazards":[{"kind":"possible-deadlock","level":"warning","pid":4242,)"
              R"("call":"pthread_mutex_lock","lock":{"addr":"0x55d5d2a2c040","type":"mutex"},)"
              R"("owner":{"tid":4239,"name":"logger","relation":"vanished"},"acquired_at":[{"pc":"0x55d5d2a2b1c9"}],)"
              R"("stack":[{"pc":"0x55d5d2a2b2f0"},{"pc":"0x55d5d2a2b410"}],)"
              R"("fork":{"parent_pid":4241,"forking_tid":4241,"stack":[{"pc":"0x55d5d2a2b2a0"}],)"
              R"("threads":[{"tid":4239,"name":"logger","relation":"vanished","created_at":[{"pc":"0x55d5d2a2b290"}],)"
              R"("held":[]},{"tid":4241,"name":"main","relation":"forker","created_at":[],"held":[]}]},)"
              R"("overflow":{"held":3,"threads":0,"sites":12},"occurrences":1,"pids":[4242]}]})");
  std::string text = fh::format_text(groups);
  const char* expected[] = {
      "==================\nforkhazard: possible deadlock in process 4242 (child of 4241) [warning]\n"
      "  pthread_mutex_lock(0x55d5d2a2c040) took the mutex while it was free, but thread 4239 \"logger\", which "
      "vanished at fork(), used it in the parent. Had the fork come while thread 4239 held it, this call would "
      "never have returned\n    #0 0x55d5d2a2b2f0 (no module)\n",
      "\n  Thread 4239 \"logger\" acquired the mutex at:\n    #0 0x55d5d2a2b1c9 (no module)\n\n  Process 4241",
      "    thread 4241 \"main\" (the thread that called fork())\n\n"
      "  not recorded: 3 lock acquisitions (held stacks full), 12 call sites (table full)\n\n"
      "  hint: take the lock in a pthread_atfork prepare handler and release it in the parent and child handlers, "
      "so that no thread holds it at fork(); or do not take it in the child (call only async-signal-safe functions "
      "between fork() and exec())\n==================\n",
  };
  for (const char* piece : expected)
    cr_expect(text.find(piece) != std::string::npos, "missing [%s] in:\n%s", piece, text.c_str());

  // Without an owner, and on an rwlock taken for reading.
  fh::Hazard h = r.reports[0].hazards[0];
  h.owner.reset();
  h.lock->type = fh::LockType::rwlock_read;
  text = fh::format_hazard(h);
  cr_expect(text.find("  pthread_mutex_lock(0x55d5d2a2c040) took the rwlock while it was free, but a thread that "
                      "vanished at fork() used it in the parent. Had the fork come while that thread held it, this "
                      "call would never have returned\n") != std::string::npos,
            "%s", text.c_str());
  cr_expect(text.find("acquired the") == std::string::npos, "no owner, no acquisition:\n%s", text.c_str());
}

Test(reader, overflow_belongs_to_every_hazard_of_its_block) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\nreport pid=5 ppid=4\n"
      "hazard kind=unsafe-call call=malloc class=non-portable site=0x10 why=allocates\nstack pcs=0x10\n"
      "hazard kind=unsafe-call call=free class=non-portable site=0x20 why=frees\nstack pcs=0x20\n"
      "overflow held=0 threads=2 sites=1 future=9\nend\n"
      "report pid=6 ppid=4\nhazard kind=deadlock call=f\nend\n"
      "report pid=7 ppid=4\nhazard kind=deadlock call=g\noverflow held=x threads=1\nend\n",
      "o.raw");
  cr_assert_eq(r.errors.size(), 1u, "%s", joined_errors(r).c_str());
  EXPECT_TEXT(r.errors[0], "forkhazard: o.raw:14: malformed decimal number 'x' in 'overflow held='");
  cr_assert_eq(r.reports.size(), 3u);
  cr_expect_eq(r.reports[0].overflow.threads, 2);
  for (const fh::Hazard& h : r.reports[0].hazards) {
    cr_expect_eq(h.overflow.held, 0);
    cr_expect_eq(h.overflow.threads, 2);
    cr_expect_eq(h.overflow.sites, 1);
  }
  cr_expect_not(r.reports[1].hazards.at(0).overflow.any(), "no overflow line: nothing lost");
  cr_expect_eq(r.reports[2].hazards.at(0).overflow.threads, 1, "the good fields of a bad line still count");
  cr_expect_eq(r.reports[2].hazards.at(0).overflow.held, 0);

  std::string text = fh::format_hazard(r.reports[0].hazards[0]);
  cr_expect(text.find("\n  not recorded: 2 threads (registry full), 1 call site (table full)\n") != std::string::npos,
            "%s", text.c_str());
  std::string json = fh::to_json(fh::merge_hazards(r.reports));
  cr_expect(json.find(R"("stack":[{"pc":"0x10"}],"overflow":{"held":0,"threads":2,"sites":1},"occurrences")") !=
                std::string::npos,
            "%s", json.c_str());
  cr_expect(json.find(R"("call":"f","stack":[],"occurrences")") != std::string::npos, "only when not 0: %s",
            json.c_str());
  cr_expect(fh::format_hazard(r.reports[1].hazards[0]).find("not recorded") == std::string::npos);
}

Test(reader, unsafe_call_with_an_owner) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\nreport pid=5 ppid=4\n"
      "# forkhazard: unsafe-call in process 5: getpwnam() is not async-signal-safe (...); class hang-prone\n"
      "#   thread 3 \"resolver\" was inside a call that takes glibc's nss lock when it vanished at fork(): if it "
      "held that lock, this call never returns\n"
      "hazard kind=unsafe-call call=getpwnam class=hang-prone site=0x10 why=NSS\n"
      "owner tid=3 name=resolver relation=vanished\nstack pcs=0x10\nend\n"
      "report pid=6 ppid=4\n"
      "hazard kind=unsafe-call call=frob_locked class=hang-prone site=0x20 why=takes%20a%20lock\n"
      "owner tid=3 name=- relation=vanished\nstack pcs=0x20\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  const fh::Hazard& h = r.reports.at(0).hazards.at(0);
  cr_assert(h.owner.has_value());
  cr_expect_eq(h.owner->tid, 3);
  EXPECT_TEXT(h.owner->name, "resolver");
  cr_expect(h.acquired_at.empty());
  cr_expect(fh::level_of(h) == fh::Level::warning);

  std::string text = fh::format_hazard(h);
  cr_expect(text.find(" [warning]: getpwnam() is not async-signal-safe (NSS)\n"
                      "  hang-prone: takes a glibc lock that fork() does not reset: this child can hang here\n"
                      "  thread 3 \"resolver\" was inside the glibc nss lock family (") != std::string::npos,
            "%s", text.c_str());
  cr_expect(text.find(") when it vanished at fork(): if it held that lock, this call never returns\n    #0 0x10") !=
                std::string::npos,
            "%s", text.c_str());
  cr_expect(text.find("Thread 3") == std::string::npos, "no acquisition for an owner that took nothing:\n%s",
            text.c_str());
  // A call this CLI does not catalogue still says what the owner was in.
  std::string other = fh::format_hazard(r.reports.at(1).hazards.at(0));
  cr_expect(other.find("  thread 3 was inside a call of the same glibc lock family as frob_locked() when it vanished "
                       "at fork(): if it held that lock, this call never returns\n") != std::string::npos,
            "%s", other.c_str());

  std::string json = fh::to_json(fh::merge_hazards({r.reports.at(0)}));
  EXPECT_TEXT(json, R"({"version":1,"hazards":[{"kind":"unsafe-call","level":"warning","pid":5,"call":"getpwnam",)"
                    R"("class":"hang-prone","why":"NSS","site":{"pc":"0x10"},"count":1,)"
                    R"("owner":{"tid":3,"name":"resolver","relation":"vanished"},"stack":[{"pc":"0x10"}],)"
                    R"("occurrences":1,"pids":[5]}]})");
}

Test(reader, levels_by_kind_and_class) {
  fh::Hazard h;
  h.kind = fh::HazardKind::deadlock;
  cr_expect(fh::level_of(h) == fh::Level::error);
  h.kind = fh::HazardKind::possible_deadlock;
  cr_expect(fh::level_of(h) == fh::Level::warning);
  h.kind = fh::HazardKind::unsafe_call;
  h.klass = fh::CallClass::hang_prone;
  cr_expect(fh::level_of(h) == fh::Level::warning);
  h.klass = fh::CallClass::non_portable;
  cr_expect(fh::level_of(h) == fh::Level::note);
  h.klass = fh::CallClass::other;
  cr_expect(fh::level_of(h) == fh::Level::warning, "a class unknown to this forkhazard is not known to be harmless");
  h.klass.reset();
  cr_expect(fh::level_of(h) == fh::Level::warning);
  h.kind = fh::HazardKind::other;
  cr_expect(fh::level_of(h) == fh::Level::warning);
  EXPECT_TEXT(std::string(fh::spelling(fh::Level::error)), "error");
  EXPECT_TEXT(std::string(fh::spelling(fh::Level::warning)), "warning");
  EXPECT_TEXT(std::string(fh::spelling(fh::Level::note)), "note");
}

Test(reader, raw_fork_is_read_and_shown) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\nreport pid=5 ppid=4\n"
      "hazard kind=unsafe-call call=malloc class=hang-prone site=0x10 why=allocates\nstack pcs=0x10\n"
      "fork parent_pid=4 forking_tid=4 pcs=0x30 raw=1\nend\n"
      "report pid=6 ppid=4\nhazard kind=deadlock call=f\nfork parent_pid=4 forking_tid=4 pcs=-\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  cr_expect(r.reports.at(0).hazards.at(0).fork->raw);
  cr_expect_not(r.reports.at(1).hazards.at(0).fork->raw, "no raw= is an ordinary fork()");
  std::string json = fh::to_json(fh::merge_hazards(r.reports));
  cr_expect(json.find(R"("fork":{"parent_pid":4,"forking_tid":4,"raw":1,"stack":[{"pc":"0x30"}])") != std::string::npos,
            "%s", json.c_str());
  cr_expect(json.find(R"("fork":{"parent_pid":4,"forking_tid":4,"stack":[])") != std::string::npos, "%s",
            json.c_str());
  std::string text = fh::format_hazard(r.reports[0].hazards[0]);
  cr_expect(text.find("\n  Process 4 forked raw (syscall or clone: no atfork handler ran, glibc reset nothing) in "
                      "thread 4 at:\n") != std::string::npos,
            "%s", text.c_str());
  cr_expect(text.find(" [warning]: malloc()") != std::string::npos, "hang-prone there: %s", text.c_str());
}

// A process judged as a whole: its other threads' waits (`waiting` lines after the stack) are read, resolved, and
// printed in text (under the stack) and JSON (`other_threads`, only when there are any).
Test(reader, waiting_threads_of_a_whole_process) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\nreport pid=30 ppid=29\nhazard kind=deadlock call=dlopen\nlock addr=0x70 type=futex\n"
      "stack pcs=0xc1\nwaiting tid=31 name=child%20helper call=pthread_cond_wait pcs=0xc2,0xc3\n"
      "waiting tid=32 name=- call=sem_wait pcs=-\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  resolve_all(r);
  cr_assert_eq(r.reports.size(), 1u);
  const fh::Hazard& h = r.reports[0].hazards.at(0);
  cr_assert_eq(h.waiting.size(), 2u);
  cr_assert_eq(h.waiting[0].tid, 31);
  cr_assert_eq(h.waiting[0].name, "child helper");
  cr_assert_eq(h.waiting[0].call, "pthread_cond_wait");
  cr_assert_eq(h.waiting[0].stack.size(), 2u);
  cr_assert(h.waiting[1].name.empty() && h.waiting[1].stack.empty());
  std::string text = fh::format_text(fh::merge_hazards(r.reports));
  const char* pieces[] = {
      "  Every other thread of process 30 is blocked for good too:\n"
      "    thread 31 \"child helper\" waits in pthread_cond_wait():\n      #0 0xc2 (no module)\n      #1 0xc3 (no module)\n"
      "    thread 32 waits in sem_wait()\n",
  };
  for (const char* piece : pieces)
    cr_expect(text.find(piece) != std::string::npos, "missing [%s] in:\n%s", piece, text.c_str());
  std::string json = fh::to_json(fh::merge_hazards(r.reports));
  const char* fragment = R"("other_threads":[{"tid":31,"name":"child helper","call":"pthread_cond_wait","stack":[{"pc":"0xc2"},{"pc":"0xc3"}]},{"tid":32,"name":"","call":"sem_wait","stack":[]}])";
  cr_expect(json.find(fragment) != std::string::npos, "missing %s in:\n%s", fragment, json.c_str());
  std::string plain = fh::to_json(fh::merge_hazards(parse(small_block).reports));
  cr_expect(plain.find("other_threads") == std::string::npos, "other_threads in a report without any:\n%s", plain.c_str());
}

// A CPython thread's Python stack at the fork (`pyframe` lines after its thread line): read, printed in text under
// the thread, in JSON as python_stack (only when present).
Test(reader, python_stack_of_a_thread_at_fork) {
  fh::ReadResult r = parse(
      "forkhazard-raw v=1\nreport pid=40 ppid=39\nhazard kind=deadlock call=sem_wait\nlock addr=0x80 type=semaphore\n"
      "stack pcs=0xd1\npyframe file=/srv/app.py line=12 function=child_main\n"
      "fork parent_pid=39 forking_tid=39 pcs=-\n"
      "thread tid=41 name=writer relation=vanished created=-\n"
      "pyframe file=/srv/app%20one.py line=30 function=emit\npyframe file=%3Cfrozen%3E line=0 function=%3Cmodule%3E\n"
      "thread tid=39 name=main relation=forker created=-\nend\n");
  cr_assert(r.errors.empty(), "%s", joined_errors(r).c_str());
  const fh::Hazard& hazard = r.reports.at(0).hazards.at(0);
  cr_assert_eq(hazard.python_stack.size(), 1u, "the hazard's own Python stack (before the fork line)");
  cr_assert_eq(hazard.python_stack[0].function, "child_main");
  const fh::ForkThread& writer = hazard.fork->threads.at(0);
  cr_assert_eq(writer.python_stack.size(), 2u);
  cr_assert_eq(writer.python_stack[0].file, "/srv/app one.py");
  cr_assert_eq(writer.python_stack[0].line, 30);
  cr_assert_eq(writer.python_stack[0].function, "emit");
  std::string text = fh::format_text(fh::merge_hazards(r.reports));
  const char* piece = "      Python stack at fork():\n        File \"/srv/app one.py\", line 30, in emit\n"
                      "        File \"<frozen>\", line ?, in <module>\n";
  cr_expect(text.find(piece) != std::string::npos, "missing [%s] in:\n%s", piece, text.c_str());
  std::string json = fh::to_json(fh::merge_hazards(r.reports));
  const char* fragment = R"("python_stack":[{"file":"/srv/app one.py","line":30,"function":"emit"},{"file":"<frozen>","line":0,"function":"<module>"}])";
  cr_expect(json.find(fragment) != std::string::npos, "missing %s in:\n%s", fragment, json.c_str());
  const char* own = R"("python_stack":[{"file":"/srv/app.py","line":12,"function":"child_main"}])";
  cr_expect(json.find(own) != std::string::npos, "missing %s in:\n%s", own, json.c_str());
  cr_expect(text.find("  Python stack:\n    File \"/srv/app.py\", line 12, in child_main\n") != std::string::npos,
            "no Python stack under the call's stack:\n%s", text.c_str());
  size_t count = 0;
  for (size_t at = json.find("python_stack"); at != std::string::npos; at = json.find("python_stack", at + 1)) ++count;
  cr_expect_eq(count, 2u, "python_stack on a thread without one:\n%s", json.c_str());
}
