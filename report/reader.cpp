// Reader of raw report files: line records -> report model, collecting errors instead of stopping at them.
#include "report/reader.h"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <tuple>
#include <utility>

#include "shim/protocol.h"

namespace fh {

bool percent_decode(std::string_view value, std::string* decoded) {
  auto hex_digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  decoded->clear();
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\0') return false;  // the shim escapes every byte outside 0x21..0x7e: a raw NUL is corrupt
    if (value[i] != '%') {
      decoded->push_back(value[i]);
      continue;
    }
    if (i + 2 >= value.size()) return false;
    int hi = hex_digit(value[i + 1]), lo = hex_digit(value[i + 2]);
    // %00 never comes from the shim, which escapes C strings; a NUL in the model would end every printer's
    // output early (fputs of the text report, the JSON and SARIF files) and lose the hazards after it.
    if (hi < 0 || lo < 0 || hi * 16 + lo == 0) return false;
    decoded->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

namespace {

// A piece of the file quoted in a message: at most 80 bytes, and a byte outside printable ASCII as \xNN, so the
// message stays one short line whatever the file holds (a megabyte-long field, a carriage return, an escape
// sequence for the terminal).
std::string quoted(std::string_view text) {
  constexpr size_t max_shown = 80;
  std::string out;
  for (size_t i = 0; i < text.size() && i < max_shown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  if (text.size() > max_shown) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

// One line split into its record name and KEY=VALUE fields (values still escaped).
struct Line {
  std::string_view record;
  std::vector<std::pair<std::string_view, std::string_view>> fields;

  // The raw value of `key`; the last one wins when a key repeats.
  std::optional<std::string_view> raw(std::string_view key) const {
    for (auto it = fields.rbegin(); it != fields.rend(); ++it)
      if (it->first == key) return it->second;
    return std::nullopt;
  }
};

// An open `repeats` block. Outside Parser: clang rejects optional<T>::emplace() for a nested class with default
// member initializers before the enclosing class is complete (the CWG 1397 rule; g++ accepts it).
struct Repeats {
  int64_t pid = 0;
  std::map<std::tuple<std::string, uint64_t>, int64_t> counts;  // (call, site) -> count
};

class Parser {
 public:
  Parser(const std::string& name, ReadResult& out) : name_(name), out_(out) {}

  void parse(std::string_view text) {
    if (text.empty()) {
      out_.errors.push_back("forkhazard: " + name_ + ": empty file, not a forkhazard raw report");
      return;
    }
    size_t pos = 0;
    while (pos < text.size()) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string_view::npos) eol = text.size();
      std::string_view content = text.substr(pos, eol - pos);
      pos = eol + 1;
      ++line_no_;
      if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
      if (line_no_ == 1) {
        if (!check_magic(content)) return;
        continue;
      }
      if (content.empty() || content.front() == '#') continue;
      Line line;
      if (!split(content, &line)) continue;
      handle(line);
    }
    if (block_) out_.errors.push_back("forkhazard: " + name_ + ": truncated report (no 'end' line)");
    if (repeats_) out_.errors.push_back("forkhazard: " + name_ + ": truncated repeats block (no 'end' line)");
  }

 private:
  void error(const std::string& message) {
    out_.errors.push_back("forkhazard: " + name_ + ":" + std::to_string(line_no_) + ": " + message);
  }

  bool check_magic(std::string_view content) {
    Line line;
    bool ok = content.find('\0') == std::string_view::npos && split(content, &line, false) &&
              line.record == "forkhazard-raw";
    std::optional<std::string_view> v = ok ? line.raw("v") : std::nullopt;
    if (!v) {
      out_.errors.push_back("forkhazard: " + name_ + ": not a forkhazard raw report (bad first line)");
      return false;
    }
    if (*v != std::to_string(protocol::version)) {
      out_.errors.push_back("forkhazard: " + name_ + ": raw report version '" + quoted(*v) +
                            "' is not supported (this forkhazard reads version " +
                            std::to_string(protocol::version) + ")");
      return false;
    }
    return true;
  }

  bool split(std::string_view content, Line* line, bool report_errors = true) {
    size_t pos = 0;
    bool first = true;
    while (pos <= content.size()) {
      size_t end = content.find(' ', pos);
      if (end == std::string_view::npos) end = content.size();
      std::string_view token = content.substr(pos, end - pos);
      pos = end + 1;
      if (token.empty()) continue;
      if (first) {
        line->record = token;
        first = false;
        continue;
      }
      size_t eq = token.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        if (report_errors) error("malformed field '" + quoted(token) + "' (expected KEY=VALUE)");
        return false;
      }
      line->fields.emplace_back(token.substr(0, eq), token.substr(eq + 1));
    }
    return !first;
  }

  // Typed field getters: absent keys leave *dst unchanged; malformed values are reported and leave it too.
  void get(const Line& line, std::string_view key, std::string* dst) {
    auto raw = line.raw(key);
    if (!raw) return;
    std::string decoded;
    if (*raw == "-") {  // the explicit empty value (a real leading '-' is written %2D)
      dst->clear();
      return;
    }
    if (!percent_decode(*raw, &decoded)) {
      bad_value(line, key, *raw,
                raw->find('\0') == std::string_view::npos ? "malformed %-escape" : "NUL byte in value");
      return;
    }
    *dst = std::move(decoded);
  }

  void get_dec(const Line& line, std::string_view key, int64_t* dst) {
    auto raw = line.raw(key);
    if (!raw) return;
    int64_t value = 0;
    auto [end, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), value, 10);
    if (raw->empty() || ec != std::errc() || end != raw->data() + raw->size()) {
      bad_value(line, key, *raw, "malformed decimal number");
      return;
    }
    *dst = value;
  }

  static bool parse_hex(std::string_view text, uint64_t* value) {
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value, 16);
    return !text.empty() && ec == std::errc() && end == text.data() + text.size();
  }

  void get_hex(const Line& line, std::string_view key, uint64_t* dst) {
    auto raw = line.raw(key);
    if (!raw) return;
    uint64_t value = 0;
    if (!parse_hex(*raw, &value)) {
      bad_value(line, key, *raw, "malformed hex number");
      return;
    }
    *dst = value;
  }

  // A PC list is split on raw commas: the grammar escapes ',' inside values, so a bare one is a separator.
  // "-" (or nothing) is the empty list.
  void get_pcs(const Line& line, std::string_view key, Stack* dst) {
    auto raw = line.raw(key);
    if (!raw) return;
    if (*raw == "-") raw->remove_prefix(1);
    Stack stack;
    size_t pos = 0;
    while (!raw->empty() && pos <= raw->size()) {
      size_t comma = std::min(raw->find(',', pos), raw->size());
      uint64_t pc = 0;
      if (!parse_hex(raw->substr(pos, comma - pos), &pc)) {
        bad_value(line, key, *raw, "malformed hex number in PC list");
        return;
      }
      stack.emplace_back().pc = pc;
      pos = comma + 1;
    }
    *dst = std::move(stack);
  }

  void get_type(const Line& line, LockRef* lock) {
    std::string word;
    // `type=` of a lock or a held line: one spelling (shim/protocol.def).
    static_assert(std::string_view(protocol::key::lock_type) == protocol::key::held_type);
    if (!line.raw(protocol::key::lock_type)) return;
    get(line, protocol::key::lock_type, &word);
    auto type = parse_lock_type(word);
    lock->type = type ? *type : LockType::other;
    lock->type_spelling = lock->type == LockType::other || lock->type == LockType::libc ? word : std::string();
  }

  void get_relation(const Line& line, Relation* relation, std::string* other) {
    std::string word;
    // `relation=` of an owner or a thread line: one spelling (shim/protocol.def).
    static_assert(std::string_view(protocol::key::owner_relation) == protocol::key::thread_relation);
    if (!line.raw(protocol::key::owner_relation)) return;
    get(line, protocol::key::owner_relation, &word);
    if (auto r = parse_relation(word)) {
      *relation = *r;
    } else {
      *relation = Relation::other;
      *other = word;
    }
  }

  void bad_value(const Line& line, std::string_view key, std::string_view raw, const char* what) {
    error(std::string(what) + " '" + quoted(raw) + "' in '" + quoted(line.record) + " " +
          quoted(key) + "='");
  }

  // A block-opening record ends an open block as truncated.
  void close_truncated(std::string_view next) {
    if (block_) error("truncated report (no 'end' line before the next '" + std::string(next) + "')");
    if (repeats_) error("truncated repeats block (no 'end' line before the next '" + std::string(next) + "')");
    block_.reset();
    repeats_.reset();
  }

  void handle(const Line& line) {
    using namespace protocol;
    const std::string_view r = line.record;
    if (r == rec::report) {
      close_truncated(r);
      block_.emplace();
      fork_.reset();
      block_->source = name_;
      get_dec(line, key::report_pid, &block_->pid);
      get_dec(line, key::report_ppid, &block_->ppid);
      return;
    }
    if (r == rec::repeats) {
      close_truncated(r);
      repeats_.emplace();
      get_dec(line, key::repeats_pid, &repeats_->pid);
      return;
    }
    if (repeats_) {
      handle_repeats(line);
      return;
    }
    if (!block_) return;  // outside a block only 'report' and 'repeats' mean something
    Hazard* hazard = block_->hazards.empty() ? nullptr : &block_->hazards.back();
    if (r == rec::end) {
      for (Hazard& h : block_->hazards) {
        h.fork = fork_;
        h.overflow = block_->overflow;
        if (h.lock && h.lock->type == LockType::futex && h.lock->has_addr) locate(*h.lock, block_->modules);
      }
      out_.reports.push_back(std::move(*block_));
      block_.reset();
    } else if (r == rec::hazard) {
      Hazard& h = block_->hazards.emplace_back();
      h.pid = block_->pid;
      h.ppid = block_->ppid;
      std::string kind;
      get(line, key::hazard_kind, &kind);
      if (auto k = parse_hazard_kind(kind)) {
        h.kind = *k;
      } else {
        h.kind = HazardKind::other;
        h.kind_spelling = kind;
      }
      get(line, key::hazard_call, &h.call);
      if (line.raw(key::hazard_class)) {
        std::string klass;
        get(line, key::hazard_class, &klass);
        auto c = parse_call_class(klass);
        h.klass = c ? *c : CallClass::other;
        if (!c) h.klass_spelling = klass;
      }
      get(line, key::hazard_why, &h.why);
      if (line.raw(key::hazard_site)) get_hex(line, key::hazard_site, &h.site.emplace().pc);
      int64_t interrupt_only = 0;
      get_dec(line, key::hazard_interrupt_only, &interrupt_only);
      h.interrupt_only = interrupt_only != 0;
      int64_t never_succeeds = 0;
      get_dec(line, key::hazard_never_succeeds, &never_succeeds);
      h.never_succeeds = never_succeeds != 0;
      int64_t spins = 0;
      get_dec(line, key::hazard_spins, &spins);
      h.spins = spins != 0;
    } else if (r == rec::lock && hazard) {
      LockRef& lock = hazard->lock.emplace();
      get_hex(line, key::lock_addr, &lock.addr);
      lock.has_addr = line.raw(key::lock_addr).has_value();
      get_type(line, &lock);
      get(line, key::lock_symbol, &lock.symbol);
    } else if (r == rec::owner && hazard) {
      Owner& owner = hazard->owner.emplace();
      get_dec(line, key::owner_tid, &owner.tid);
      get(line, key::owner_name, &owner.name);
      get_relation(line, &owner.relation, &owner.relation_spelling);
    } else if (r == rec::acquired && hazard) {
      get_pcs(line, key::acquired_pcs, &hazard->acquired_at);
    } else if (r == rec::stack && hazard) {
      get_pcs(line, key::stack_pcs, &hazard->stack);
    } else if (r == rec::waiting && hazard != nullptr) {
      WaitingThread& waiting = hazard->waiting.emplace_back();
      get_dec(line, key::waiting_tid, &waiting.tid);
      get(line, key::waiting_name, &waiting.name);
      get(line, key::waiting_call, &waiting.call);
      get_pcs(line, key::waiting_pcs, &waiting.stack);
    } else if (r == rec::fork) {
      fork_.emplace();
      get_dec(line, key::fork_parent_pid, &fork_->parent_pid);
      get_dec(line, key::fork_forking_tid, &fork_->forking_tid);
      get_pcs(line, key::fork_pcs, &fork_->stack);
      int64_t raw = 0;
      get_dec(line, key::fork_raw, &raw);
      fork_->raw = raw != 0;
    } else if (r == rec::thread) {
      if (!fork_) fork_.emplace();
      ForkThread& thread = fork_->threads.emplace_back();
      get_dec(line, key::thread_tid, &thread.tid);
      get(line, key::thread_name, &thread.name);
      get_relation(line, &thread.relation, &thread.relation_spelling);
      get_pcs(line, key::thread_created, &thread.created_at);
    } else if (r == rec::pyframe && !fork_ && !block_->hazards.empty()) {
      PyFrame& frame = block_->hazards.back().python_stack.emplace_back();
      get(line, key::pyframe_file, &frame.file);
      get_dec(line, key::pyframe_line, &frame.line);
      get(line, key::pyframe_function, &frame.function);
    } else if (r == rec::pyframe && fork_ && !fork_->threads.empty()) {
      PyFrame& frame = fork_->threads.back().python_stack.emplace_back();
      get(line, key::pyframe_file, &frame.file);
      get_dec(line, key::pyframe_line, &frame.line);
      get(line, key::pyframe_function, &frame.function);
    } else if (r == rec::held && fork_ && !fork_->threads.empty()) {
      HeldLock& held = fork_->threads.back().held.emplace_back();
      get_hex(line, key::held_addr, &held.lock.addr);
      held.lock.has_addr = line.raw(key::held_addr).has_value();
      get_type(line, &held.lock);
      get_dec(line, key::held_depth, &held.depth);
      get_pcs(line, key::held_pcs, &held.acquired_at);
    } else if (r == rec::overflow) {
      get_dec(line, key::overflow_held, &block_->overflow.held);
      get_dec(line, key::overflow_threads, &block_->overflow.threads);
      get_dec(line, key::overflow_sites, &block_->overflow.sites);
    } else if (r == rec::module) {
      ModuleInfo& module = block_->modules.emplace_back();
      get_hex(line, key::module_lo, &module.lo);
      get_hex(line, key::module_hi, &module.hi);
      get_hex(line, key::module_bias, &module.bias);
      get(line, key::module_build_id, &module.build_id);
      get(line, key::module_path, &module.path);
    }
    // Anything else is a record a newer shim writes: ignored (shim/protocol.h).
  }

  // The module of the report's map that holds a futex word (its .data or .bss), if any.
  static void locate(LockRef& lock, const std::vector<ModuleInfo>& modules) {
    for (const ModuleInfo& module : modules) {
      if (module.lo <= lock.addr && lock.addr < module.hi) {
        lock.module = module.path;
        lock.offset = lock.addr - module.bias;
        return;
      }
    }
  }

  // Inside `repeats pid=N ... end`: counts are kept only once the block is complete.
  void handle_repeats(const Line& line) {
    using namespace protocol;
    if (line.record == rec::end) {
      for (auto& [key, count] : repeats_->counts) {
        auto [it, inserted] = out_.repeat_counts.emplace(std::tuple_cat(std::make_tuple(repeats_->pid), key), count);
        // A process that wrote two blocks (a failed exec, then exit) counted on: the larger count is the later.
        if (!inserted) it->second = std::max(it->second, count);
      }
      repeats_.reset();
    } else if (line.record == rec::repeat) {
      std::string call;
      uint64_t site = 0;
      int64_t count = -1;
      get(line, key::repeat_call, &call);
      get_hex(line, key::repeat_site, &site);
      get_dec(line, key::repeat_count, &count);
      if (count < 1) return;  // missing or malformed (already reported): the hazard keeps its count
      int64_t& kept = repeats_->counts[std::make_tuple(call, site)];
      kept = std::max(kept, count);
    }
  }

  const std::string& name_;
  ReadResult& out_;
  int line_no_ = 0;
  std::optional<Report> block_;      // the open report block
  std::optional<ForkContext> fork_;  // its fork context, shared by all its hazards at 'end' (as is its overflow)
  std::optional<Repeats> repeats_;   // the open repeats block
};

// Hazard::count from the repeat counts: a hazard no `repeat` line names was called once.
void apply_repeat_counts(ReadResult& out) {
  for (Report& report : out.reports) {
    for (Hazard& hazard : report.hazards) {
      if (!hazard.site) continue;
      auto it = out.repeat_counts.find(std::make_tuple(hazard.pid, hazard.call, hazard.site->pc));
      if (it != out.repeat_counts.end()) hazard.count = it->second;
    }
  }
}

}  // namespace

void read_raw_text(std::string_view text, const std::string& name, ReadResult& out) {
  Parser(name, out).parse(text);
  apply_repeat_counts(out);
  ++out.files;
}

namespace fs = std::filesystem;

void read_raw_path(const std::string& path, ReadResult& out) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code type_ec;
      if (it->is_regular_file(type_ec)) files.push_back(it->path().string());
    }
    if (ec) {
      out.errors.push_back("forkhazard: " + path + ": cannot read directory: " + ec.message());
      return;
    }
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) read_raw_path(file, out);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.errors.push_back("forkhazard: " + path + ": cannot open: " + std::strerror(errno));
    return;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    out.errors.push_back("forkhazard: " + path + ": cannot read: " + std::strerror(errno));
    return;
  }
  read_raw_text(text.str(), path, out);
}

}  // namespace fh
