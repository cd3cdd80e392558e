// `forkhazard run` mechanics: where the shim is, whether the command can be watched, preload, wait and reap.
#include "report/launch.h"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "report/watchdog.h"

namespace fh {

namespace {

bool is_regular_file(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string absolute(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? resolved : path;
}

std::string self_dir() {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return {};
  std::string path(exe, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

// Whether the ELF file has a PT_INTERP header, i.e. is started by the dynamic loader that honours LD_PRELOAD.
// Non-ELF files (scripts run through their #! interpreter) and unreadable ones count as dynamic: no warning
// without evidence.
template <typename Ehdr, typename Phdr>
bool has_interp(int fd) {
  Ehdr eh;
  if (pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh) || eh.e_phentsize != sizeof(Phdr))
    return true;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Phdr ph;
    if (pread(fd, &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof ph)) != static_cast<ssize_t>(sizeof ph))
      return true;
    if (ph.p_type == PT_INTERP) return true;
  }
  return false;
}

bool is_dynamically_linked(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  unsigned char ident[EI_NIDENT];
  bool dynamic = true;
  if (pread(fd, ident, sizeof ident, 0) == EI_NIDENT && std::memcmp(ident, ELFMAG, SELFMAG) == 0) {
    if (ident[EI_CLASS] == ELFCLASS64) dynamic = has_interp<Elf64_Ehdr, Elf64_Phdr>(fd);
    if (ident[EI_CLASS] == ELFCLASS32) dynamic = has_interp<Elf32_Ehdr, Elf32_Phdr>(fd);
  }
  close(fd);
  return dynamic;
}

}  // namespace

std::string find_shim_library(std::string* error) {
  std::vector<std::string> candidates;
  const char* from_env = std::getenv("FORKHAZARD_LIB");
  if (from_env != nullptr && *from_env != '\0') {
    candidates.push_back(from_env);
  } else {
    std::string dir = self_dir();
    candidates.push_back(dir + "/libforkhazard.so");
    candidates.push_back(dir + "/../lib/forkhazard/libforkhazard.so");
  }
  for (const std::string& candidate : candidates) {
    if (!is_regular_file(candidate)) continue;
    std::string path = absolute(candidate);
    // ld.so splits LD_PRELOAD at spaces and colons (ld.so(8)): such a path cannot be preloaded.
    if (path.find_first_of(" :") != std::string::npos) {
      *error = "forkhazard: " + path + ": LD_PRELOAD cannot hold a path with a space or ':'; set FORKHAZARD_LIB "
               "to a copy elsewhere";
      return {};
    }
    return path;
  }
  std::string looked;
  for (const std::string& candidate : candidates) looked += (looked.empty() ? "" : ", ") + candidate;
  *error = "forkhazard: cannot find libforkhazard.so (looked in " + looked + "); set FORKHAZARD_LIB";
  return {};
}

std::string resolve_command(const std::string& command, std::string* error) {
  auto check = [](const std::string& path) -> int {  // 0, or the errno execve would give
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return errno;
    if (S_ISDIR(st.st_mode)) return EISDIR;
    if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) return EACCES;
    return 0;
  };
  int failure = ENOENT;
  if (command.find('/') != std::string::npos) {
    failure = check(command);
    if (failure == 0) return command;
  } else if (!command.empty()) {
    // execvp(3): PATH entries in order, an empty one meaning the current directory; without PATH, glibc
    // searches "/bin:/usr/bin". A non-executable match is skipped, but reported if nothing else is found.
    const char* env = std::getenv("PATH");
    std::string path = env != nullptr ? env : "/bin:/usr/bin";
    size_t pos = 0;
    while (pos <= path.size()) {
      size_t colon = std::min(path.find(':', pos), path.size());
      std::string dir = path.substr(pos, colon - pos);
      pos = colon + 1;
      std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
      int result = check(candidate);
      if (result == 0) return candidate;
      if (result == EACCES || result == EISDIR) failure = EACCES;
    }
  }
  if (failure == ENOENT && command.find('/') == std::string::npos)
    *error = "forkhazard: " + command + ": command not found";
  else
    *error = "forkhazard: " + command + ": " + std::strerror(failure);
  return {};
}

std::string unwatchable_warning(const std::string& path, const std::string& shown) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return {};
  // The loader runs in secure mode (AT_SECURE, ld.so(8)) when exec changes the effective ids or grants
  // capabilities, i.e. when the file owner differs from our real id; it then ignores LD_PRELOAD paths with a slash.
  const char* why = nullptr;
  if ((st.st_mode & S_ISUID) && st.st_uid != getuid()) {
    why = "setuid";
  } else if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP) && st.st_gid != getgid()) {
    why = "setgid";
  } else if (getxattr(path.c_str(), "security.capability", nullptr, 0) > 0) {
    why = "granted file capabilities";
  } else if (!is_dynamically_linked(path)) {
    why = "statically linked";
  }
  if (why == nullptr) return {};
  return "forkhazard: " + shown + " is " + why + ": it cannot be watched (LD_PRELOAD has no effect)";
}

std::string make_private_dir(std::string* error) {
  // TMPDIR if usable: the path goes into FORKHAZARD_OPTIONS, whose items are separated by ':', and the shim
  // keeps at most 255 bytes of log_path.
  const char* tmpdir = std::getenv("TMPDIR");
  std::string base = "/tmp";
  if (tmpdir != nullptr && tmpdir[0] == '/' && std::strchr(tmpdir, ':') == nullptr && std::strlen(tmpdir) < 200)
    base = tmpdir;
  std::string path = base + "/forkhazard.XXXXXX";
  if (mkdtemp(path.data()) == nullptr) {
    *error = "forkhazard: cannot create a temporary directory in " + base + ": " + std::strerror(errno);
    return {};
  }
  return path;
}

void remove_private_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

int shell_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

namespace {

// Reaps every child that has ended; `command` is ours to report. Returns false once no child is left (ECHILD).
bool reap_children(pid_t command, WatchedRun* run, bool* command_done) {
  while (true) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      if (pid == command) {
        run->wait_status = status;
        *command_done = true;
      }
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    return pid == 0;  // 0: children left, none ended; -1 (ECHILD): nobody left
  }
}

}  // namespace

WatchedRun run_watched(const std::vector<std::string>& argv, const std::string& shim, const std::string& dir,
                       watchdog::Watchdog* watchdog, int linger_ms) {
  WatchedRun run;
  // Environment for the command, computed before fork.
  const char* old_preload = std::getenv("LD_PRELOAD");
  std::string preload = shim;
  if (old_preload != nullptr && *old_preload != '\0') preload += std::string(":") + old_preload;
  const char* old_options = std::getenv("FORKHAZARD_OPTIONS");
  std::string options = old_options != nullptr && *old_options != '\0' ? std::string(old_options) + ":" : "";
  options += "log_path=" + dir + "/fh";  // last, so it wins over a log_path the user set
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  // Orphaned descendants (daemons, a child whose parent exited) are re-parented to us and can be reaped.
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  // Ignore before fork so no signal can slip in between; the child restores what we inherited.
  struct sigaction ignore {}, old_int {}, old_quit {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  // SIGCHLD blocked (and not ignored, which would reap for us) from before fork: sigtimedwait then wakes us for
  // every end of a child however short the poll interval. The child gets both back before exec.
  struct sigaction default_action {}, old_chld {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigaction(SIGCHLD, &default_action, &old_chld);
  sigset_t chld, old_mask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old_mask);

  pid_t child = fork();
  if (child == 0) {
    // The CLI is single-threaded, so setenv (which allocates) is safe here.
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
    sigaction(SIGCHLD, &old_chld, nullptr);
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    setenv("LD_PRELOAD", preload.c_str(), 1);
    setenv("FORKHAZARD_OPTIONS", options.c_str(), 1);
    execvp(args[0], args.data());
    int err = errno;
    std::string message = "forkhazard: " + argv[0] + ": " + std::strerror(err) + "\n";
    ssize_t ignored = write(STDERR_FILENO, message.data(), message.size());
    (void)ignored;
    _exit(127);
  }
  if (child < 0) {
    run.error = std::string("forkhazard: cannot fork: ") + std::strerror(errno);
  } else {
    using clock = std::chrono::steady_clock;
    const auto interval = std::chrono::milliseconds(watchdog != nullptr ? watchdog->poll_ms() : 1000);
    auto next_poll = clock::now() + interval;
    // Waits for a child's end until `until` at the latest, polling the watchdog when its time comes.
    auto wait_until = [&](clock::time_point until) {
      auto now = clock::now();
      if (now >= next_poll) {
        if (watchdog != nullptr) watchdog->poll();
        now = clock::now();
        next_poll = now + interval;
      }
      auto wake = std::min(until, next_poll);
      if (wake <= now) return;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wake - now).count();
      timespec timeout{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      sigtimedwait(&chld, nullptr, &timeout);  // SIGCHLD, a timeout or EINTR: all mean "look again"
    };
    // Reap everything that comes back to us until the command itself ends.
    bool command_done = false;
    while (reap_children(child, &run, &command_done) && !command_done) wait_until(clock::time_point::max());
    // Then give the rest a moment to finish writing their reports (e.g. a deadlocked child the shim ends, or one
    // the watchdog judges).
    auto deadline = clock::now() + std::chrono::milliseconds(linger_ms);
    while (reap_children(child, &run, &command_done)) {
      if (clock::now() >= deadline) {
        run.descendants_left = true;
        break;
      }
      wait_until(deadline);
    }
  }
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGCHLD, &old_chld, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  return run;
}

}  // namespace fh
