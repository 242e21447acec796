#include "cmd/cli.h"

#include <malloc.h>
#include <signal.h>

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/agent.h"
#include "agent/config.h"
#include "core/log.h"
#include "detectors/replay.h"
#include "exporters/http_server.h"
#include "exporters/web_config.h"

namespace pgwarden {

std::string ParsedArgs::Get(const std::string& name, const std::string& def) const {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return def;
  return it->second.back();
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::set<std::string>& value_flags,
                                     const std::set<std::string>& bool_flags,
                                     size_t max_positional) {
  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out.flags["help"].push_back("");
      continue;
    }
    if (!absl::StartsWith(a, "--")) {
      if (out.positional.size() >= max_positional) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", a, "\""));
      }
      out.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (bool_flags.count(name)) {
      if (has_value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      out.flags[name].push_back("true");
      continue;
    }
    if (!value_flags.count(name)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    out.flags[name].push_back(value);
  }
  return out;
}

namespace {

// RunSignals are the signals `run` waits for: SIGINT and SIGTERM stop it,
// SIGHUP reloads the config.
sigset_t RunSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

absl::StatusOr<AgentConfig> LoadConfigFlag(const ParsedArgs& args) {
  if (!args.Has("config")) return absl::InvalidArgumentError("--config FILE is required");
  return LoadConfig(args.Get("config"));
}

int RunCommand(const ParsedArgs& args) {
  LogFormat format = LogFormat::kText;
  if (args.Has("log.format") && !ParseLogFormat(args.Get("log.format"), &format)) {
    std::cerr << "pgwarden run: --log.format: expected text, logfmt or json\n";
    return kExitUsage;
  }
  absl::StatusOr<AgentConfig> cfg = LoadConfigFlag(args);
  if (!cfg.ok()) {
    std::cerr << "pgwarden run: " << cfg.status().message() << "\n";
    return kExitUsage;
  }
  ParseLogFormat(args.Get("log.format", cfg->log_format), &format);
  SetLogFormat(format);
  cfg->web_config_file = args.Get("web.config.file", cfg->web_config_file);
  if (!cfg->web_config_file.empty()) {
    if (absl::StatusOr<WebConfig> web = LoadWebConfig(cfg->web_config_file); !web.ok()) {
      std::cerr << "pgwarden run: " << web.status().message() << "\n";
      return kExitUsage;
    }
  }
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(args.Get("log-level", cfg->log_level), &level);
  SetLogLevel(level);
  // Block the stop and reload signals before any thread starts, so only sigwait below
  // receives them.
  sigset_t signals = RunSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Two malloc arenas, not eight per core: the agent's threads (one per
  // watched database, the HTTP workers, the sinks) allocate little each, and
  // every extra arena keeps its own free memory resident.
  mallopt(M_ARENA_MAX, 2);
  // Held HTTP connections, database sessions and files share one limit.
  const int files = RaiseOpenFileLimit();
  if (files > 0 && files < cfg->web.max_connections + 256) {
    PGW_LOG(Warning) << "open-file limit " << files << " is below web.max_connections "
                     << cfg->web.max_connections
                     << " + 256: raise LimitNOFILE or lower web.max_connections";
  }

  absl::StatusOr<std::unique_ptr<Agent>> agent = Agent::Create(*cfg, RealClock::Get());
  if (!agent.ok()) {
    PGW_LOG(Error) << "pgwarden run: " << agent.status().message();
    return absl::IsInvalidArgument(agent.status()) ? kExitUsage : kExitFailure;
  }
  if (absl::Status s = (*agent)->Start(); !s.ok()) {
    PGW_LOG(Error) << "pgwarden run: " << s.message();
    return kExitFailure;
  }
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    PGW_LOG(Info) << "received SIGHUP, reloading " << cfg->path;
    (*agent)->Reload().IgnoreError();  // logged and counted by Reload
  }
  PGW_LOG(Info) << "received " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping";
  (*agent)->Stop();
  PGW_LOG(Info) << "stopped";
  return kExitOk;
}

int ReplayCommand(const ParsedArgs& args) {
  ReplayOptions opts;
  opts.detector = args.Get("detector", kDefaultDetector);
  opts.input = args.Get("input");
  opts.output = args.Get("output", "-");
  if (opts.input.empty()) {
    std::cerr << "pgwarden replay: --input FILE.csv is required\n";
    return kExitUsage;
  }
  if (auto it = args.flags.find("set"); it != args.flags.end()) {
    for (const std::string& kv : it->second) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "pgwarden replay: --set expects KEY=VALUE, got \"" << kv << "\"\n";
        return kExitUsage;
      }
      opts.params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  absl::Status s = Replay(opts);
  if (!s.ok()) {
    std::cerr << "pgwarden replay: " << s.message() << "\n";
    return absl::IsInvalidArgument(s) || absl::IsNotFound(s) ? kExitUsage : kExitFailure;
  }
  return kExitOk;
}

}  // namespace pgwarden
