// Unit tests of report/merge: signatures, merging across processes, the summary line.
#include <criterion/criterion.h>

#include <string>
#include <vector>

#include "report/merge.h"
#include "tests/expect_text.h"


namespace {

// A symbolized machine frame of `module` at file address `offset`, loaded at `base`.
fh::Frame frame(const std::string& module, uint64_t offset, uint64_t base, const std::string& function) {
  fh::Frame f;
  f.pc = base + offset;
  f.module = module;
  f.offset = offset;
  f.function = function;
  f.file = "src/" + function + ".c";
  f.line = 10;
  return f;
}

// The deadlock of a child of a forking server: same code, loaded at `base` in process `pid`.
fh::Hazard deadlock(int64_t pid, uint64_t base, uint64_t lock_addr = 0x1000) {
  fh::Hazard h;
  h.kind = fh::HazardKind::deadlock;
  h.pid = pid;
  h.ppid = 1;
  h.call = "pthread_mutex_lock";
  h.lock = fh::LockRef{base + lock_addr, fh::LockType::mutex, "", true};
  h.owner = fh::Owner{7, "worker", fh::Relation::vanished, ""};
  h.stack = {frame("/opt/app", 0x1234, base, "lock_cache"), frame("/opt/app", 0x1500, base, "main"),
             frame("/lib/libc.so.6", 0x2724a, base + 0x7f0000000000, "__libc_start_main")};
  return h;
}

fh::Hazard unsafe_call(int64_t pid, uint64_t base, const std::string& call, uint64_t site_offset) {
  fh::Hazard h;
  h.kind = fh::HazardKind::unsafe_call;
  h.pid = pid;
  h.ppid = 1;
  h.call = call;
  h.klass = fh::CallClass::non_portable;
  h.site = frame("/opt/app", site_offset, base, "child_work");
  h.stack = {*h.site, frame("/opt/app", 0x1500, base, "main")};
  return h;
}

fh::Report report(int64_t pid, std::vector<fh::Hazard> hazards) {
  fh::Report r;
  r.source = "run.raw";
  r.pid = pid;
  r.ppid = 1;
  r.hazards = std::move(hazards);
  return r;
}

}  // namespace

Test(merge, identical_stacks_across_processes_merge) {
  std::vector<fh::Report> reports = {report(11, {deadlock(11, 0x5000)}), report(12, {deadlock(12, 0x5000)}),
                                     report(11, {deadlock(11, 0x5000)})};
  std::vector<fh::HazardGroup> groups = fh::merge_hazards(reports);
  cr_assert_eq(groups.size(), 1u);
  cr_expect_eq(groups[0].occurrences, 3, "every merged hazard counts");
  cr_assert_eq(groups[0].pids.size(), 2u, "pids are listed once each");
  cr_expect_eq(groups[0].pids[0], 11);
  cr_expect_eq(groups[0].pids[1], 12);
  cr_expect_eq(groups[0].hazard.pid, 11, "the group shows the first occurrence");
}

Test(merge, different_layouts_merge) {
  // Processes exec'd separately load the same module elsewhere: only (module, offset) counts.
  std::vector<fh::Report> reports = {report(11, {deadlock(11, 0x555500000000)}),
                                     report(12, {deadlock(12, 0x560000000000)})};
  cr_assert_neq(reports[0].hazards[0].stack[0].pc, reports[1].hazards[0].stack[0].pc);
  EXPECT_TEXT(fh::hazard_signature(reports[0].hazards[0]), fh::hazard_signature(reports[1].hazards[0]));
  std::vector<fh::HazardGroup> groups = fh::merge_hazards(reports);
  cr_assert_eq(groups.size(), 1u);
  cr_expect_eq(groups[0].occurrences, 2);
}

Test(merge, different_stacks_do_not_merge) {
  fh::Hazard other_caller = deadlock(12, 0x5000);
  other_caller.stack[1].offset = 0x1600;
  fh::Hazard other_module = deadlock(13, 0x5000);
  other_module.stack[0].module = "/opt/libplugin.so";
  fh::Hazard other_call = deadlock(14, 0x5000);
  other_call.call = "pthread_rwlock_wrlock";
  fh::Hazard other_type = deadlock(15, 0x5000);
  other_type.lock->type = fh::LockType::rwlock_write;
  fh::Hazard shorter = deadlock(16, 0x5000);
  shorter.stack.pop_back();
  std::vector<fh::Report> reports = {report(11, {deadlock(11, 0x5000)}), report(12, {other_caller}),
                                     report(13, {other_module}),          report(14, {other_call}),
                                     report(15, {other_type}),            report(16, {shorter})};
  std::vector<fh::HazardGroup> groups = fh::merge_hazards(reports);
  cr_assert_eq(groups.size(), 6u, "each difference makes its own hazard");
  for (size_t i = 0; i < groups.size(); ++i) {
    cr_expect_eq(groups[i].occurrences, 1);
    cr_expect_eq(groups[i].pids.size(), 1u);
    cr_expect_eq(groups[i].pids[0], static_cast<int64_t>(11 + i), "groups keep the order of first appearance");
  }
}

Test(merge, lock_address_and_function_names_do_not_split) {
  // The lock's address moves with the layout; names come from the symbolizer and are not compared either.
  fh::Hazard a = deadlock(11, 0x5000, 0x1000);
  fh::Hazard b = deadlock(12, 0x5000, 0x2000);
  b.stack[0].function = "lock_cache(int)";
  std::vector<fh::HazardGroup> groups = fh::merge_hazards({report(11, {a}), report(12, {b})});
  cr_expect_eq(groups.size(), 1u);
}

Test(merge, inlined_frames_count_once_per_machine_frame) {
  fh::Hazard plain = deadlock(11, 0x5000);
  fh::Hazard inlined = deadlock(12, 0x5000);
  fh::Frame inner = inlined.stack[0];
  inner.function = "helper";
  inner.inlined = true;
  inlined.stack.insert(inlined.stack.begin(), inner);
  EXPECT_TEXT(fh::hazard_signature(plain), fh::hazard_signature(inlined));
}

Test(merge, unsafe_calls_compare_their_site) {
  fh::Hazard a = unsafe_call(21, 0x5000, "malloc", 0x1300);
  fh::Hazard same = unsafe_call(22, 0x9000, "malloc", 0x1300);
  fh::Hazard other_site = unsafe_call(23, 0x5000, "malloc", 0x1300);
  other_site.site->offset = 0x1310;  // same stack, another call site
  fh::Hazard other_call = unsafe_call(24, 0x5000, "printf", 0x1300);
  std::vector<fh::HazardGroup> groups =
      fh::merge_hazards({report(21, {a, other_site}), report(22, {same}), report(24, {other_call})});
  cr_assert_eq(groups.size(), 3u);
  cr_expect_eq(groups[0].occurrences, 2);
  cr_assert_eq(groups[0].pids.size(), 2u);
  cr_expect_eq(groups[0].pids[1], 22);
  cr_expect_eq(groups[1].hazard.site->offset, 0x1310u);
  cr_expect_str_eq(groups[2].hazard.call.c_str(), "printf");
}

Test(merge, unsafe_call_counts_add_up_across_processes) {
  fh::Hazard a = unsafe_call(21, 0x5000, "printf", 0x1300);
  fh::Hazard b = unsafe_call(22, 0x5000, "printf", 0x1300);
  a.count = 3;
  b.count = 5;
  fh::Hazard d1 = deadlock(23, 0x5000), d2 = deadlock(24, 0x5000);
  std::vector<fh::HazardGroup> groups = fh::merge_hazards({report(21, {a}), report(22, {b}), report(23, {d1}),
                                                           report(24, {d2})});
  cr_assert_eq(groups.size(), 2u);
  cr_expect_eq(groups[0].hazard.count, 8, "calls at that site in all merged processes");
  cr_expect_eq(groups[1].hazard.count, 1, "a deadlock's count is not a call count");
}

// A prediction merges as a deadlock does: same kind, call, lock type and stack; not with the deadlock itself.
Test(merge, possible_deadlocks_merge_like_deadlocks) {
  auto predicted = [](int64_t pid, uint64_t base) {
    fh::Hazard h = deadlock(pid, base);
    h.kind = fh::HazardKind::possible_deadlock;
    h.acquired_at = {frame("/opt/app", 0x1100, base, "log_loop")};
    return h;
  };
  fh::Hazard other_type = predicted(14, 0x5000);
  other_type.lock->type = fh::LockType::rwlock_read;
  fh::Hazard other_stack = predicted(15, 0x5000);
  other_stack.stack[1].offset = 0x1600;
  fh::Hazard moved_lock = predicted(16, 0x9000);
  moved_lock.lock->addr += 0x40;
  std::vector<fh::HazardGroup> groups = fh::merge_hazards(
      {report(11, {predicted(11, 0x5000)}), report(12, {predicted(12, 0x555500000000)}),
       report(13, {deadlock(13, 0x5000)}), report(14, {other_type}), report(15, {other_stack}),
       report(16, {moved_lock})});
  cr_assert_eq(groups.size(), 4u, "11/12/16 merge; the deadlock, another lock type, another stack do not");
  cr_expect(groups[0].hazard.kind == fh::HazardKind::possible_deadlock);
  cr_expect_eq(groups[0].occurrences, 3);
  cr_assert_eq(groups[0].pids.size(), 3u);
  cr_expect_eq(groups[0].pids[2], 16);
  cr_expect(groups[1].hazard.kind == fh::HazardKind::deadlock);
  cr_expect_eq(groups[2].pids[0], 14);
  cr_expect_eq(groups[3].pids[0], 15);
  cr_expect_eq(groups[0].hazard.count, 1, "a prediction's count is not a call count");
  EXPECT_TEXT(fh::format_summary(groups), "forkhazard: 1 deadlock, 3 possible deadlocks in 6 processes\n");
}

Test(merge, overflow_survives_the_merge) {
  fh::Hazard a = deadlock(11, 0x5000), b = deadlock(12, 0x5000), c = deadlock(13, 0x5000);
  b.overflow = fh::Overflow{4, 0, 1};
  c.overflow = fh::Overflow{2, 3, 0};
  std::vector<fh::HazardGroup> groups = fh::merge_hazards({report(11, {a}), report(12, {b}), report(13, {c})});
  cr_assert_eq(groups.size(), 1u);
  const fh::Overflow& o = groups[0].hazard.overflow;
  cr_expect(o.any(), "the first occurrence recorded everything, a later one did not: still said");
  cr_expect_eq(o.held, 4, "the largest count, not the sum (children inherit their parent's counters)");
  cr_expect_eq(o.threads, 3);
  cr_expect_eq(o.sites, 1);
  cr_expect_not(fh::merge_hazards({report(11, {a})})[0].hazard.overflow.any());
}

Test(merge, kinds_differ) {
  fh::Hazard d = deadlock(11, 0x5000);
  fh::Hazard u = deadlock(11, 0x5000);
  u.kind = fh::HazardKind::unsafe_call;
  cr_expect_neq(fh::hazard_signature(d), fh::hazard_signature(u));
  cr_expect_eq(fh::merge_hazards({report(11, {d, u})}).size(), 2u);
}

Test(merge, frames_without_module_compare_by_pc) {
  fh::Hazard a = deadlock(11, 0x5000);
  a.stack[2] = fh::Frame{};
  a.stack[2].pc = 0xabc;
  fh::Hazard b = a;
  b.stack[2].pc = 0xdef;
  cr_expect_neq(fh::hazard_signature(a), fh::hazard_signature(b));
}

Test(merge, summary_wording) {
  EXPECT_TEXT(fh::format_summary({}), "forkhazard: no hazards\n");

  std::vector<fh::HazardGroup> one = fh::merge_hazards({report(11, {deadlock(11, 0x5000)})});
  EXPECT_TEXT(fh::format_summary(one), "forkhazard: 1 deadlock in 1 process\n");

  std::vector<fh::HazardGroup> unsafe = fh::merge_hazards({report(21, {unsafe_call(21, 0x5000, "malloc", 0x1300)}),
                                                           report(22, {unsafe_call(22, 0x7000, "malloc", 0x1300)})});
  EXPECT_TEXT(fh::format_summary(unsafe), "forkhazard: 1 unsafe call in 2 processes\n");

  fh::Hazard other_stack = deadlock(12, 0x5000);
  other_stack.stack[1].offset = 0x1600;
  std::vector<fh::HazardGroup> mixed = fh::merge_hazards(
      {report(11, {deadlock(11, 0x5000), unsafe_call(11, 0x5000, "malloc", 0x1300)}),
       report(12, {other_stack, unsafe_call(12, 0x5000, "printf", 0x1300), unsafe_call(12, 0x5000, "free", 0x1300)}),
       report(13, {deadlock(13, 0x5000)}), report(14, {unsafe_call(14, 0x5000, "malloc", 0x1300)})});
  EXPECT_TEXT(fh::format_summary(mixed), "forkhazard: 2 deadlocks, 3 unsafe calls in 4 processes\n");

  fh::Hazard predicted = deadlock(15, 0x5000);
  predicted.kind = fh::HazardKind::possible_deadlock;
  EXPECT_TEXT(fh::format_summary(fh::merge_hazards({report(15, {predicted})})),
              "forkhazard: 1 possible deadlock in 1 process\n");
}

Test(merge, summary_counts_unknown_kinds) {
  fh::Hazard future = deadlock(11, 0x5000);
  future.kind = fh::HazardKind::other;
  future.kind_spelling = "leak";
  EXPECT_TEXT(fh::format_summary(fh::merge_hazards({report(11, {future})})),
              "forkhazard: 1 hazard of a kind unknown to this forkhazard in 1 process\n");
  fh::Hazard future2 = future;
  future2.call = "other";
  EXPECT_TEXT(fh::format_summary(fh::merge_hazards({report(11, {deadlock(11, 0x5000), future, future2})})),
              "forkhazard: 1 deadlock, 2 hazards of a kind unknown to this forkhazard in 1 process\n");
}

// A CPython program's hazards share the interpreter's C stack: their Python stacks tell call sites apart, and the
// same Python call site in many children (a multiprocessing.Pool's) still merges.
Test(merge, python_stacks_split_and_merge) {
  fh::Hazard a = deadlock(11, 0x5000), b = deadlock(12, 0x5000), c = deadlock(13, 0x5000);
  a.python_stack = {{"/srv/app/jobs.py", 30, "child_main"}};
  b.python_stack = a.python_stack;
  c.python_stack = {{"/srv/app/jobs.py", 44, "other_job"}};
  std::vector<fh::HazardGroup> groups =
      fh::merge_hazards({report(11, {a}), report(12, {b}), report(13, {c})});
  cr_assert_eq(groups.size(), 2u, "two Python call sites, one C stack: %zu groups", groups.size());
  cr_expect_eq(groups[0].occurrences, 2);
  cr_expect_eq(groups[1].occurrences, 1);
}
