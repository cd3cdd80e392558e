// What /proc and a process's memory say (proc_files.h).
#include "report/proc_files.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "shim/wait_rule.h"

namespace fh::watchdog {

const long futex_syscall = SYS_futex;

bool parse_hex(std::string_view text, uint64_t* value) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value, 16);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// The whitespace-separated words of `text`.
std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\t')) ++pos;
    size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n' && text[end] != '\t') ++end;
    if (end > pos) out.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}


bool read_file(const std::string& path, std::string* out) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char chunk[4096];
  while (true) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int saved = errno;
      close(fd);
      errno = saved;
      return n == 0;
    }
    out->append(chunk, static_cast<size_t>(n));
  }
}

std::string proc_path(pid_t pid, const char* file) { return "/proc/" + std::to_string(pid) + "/" + file; }

bool read_remote(pid_t pid, uint64_t addr, void* dst, size_t len) {
  iovec local{dst, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

std::optional<SyscallLine> parse_syscall(std::string_view text) {
  std::vector<std::string_view> w = words(text);
  SyscallLine line;
  if (w.size() != 9 || !parse_dec(w[0], &line.nr) || line.nr < 0) return std::nullopt;
  for (int i = 0; i < 6; ++i)
    if (!parse_hex(w[1 + i], &line.args[i])) return std::nullopt;
  if (!parse_hex(w[7], &line.sp) || !parse_hex(w[8], &line.pc)) return std::nullopt;
  return line;
}

std::optional<ProcStat> parse_stat(std::string_view text) {
  size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::vector<std::string_view> w = words(text.substr(paren + 1));
  // After the command: state(3) ppid(4) pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice num_threads(20).
  ProcStat stat;
  if (w.size() < 18 || w[0].size() != 1 || !parse_dec(w[1], &stat.ppid) || !parse_dec(w[17], &stat.threads))
    return std::nullopt;
  stat.state = w[0][0];
  return stat;
}

std::optional<ProcStatus> parse_status(std::string_view text) {
  ProcStatus status;
  bool caught = false, blocked = false;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    std::vector<std::string_view> value = words(line.substr(colon + 1));
    if (value.size() != 1) continue;
    if (key == "Threads") parse_dec(value[0], &status.threads);
    if (key == "SigCgt") caught = parse_hex(value[0], &status.caught);
    if (key == "SigBlk") blocked = parse_hex(value[0], &status.blocked);
    if (key == "SigIgn") parse_hex(value[0], &status.ignored);
    if (key == "voluntary_ctxt_switches") parse_dec(value[0], &status.voluntary_switches);
  }
  if (status.threads < 0 || !caught || !blocked || status.voluntary_switches < 0) return std::nullopt;
  return status;
}

uint64_t parse_timer_signals(std::string_view text) {
  // Per timer: "ID: n", "signal: S/sigval", "notify: signal/pid.N" (or thread/tid.N, none/...), "ClockID: c".
  uint64_t signals = 0;
  int signal = 0;
  for (std::string_view line : [&] {
         std::vector<std::string_view> lines;
         for (size_t pos = 0; pos < text.size();) {
           size_t eol = std::min(text.find('\n', pos), text.size());
           lines.push_back(text.substr(pos, eol - pos));
           pos = eol + 1;
         }
         return lines;
       }()) {
    std::vector<std::string_view> w = words(line);
    if (w.size() != 2) continue;
    if (w[0] == "signal:") {
      signal = 0;
      parse_dec(w[1].substr(0, w[1].find('/')), &signal);
    } else if (w[0] == "notify:" && w[1].substr(0, 4) != "none" && signal >= 1 && signal <= 64) {
      signals |= signal_bit(signal);
    }
  }
  return signals;
}

std::string protocol_value(std::string_view text) {
  if (text.empty()) return "-";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x21 || c > 0x7e || c == '%' || c == ',' || c == '=' || (i == 0 && c == '-')) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string pc_list(const uint64_t* pcs, size_t n) {
  if (n == 0) return "-";
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i ? "," : "") + hex(pcs[i]);
  return out;
}



ProcFiles::~ProcFiles() {
  for (auto& [key, fd] : fds_) close(fd);
}

bool ProcFiles::read(pid_t pid, Kind kind, pid_t tid, std::string* out) {
  auto key = std::make_tuple(pid, kind, tid);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto it = fds_.find(key);
    int fd = it != fds_.end() ? it->second : -1;
    bool kept = fd >= 0;
    if (!kept) {
      std::string path = "/proc/" + std::to_string(pid) +
                         (kind == stat ? "/stat" : kind == syscall_line ? "/syscall"
                                                  : "/task/" + std::to_string(tid) + "/children");
      fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return false;
      if (fds_.size() < max_open) {
        fds_.emplace(key, fd);
        kept = true;
      }
    }
    ssize_t n;
    do n = pread(fd, buffer_.get(), buffer_size, 0);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    if (!kept) close(fd);
    if (n >= 0) {
      out->assign(buffer_.get(), static_cast<size_t>(n));
      return true;
    }
    out->clear();
    if (!kept || it == fds_.end()) {
      errno = saved;
      return false;
    }
    // A file of a process that ended (its pid may be another's now): open it afresh once.
    close(fd);
    fds_.erase(key);
  }
  return false;
}

void ProcFiles::keep_only(const std::set<pid_t>& present) {
  for (auto it = fds_.begin(); it != fds_.end();) {
    if (present.count(std::get<0>(it->first)) != 0) {
      ++it;
      continue;
    }
    close(it->second);
    it = fds_.erase(it);
  }
}

}  // namespace fh::watchdog
