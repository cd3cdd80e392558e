// SARIF 2.1.0 printer (OASIS sarif-v2.1.0-os): a small tree of JSON values, written indented and in a fixed
// order, so the same hazards always give the same bytes. No analysis: only where and how to show each hazard.
#include "report/sarif.h"

#include "report/json.h"
#include "report/phrases.h"

#include <cstdio>
#include <string_view>
#include <utility>

namespace fh {

namespace {

// ---- JSON ----------------------------------------------------------------------------------------------------

// SARIF is written from a tree (report/json.cpp streams): its layout is indented, in a fixed member order, with
// rules gathered before results. The two share what must not differ: the one JSON string escaper (json_string) and
// its UTF-8 check.
// A JSON string literal (bytes that are not valid UTF-8 become U+FFFD: SARIF files are UTF-8).
std::string quoted(std::string_view text) { return json_string(text); }

struct Value {
  enum class Kind { string, number, array, object };
  Kind kind = Kind::object;
  std::string text;  // string
  int64_t number = 0;
  std::vector<Value> items;                            // array
  std::vector<std::pair<std::string, Value>> members;  // object, in output order

  // Adds a member and returns it (references stay valid only until the next add to the same object).
  Value& add(std::string name, Value value) {
    members.emplace_back(std::move(name), std::move(value));
    return members.back().second;
  }
  Value& push(Value value) {
    items.push_back(std::move(value));
    return items.back();
  }
  bool scalar() const { return kind == Kind::string || kind == Kind::number; }
};

Value string_value(std::string_view text) {
  Value v;
  v.kind = Value::Kind::string;
  v.text = text;
  return v;
}
Value number_value(int64_t number) {
  Value v;
  v.kind = Value::Kind::number;
  v.number = number;
  return v;
}
Value array_value() {
  Value v;
  v.kind = Value::Kind::array;
  return v;
}
Value object_value() { return Value{}; }
// {"text": ...}: SARIF's message and multiformatMessageString objects.
Value text_object(std::string_view text) {
  Value v;
  v.add("text", string_value(text));
  return v;
}

// Two-space indentation; an array of scalars (pids) on one line.
void write(const Value& v, int depth, std::string& out) {
  std::string indent(2 * static_cast<size_t>(depth + 1), ' ');
  std::string close(2 * static_cast<size_t>(depth), ' ');
  switch (v.kind) {
    case Value::Kind::string: out += quoted(v.text); return;
    case Value::Kind::number: out += std::to_string(v.number); return;
    case Value::Kind::array: {
      if (v.items.empty()) {
        out += "[]";
        return;
      }
      bool flat = true;
      for (const Value& item : v.items) flat = flat && item.scalar();
      out += '[';
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) out += flat ? ", " : ",";
        if (!flat) out += "\n" + indent;
        write(v.items[i], depth + 1, out);
      }
      if (!flat) out += "\n" + close;
      out += ']';
      return;
    }
    case Value::Kind::object: {
      if (v.members.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (size_t i = 0; i < v.members.size(); ++i) {
        out += i > 0 ? ",\n" : "\n";
        out += indent + quoted(v.members[i].first) + ": ";
        write(v.members[i].second, depth + 1, out);
      }
      out += "\n" + close + "}";
      return;
    }
  }
}

// ---- words ---------------------------------------------------------------------------------------------------

const char tool_version[] = "0.1.0";
const char srcroot[] = "%SRCROOT%";


std::string unsafe_call_sentence(const Hazard& h) {
  std::string text = h.call + "() is not async-signal-safe" + (h.why.empty() ? "" : " (" + h.why + ")") +
                     " in the child of a multithreaded fork()";
  if (h.klass) text += "; class " + std::string(spelling(*h.klass, h.klass_spelling));
  if (h.owner) text += "; " + unsafe_call_owner_sentence(h);
  if (h.count > 1) text += "; called " + std::to_string(h.count) + " times at this site";
  return text;
}

// " (in process 12)", " (2 occurrences in processes 11, 12)"
std::string where_sentence(const HazardGroup& group) {
  if (group.pids.empty())
    return group.occurrences > 1 ? " (" + std::to_string(group.occurrences) + " occurrences)" : "";
  std::string pids;
  for (size_t i = 0; i < group.pids.size(); ++i) pids += (i > 0 ? ", " : "") + std::to_string(group.pids[i]);
  std::string processes = (group.pids.size() == 1 ? "process " : "processes ") + pids;
  if (group.occurrences == 1) return " (in " + processes + ")";
  return " (" + std::to_string(group.occurrences) + " occurrences in " + processes + ")";
}

std::string message(const HazardGroup& group) {
  const Hazard& h = group.hazard;
  std::string sentence;
  switch (h.kind) {
    case HazardKind::deadlock: sentence = deadlock_sentence(h); break;
    case HazardKind::possible_deadlock: sentence = possible_deadlock_sentence(h); break;
    case HazardKind::unsafe_call: sentence = unsafe_call_sentence(h); break;
    case HazardKind::other:
      sentence = h.call + ": hazard '" + h.kind_spelling + "', unknown to this forkhazard (upgrade it for details)";
      break;
  }
  return sentence + where_sentence(group) + ".";
}

// ---- rules ---------------------------------------------------------------------------------------------------

struct Rule {
  std::string id, name, short_description, full_description, help;
  Level level;  // the defaultConfiguration's; each result says its own
};

// SARIF's own level names (sarif-v2.1.0-os 3.27.10), which happen to be ours.
std::string sarif_level(Level level) {
  switch (level) {
    case Level::error: return "error";
    case Level::warning: return "warning";
    case Level::note: return "note";
  }
  return "warning";
}

// "Take the lock ... .": a hint phrase as a sentence of a rule's help.
std::string as_sentence(std::string phrase) {
  if (!phrase.empty() && phrase[0] >= 'a' && phrase[0] <= 'z') phrase[0] = static_cast<char>(phrase[0] - 'a' + 'A');
  return phrase + ".";
}

// The rules of the kinds this forkhazard knows. New kinds go at the end, so a rule keeps its ruleIndex.
std::vector<Rule> fixed_rules() {
  return {
      {"deadlock", "Deadlock", "A lock call in the child of a multithreaded fork() can never return",
       "fork() copies only the thread that calls it. A lock that another thread held at that moment (a mutex, "
       "rwlock or semaphore, a condition variable it waited on, a function-local static it was constructing, or "
       "a glibc-internal lock) stays held in the child forever, because the thread that would release it does not "
       "exist there: the child blocks forever when it takes that lock.",
       "Take the lock in a pthread_atfork prepare handler and release it in the parent and child handlers, so "
       "that no other thread holds it at fork(); or call only async-signal-safe functions in the child until "
       "exec() (see signal-safety(7)); or start the child with posix_spawn instead of fork() and exec().",
       Level::error},
      {"unsafe-call", "UnsafeCallAfterFork",
       "A function that is not async-signal-safe is called in the child of a multithreaded fork() before exec",
       "After fork() in a multithreaded process POSIX allows the child only async-signal-safe functions until it "
       "calls exec(). Others (the allocator, stdio, exit(), the environment, time zones, locales, NSS, the dynamic "
       "loader, ...) use state another thread may have held or been changing at the moment of fork(): hang-prone "
       "calls take a glibc lock that fork() does not reset and can hang the child; non-portable calls work with "
       "glibc but are undefined by POSIX.",
       "Call only async-signal-safe functions between fork() and exec() (see signal-safety(7)): prepare "
       "arguments, environment and file descriptors before fork(), and leave a child that does not exec with "
       "_exit(), not exit(). Better, start the child with posix_spawn instead of fork() and exec().",
       Level::warning},  // hang-prone calls; the allocator and stdio (non-portable) are notes
      {"possible-deadlock", "PossibleDeadlock",
       "A lock the child of a multithreaded fork() takes could have been held at fork() by a thread that vanished",
       "fork() copies only the thread that calls it. The child took a lock that was free, but another thread of the "
       "parent, which does not exist in the child, took the same lock during the parent's life, and nothing (no "
       "pthread_atfork handler, no re-initialisation in the child) ensures that thread did not hold it at the "
       "moment of fork(). Had the fork come while that thread held it, the child would have blocked forever: "
       "whether it hangs depends only on timing.",
       as_sentence(possible_deadlock_hint()) +
           " If the child only prepares an exec(), start it with posix_spawn instead of fork() and exec().",
       Level::warning},
  };
}

Value rule_value(const Rule& rule) {
  Value v;
  v.add("id", string_value(rule.id));
  v.add("name", string_value(rule.name));
  v.add("shortDescription", text_object(rule.short_description));
  v.add("fullDescription", text_object(rule.full_description));
  v.add("help", text_object(rule.help));
  v.add("defaultConfiguration", object_value()).add("level", string_value(sarif_level(rule.level)));
  return v;
}

// A rule for a kind a newer shim wrote, so that every result still names a rule of the driver.
Rule unknown_kind_rule(const std::string& id) {
  return {id, "UnknownHazardKind", "A hazard of a kind unknown to this forkhazard",
          "The report names a hazard kind '" + id + "' that this version of forkhazard does not know.",
          "Read the report with a newer forkhazard for details.", Level::warning};
}

// ---- locations -----------------------------------------------------------------------------------------------

// A URI reference for a path: unreserved characters, '/' and the sub-delimiters that need no escape in a path
// stay; everything else (space, '%', '#', '?', non-ASCII bytes) is percent-encoded (RFC 3986).
std::string uri_path(std::string_view path) {
  static const char keep[] = "-._~/!$&'()*+,;=:@";
  std::string out;
  for (char ch : path) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c != 0 && std::string_view(keep).find(ch) != std::string_view::npos);
    if (plain) {
      out += ch;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

bool has_source(const Frame& f) { return !f.file.empty() && f.line > 0; }

// A Python frame as a source frame: its file, line and function.
Frame python_frame(const PyFrame& p) {
  Frame f;
  f.file = p.file;
  f.line = static_cast<int>(p.line);
  f.function = p.function;
  return f;
}

// The innermost frame of the program's own Python code: not a frozen or built-in module ("<frozen ...>"), not the
// interpreter's library (a path under a lib/pythonX.Y directory); else the innermost with a line; else none.
const PyFrame* own_python_frame(const std::vector<PyFrame>& stack) {
  const PyFrame* any = nullptr;
  for (const PyFrame& f : stack) {
    if (f.line <= 0 || f.file.empty() || f.file[0] == '<') continue;
    if (any == nullptr) any = &f;
    if (f.file.find("/lib/python") == std::string::npos && f.file.find("/site-packages/") == std::string::npos)
      return &f;
  }
  return any;
}

bool is_system_module(const std::string& module) {
  return starts_with(module, "/lib/") || starts_with(module, "/usr/lib/") || starts_with(module, "/lib64/");
}

// A frame of the program's own code: with source, not in a system header or library, not in glibc's sources
// (their DWARF names them relative, "../sysdeps/...").
bool is_user_frame(const Frame& f) {
  if (!has_source(f)) return false;
  if (starts_with(f.file, "/usr/") || starts_with(f.file, "../")) return false;
  return !is_system_module(f.module);
}

// The frame to show a stack at: the innermost user frame, else the innermost with source, else the innermost
// in a module (one of the program's own before a system library's); null when there is none.
const Frame* representative_frame(const Stack& stack) {
  for (const Frame& f : stack)
    if (is_user_frame(f)) return &f;
  for (const Frame& f : stack)
    if (has_source(f)) return &f;
  for (const Frame& f : stack)
    if (!f.module.empty() && !is_system_module(f.module)) return &f;
  for (const Frame& f : stack)
    if (!f.module.empty()) return &f;
  return nullptr;
}

class Printer {
 public:
  explicit Printer(const std::string& strip_prefix) : strip_prefix_(strip_prefix) {}

  // physicalLocation of a frame: its source line, or the module file without a region; false when neither.
  bool physical_location(const Frame& f, Value* out) const {
    Value artifact;
    Value region;
    if (has_source(f)) {
      std::string path = f.file;
      if (!strip_prefix_.empty() && path.size() > strip_prefix_.size() && starts_with(path, strip_prefix_))
        path = path.substr(strip_prefix_.size());
      if (starts_with(path, "/")) {
        artifact.add("uri", string_value("file://" + uri_path(path)));
      } else {
        artifact.add("uri", string_value(uri_path(path)));
        artifact.add("uriBaseId", string_value(srcroot));
      }
      region.add("startLine", number_value(f.line));
    } else if (starts_with(f.module, "/")) {
      artifact.add("uri", string_value("file://" + uri_path(f.module)));
    } else if (!f.module.empty()) {  // a module map should hold absolute paths; keep whatever it said
      artifact.add("uri", string_value(uri_path(f.module)));
    } else {
      return false;
    }
    Value& physical = out->add("physicalLocation", object_value());
    physical.add("artifactLocation", std::move(artifact));
    if (!region.members.empty()) physical.add("region", std::move(region));
    return true;
  }

  // A location object for a frame (physical and, when the function is known, logical), or nothing.
  std::optional<Value> location(const Frame& f) const {
    Value v;
    if (!physical_location(f, &v)) return std::nullopt;
    if (!f.function.empty()) {
      Value logical;
      logical.add("fullyQualifiedName", string_value(f.function));
      v.add("logicalLocations", array_value()).push(std::move(logical));
    }
    return v;
  }

  static std::string frame_words(size_t index, const Frame& f) {
    std::string words = "#" + std::to_string(index) + " ";
    if (!f.function.empty()) return words + f.function;
    if (!f.module.empty()) return words + basename_of(f.module) + "+" + hex(f.offset);
    return words + hex(f.pc);
  }

  Value thread_flow(const Stack& stack) const {
    Value locations = array_value();
    for (size_t i = 0; i < stack.size(); ++i) {
      Value location;
      physical_location(stack[i], &location);
      location.add("message", text_object(frame_words(i, stack[i])));
      Value step;
      step.add("location", std::move(location));
      locations.push(std::move(step));
    }
    Value flow;
    flow.add("locations", std::move(locations));
    return flow;
  }

  // The hazard's stack; for a deadlock of a whole process, each other thread's wait too (a thread flow each,
  // named by its thread).
  Value code_flow(const Hazard& h) const {
    Value flow;
    Value& threads = flow.add("threadFlows", array_value());
    threads.push(thread_flow(h.stack));
    for (const WaitingThread& t : h.waiting) {
      if (t.stack.empty()) continue;  // SARIF requires at least one location in a thread flow
      Value& other = threads.push(thread_flow(t.stack));
      other.add("message", text_object("thread " + std::to_string(t.tid) + (t.name.empty() ? "" : " '" + t.name + "'") +
                                       " waits in " + t.call + "()"));
    }
    return flow;
  }

  // Whether the owner's acquisition stack is where a lock was taken (an unsafe call's owner was inside a call).
  static bool shows_acquisition(HazardKind kind) {
    switch (kind) {
      case HazardKind::deadlock:
      case HazardKind::possible_deadlock: return true;
      case HazardKind::unsafe_call:
      case HazardKind::other: return false;
    }
    return false;
  }

  Value related_locations(const Hazard& h) const {
    Value related = array_value();
    int64_t id = 0;
    auto add = [&](const Frame& f, const std::string& text) {
      Value v;
      if (!physical_location(f, &v)) return;
      v.add("id", number_value(++id));
      v.add("message", text_object(text));
      related.push(std::move(v));
    };
    if (shows_acquisition(h.kind)) {
      std::string who;
      if (h.owner && h.owner->relation == Relation::forker)
        who = " by this thread before fork()";
      else if (h.owner)
        who = " by " + thread_label(h.owner->tid, h.owner->name);
      for (size_t i = 0; i < h.acquired_at.size(); ++i)
        add(h.acquired_at[i], "acquired here" + who + " (" + frame_words(i, h.acquired_at[i]) + ")");
    }
    if (h.fork)
      if (const Frame* site = representative_frame(h.fork->stack)) add(*site, "fork() called here");
    // A CPython program: where the holder and the forking thread were in their Python code at the fork.
    if (h.fork)
      for (const ForkThread& t : h.fork->threads) {
        bool holder = h.owner && t.tid == h.owner->tid && t.relation == Relation::vanished;
        bool forker = t.relation == Relation::forker;
        if (!holder && !forker) continue;
        if (const PyFrame* p = own_python_frame(t.python_stack))
          add(python_frame(*p), holder ? thread_label(t.tid, t.name) + " was here in Python when it vanished at fork() (" +
                                             p->function + ")"
                                       : "fork() called here in Python (" + p->function + ")");
      }
    return related;
  }

  Value result(const HazardGroup& group, const std::string& rule_id, size_t rule_index) {
    const Hazard& h = group.hazard;
    Value v;
    v.add("ruleId", string_value(rule_id));
    v.add("ruleIndex", number_value(static_cast<int64_t>(rule_index)));
    v.add("level", string_value(sarif_level(level_of(h))));
    v.add("message", text_object(message(group)));

    // An unsafe call recorded without a stack still has its call site. A CPython program's call is shown where its
    // own Python code made it.
    const Frame* shown = representative_frame(h.stack);
    if (shown == nullptr && h.site) shown = &*h.site;
    Frame in_python;
    if (const PyFrame* p = own_python_frame(h.python_stack)) {
      in_python = python_frame(*p);
      shown = &in_python;
    }
    Value locations = array_value();
    if (shown)
      if (std::optional<Value> where = location(*shown)) locations.push(std::move(*where));
    v.add("locations", std::move(locations));

    // SARIF requires at least one location in a thread flow.
    if (!h.stack.empty()) v.add("codeFlows", array_value()).push(code_flow(h));
    Value related = related_locations(h);
    if (!related.items.empty()) v.add("relatedLocations", std::move(related));

    v.add("partialFingerprints", object_value())
        .add("forkhazardSignature/v1", string_value(fingerprint(hazard_signature(h))));
    Value& properties = v.add("properties", object_value());
    properties.add("occurrences", number_value(group.occurrences));
    Value& pids = properties.add("pids", array_value());
    for (int64_t pid : group.pids) pids.push(number_value(pid));
    if (h.kind == HazardKind::unsafe_call && h.klass)
      properties.add("class", string_value(spelling(*h.klass, h.klass_spelling)));
    if (h.overflow.any()) {  // what the shim could not record, as in the JSON
      Value& overflow = properties.add("overflow", object_value());
      overflow.add("held", number_value(h.overflow.held));
      overflow.add("threads", number_value(h.overflow.threads));
      overflow.add("sites", number_value(h.overflow.sites));
    }
    return v;
  }

  // FNV-1a 64: the same on every machine and compiler, unlike std::hash.
  static std::string fingerprint(std::string_view text) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (char c : text) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 0x100000001b3ull;
    }
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash));
    return buf;
  }

 private:
  const std::string& strip_prefix_;
};

}  // namespace

std::string to_sarif(const std::vector<HazardGroup>& groups, const std::string& strip_prefix) {
  std::vector<Rule> rules = fixed_rules();
  auto rule_index = [&](const Hazard& h) {
    std::string id(spelling(h.kind, h.kind_spelling));
    for (size_t i = 0; i < rules.size(); ++i)
      if (rules[i].id == id) return i;
    rules.push_back(unknown_kind_rule(id));
    return rules.size() - 1;
  };

  Printer printer(strip_prefix);
  Value results = array_value();
  for (const HazardGroup& group : groups) {
    size_t index = rule_index(group.hazard);
    results.push(printer.result(group, rules[index].id, index));
  }

  Value root;
  root.add("version", string_value("2.1.0"));
  root.add("$schema", string_value("https://json.schemastore.org/sarif-2.1.0.json"));
  Value run;
  Value& driver = run.add("tool", object_value()).add("driver", object_value());
  driver.add("name", string_value("forkhazard"));
  driver.add("version", string_value(tool_version));
  Value& rule_values = driver.add("rules", array_value());
  for (const Rule& rule : rules) rule_values.push(rule_value(rule));
  run.add("originalUriBaseIds", object_value())
      .add(srcroot, object_value())
      .add("description", text_object("the working directory of the run"));
  run.add("results", std::move(results));
  root.add("runs", array_value()).push(std::move(run));

  std::string out;
  write(root, 0, out);
  out += '\n';
  return out;
}

}  // namespace fh
