#ifndef PGWARDEN_CORE_PROCESS_H_
#define PGWARDEN_CORE_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pgwarden {

// ProcessOptions describes a child process to start.
struct ProcessOptions {
  std::vector<std::string> argv;
  // env holds extra NAME=VALUE entries added to the inherited environment.
  std::vector<std::string> env;
  // stdout_path / stderr_path, when set, receive the child's output (appended).
  std::string stdout_path;
  std::string stderr_path;
  // run_as_user, when set and we are root, drops to that user in the child.
  std::string run_as_user;
  std::string cwd;
};

// SpawnProcess starts a child and returns its pid.
absl::StatusOr<pid_t> SpawnProcess(const ProcessOptions& options);

// WaitProcess waits at most `timeout` for `pid` to exit and returns its exit
// code (128+signal when killed); DeadlineExceeded if it is still running.
absl::StatusOr<int> WaitProcess(pid_t pid, absl::Duration timeout);

// StopProcess sends SIGTERM, waits up to `grace`, then SIGKILL, and reaps.
void StopProcess(pid_t pid, absl::Duration grace);

// RunCommand runs a child to completion within `timeout`, capturing its
// combined output into *output (if not null). Returns the exit code.
absl::StatusOr<int> RunCommand(const ProcessOptions& options, absl::Duration timeout,
                               std::string* output);

// FreeTcpPort binds port 0 on 127.0.0.1, reads the port back and releases it.
absl::StatusOr<int> FreeTcpPort();

// ChownToUser changes the owner of `path` to `user` (no-op if not root).
absl::Status ChownToUser(const std::string& path, const std::string& user);

}  // namespace pgwarden

#endif  // PGWARDEN_CORE_PROCESS_H_
