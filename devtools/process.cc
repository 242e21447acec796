#include "devtools/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace pgwarden {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

absl::StatusOr<pid_t> SpawnProcess(const ProcessOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  uid_t uid = 0;
  gid_t gid = 0;
  bool drop = false;
  if (!options.run_as_user.empty() && ::geteuid() == 0) {
    struct passwd* pw = ::getpwnam(options.run_as_user.c_str());
    if (pw == nullptr) {
      return absl::NotFoundError(absl::StrCat("no such user: ", options.run_as_user));
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    drop = true;
  }
  // Everything the child needs is prepared before fork().
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const std::string& e : options.env) env_strings.push_back(e);
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!options.stdout_path.empty()) {
      int fd = ::open(options.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::close(fd);
      }
    }
    if (!options.stderr_path.empty()) {
      int fd = ::open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
      }
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      ::dup2(devnull, STDIN_FILENO);
      ::close(devnull);
    }
    if (drop) {
      if (::setgid(gid) != 0 || ::setgroups(0, nullptr) != 0 || ::setuid(uid) != 0) _exit(126);
    }
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) _exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    // Fall back to a PATH lookup for bare names.
    ::execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

absl::StatusOr<int> WaitProcess(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return ExitCodeOf(status);
    if (r < 0) return Errno("waitpid");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("process ", pid, " still running"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

void StopProcess(pid_t pid, absl::Duration grace) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  if (WaitProcess(pid, grace).ok()) return;
  ::kill(pid, SIGKILL);
  (void)WaitProcess(pid, absl::Seconds(10));
}

absl::StatusOr<int> RunCommand(const ProcessOptions& options, absl::Duration timeout,
                               std::string* output) {
  ProcessOptions opts = options;
  std::string out_path;
  if (output != nullptr) {
    char tmpl[] = "/tmp/pgwarden-cmd-XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd < 0) return Errno("mkstemp");
    ::close(fd);
    out_path = tmpl;
    if (!opts.run_as_user.empty()) (void)ChownToUser(out_path, opts.run_as_user);
    opts.stdout_path = out_path;
    opts.stderr_path = out_path;
  }
  absl::StatusOr<pid_t> pid = SpawnProcess(opts);
  if (!pid.ok()) return pid.status();
  absl::StatusOr<int> code = WaitProcess(*pid, timeout);
  if (!code.ok()) StopProcess(*pid, absl::Seconds(2));
  if (output != nullptr) {
    std::ifstream in(out_path);
    std::stringstream ss;
    ss << in.rdbuf();
    *output = ss.str();
    ::unlink(out_path.c_str());
  }
  return code;
}

absl::StatusOr<int> FreeTcpPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return Errno("bind");
  }
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Errno("getsockname");
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

absl::Status ChownToUser(const std::string& path, const std::string& user) {
  if (::geteuid() != 0) return absl::OkStatus();
  struct passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) return absl::NotFoundError(absl::StrCat("no such user: ", user));
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) return Errno("chown " + path);
  return absl::OkStatus();
}

}  // namespace pgwarden
