#include "tests/support/agent_process.h"

#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "devtools/process.h"

namespace pgwarden::testing {

bool WaitUntil(const std::function<bool()>& pred, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (pred()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<std::unique_ptr<AgentProcess>> AgentProcess::Start(const std::string& dir,
                                                                  const std::string& yaml) {
  auto p = std::unique_ptr<AgentProcess>(new AgentProcess());
  absl::StatusOr<int> port = FreeTcpPort();
  if (!port.ok()) return port.status();
  p->port_ = *port;
  const std::string config = dir + "/pgwarden.yaml";
  {
    std::ofstream out(config);
    out << "listen: 127.0.0.1:" << p->port_ << "\n" << yaml;
  }
  p->log_path_ = dir + "/pgwarden.log";
  ProcessOptions opts;
  opts.argv = {PGWARDEN_BINARY, "run", "--config", config};
  opts.stdout_path = p->log_path_;
  opts.stderr_path = p->log_path_;
  absl::StatusOr<pid_t> pid = SpawnProcess(opts);
  if (!pid.ok()) return pid.status();
  p->pid_ = *pid;
  const bool up = WaitUntil(
      [&] {
        if (WaitProcess(p->pid_, absl::ZeroDuration()).ok()) return true;  // exited
        httplib::Client cli("127.0.0.1", p->port_);
        cli.set_connection_timeout(0, 200000);
        auto res = cli.Get("/healthz");
        return res && res->status == 200;
      },
      absl::Seconds(20));
  if (!up || ::kill(p->pid_, 0) != 0) {
    const std::string log = p->Log();
    p->pid_ = -1;
    return absl::InternalError(absl::StrCat("pgwarden did not start: ", log));
  }
  return p;
}

AgentProcess::~AgentProcess() {
  if (pid_ > 0) StopProcess(pid_, absl::Seconds(10));
}

void AgentProcess::Kill(int signal) {
  if (pid_ <= 0) return;
  ::kill(pid_, signal);
  (void)WaitProcess(pid_, absl::Seconds(10));
  pid_ = -1;
}

std::string AgentProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string AgentProcess::Metrics() const {
  httplib::Client cli("127.0.0.1", port_);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(2, 0);
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) return "";
  return res->body;
}

double MetricSum(const std::string& text, const std::string& name,
                 const std::vector<std::string>& labels) {
  double total = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#' || !absl::StartsWith(line, name)) continue;
    if (line.size() <= name.size() || (line[name.size()] != '{' && line[name.size()] != ' ')) {
      continue;
    }
    bool all = true;
    for (const std::string& l : labels) all = all && absl::StrContains(line, l);
    double v = 0;
    if (all && absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) total += v;
  }
  return total;
}

std::optional<double> MetricValue(const std::string& text, const std::string& name,
                                  const std::vector<std::string>& labels) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    if (line.substr(0, name.size()) != name) continue;
    if (line.size() <= name.size() || (line[name.size()] != '{' && line[name.size()] != ' ')) {
      continue;
    }
    bool all = true;
    for (const std::string& l : labels) {
      if (!absl::StrContains(line, l)) all = false;
    }
    if (!all) continue;
    const size_t sp = line.rfind(' ');
    double v = 0;
    if (absl::SimpleAtod(line.substr(sp + 1), &v)) return v;
  }
  return std::nullopt;
}

}  // namespace pgwarden::testing
