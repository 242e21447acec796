#ifndef PGWARDEN_TESTS_SUPPORT_AGENT_PROCESS_H_
#define PGWARDEN_TESTS_SUPPORT_AGENT_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pgwarden::testing {

// AgentProcess runs the real `pgwarden run --config FILE` binary as a child
// process with the given YAML, on a free metrics port, and stops it by pid.
class AgentProcess {
 public:
  // Start writes `yaml` (which must not contain `listen:`; the harness adds
  // a free port) into `dir`/pgwarden.yaml and starts the agent; returns once
  // /healthz answers (bounded by 20 s).
  static absl::StatusOr<std::unique_ptr<AgentProcess>> Start(const std::string& dir,
                                                             const std::string& yaml);
  ~AgentProcess();
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;
  // Metrics returns the /metrics text ("" if unreachable within 2 s).
  std::string Metrics() const;
  // Kill sends `signal` and reaps the process.
  void Kill(int signal);

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

// MetricSum adds up every `name{...}` sample whose labels contain all
// `labels` (0 when none does).
double MetricSum(const std::string& text, const std::string& name,
                 const std::vector<std::string>& labels = {});

// MetricValue finds `name{...}` whose label set contains every `labels`
// substring (e.g. R"(table="customers")") in Prometheus text; nullopt if none.
std::optional<double> MetricValue(const std::string& text, const std::string& name,
                                  const std::vector<std::string>& labels = {});

// WaitUntil polls `pred` every 50 ms for at most `timeout`.
bool WaitUntil(const std::function<bool()>& pred, absl::Duration timeout);

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_SUPPORT_AGENT_PROCESS_H_
