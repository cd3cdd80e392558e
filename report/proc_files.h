// What /proc and a process's memory say, read from outside for the watchdog of `forkhazard run`: pure parsers of
// /proc/PID/{syscall,stat,status,timers}, small text helpers, and the /proc files every poll keeps open.
#pragma once

#include <sys/types.h>

#include <charconv>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "report/phrases.h"  // hex()

namespace fh::watchdog {

// /proc/PID/syscall of a task blocked in a system call: "nr a0 a1 a2 a3 a4 a5 sp pc" (proc(5)).
struct SyscallLine {
  long nr = -1;
  uint64_t args[6] = {};
  uint64_t sp = 0, pc = 0;
  bool operator==(const SyscallLine&) const = default;
};
// nullopt for "running", for "-1 sp pc" (blocked outside a system call) and for anything malformed.
std::optional<SyscallLine> parse_syscall(std::string_view text);

// The fields of /proc/PID/stat the poll needs: the state letter, the parent, the thread count.
struct ProcStat {
  char state = '?';
  int64_t ppid = 0;
  int64_t threads = 0;
};
// The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
std::optional<ProcStat> parse_stat(std::string_view text);

// The fields of /proc/PID/status the judgement needs.
struct ProcStatus {
  int64_t threads = -1;
  uint64_t caught = 0;   // SigCgt: signals with a handler
  uint64_t blocked = 0;  // SigBlk
  uint64_t ignored = 0;  // SigIgn
  int64_t voluntary_switches = -1;
};
// nullopt when Threads:, SigCgt:, SigBlk: or voluntary_ctxt_switches: is missing.
std::optional<ProcStatus> parse_status(std::string_view text);

// The signals the POSIX timers of /proc/PID/timers deliver ("signal: 14/..." of "notify: signal/..."), as a
// SigCgt-style mask (bit sig - 1).
uint64_t parse_timer_signals(std::string_view text);

// The system call number of futex(2) for the architecture this CLI is built for (202 on x86_64, 98 on
// aarch64): /proc/PID/syscall shows the task's own numbering, so a compat (32-bit) process never matches.
extern const long futex_syscall;

// ---- small text helpers ------------------------------------------------------------------------------------------

bool parse_hex(std::string_view text, uint64_t* value);  // "0x1f" or "1f"
template <typename T>
bool parse_dec(std::string_view text, T* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value, 10);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> words(std::string_view text);  // the whitespace-separated words of `text`
// A raw-protocol value (shim/protocol.h): bytes outside 0x21..0x7e and '%' ',' '=' as %XX, a leading '-' as %2D,
// the empty value as "-".
std::string protocol_value(std::string_view text);
std::string pc_list(const uint64_t* pcs, size_t n);  // "0x1,0x2", "-" when empty

// A raw-protocol line built for a report file, from the table of records and keys (shim/protocol.def):
// `ProtocolLine(rec::lock).hex(key::lock_addr, word).word(key::lock_type, "futex").line()`.
class ProtocolLine {
 public:
  explicit ProtocolLine(const char* record) : text_(record) {}
  ProtocolLine& word(const char* key, std::string_view value) { return put(key, value); }  // written as it is
  ProtocolLine& text(const char* key, std::string_view value) { return put(key, protocol_value(value)); }  // escaped
  ProtocolLine& num(const char* key, int64_t value) { return put(key, std::to_string(value)); }
  ProtocolLine& hex(const char* key, uint64_t value) { return put(key, fh::hex(value)); }
  ProtocolLine& pcs(const char* key, const uint64_t* pcs, size_t n) { return put(key, pc_list(pcs, n)); }
  std::string line() const { return text_ + "\n"; }

 private:
  ProtocolLine& put(const char* key, std::string_view value) {
    text_.append(" ").append(key).append("=").append(value);
    return *this;
  }
  std::string text_;
};
bool read_file(const std::string& path, std::string* out);   // the whole file; false with errno set
std::string proc_path(pid_t pid, const char* file);          // "/proc/PID/file"
// n bytes of process `pid`'s memory at `addr` (process_vm_readv): false where unreadable.
bool read_remote(pid_t pid, uint64_t addr, void* dst, size_t len);

// ---- the /proc files every poll reads ---------------------------------------------------------------------------

// The /proc files every poll reads, kept open and read with pread at offset 0 (a seq_file regenerates its text):
// one system call per file and poll instead of a path lookup, an open, two reads and a close.
class ProcFiles {
 public:
  enum Kind { stat, syscall_line, children };

  ProcFiles() = default;
  ProcFiles(const ProcFiles&) = delete;
  ProcFiles& operator=(const ProcFiles&) = delete;
  ~ProcFiles();

  // /proc/<pid>/stat, /proc/<pid>/syscall or /proc/<pid>/task/<tid>/children into *out; false with errno set.
  bool read(pid_t pid, Kind kind, pid_t tid, std::string* out);

  // Closes the files of the processes not in `present`.
  void keep_only(const std::set<pid_t>& present);

 private:
  static constexpr size_t max_open = 512;  // beyond: open, read, close each time
  static constexpr size_t buffer_size = 64 * 1024;  // a children list of 9000 pids
  std::map<std::tuple<pid_t, Kind, pid_t>, int> fds_;
  std::unique_ptr<char[]> buffer_ = std::make_unique<char[]>(buffer_size);
};

}  // namespace fh::watchdog
