// pgwarden: watches PostgreSQL for sudden row loss and error storms, pages
// on-call and, where allowed, stops the offending role.

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cmd/cli.h"
#include "core/version.h"

namespace {

constexpr char kUsage[] = R"(pgwarden - watches PostgreSQL for sudden row loss and error storms

Usage:
  pgwarden run    --config FILE          run the agent (foreground; SIGTERM/SIGINT stop it)
                  [--log-level debug|info|warning|error] [--log.format text|logfmt|json]
  pgwarden check  --config FILE          validate the config, connect, report missing privileges
  pgwarden replay --detector NAME [--set KEY=VALUE ...] --input FILE.csv [--output FILE.csv]
                                         run one detector over a recorded series, offline
  pgwarden undo   ID --config FILE       undo remediation action ID from the audit file
  pgwarden recovery ID --config FILE     print the point-in-time restore settings of incident ID
  pgwarden restore ID --config FILE [--dry-run]
                                         re-insert the rows incident ID deleted (row journal)
  pgwarden slot drop --config FILE [--target NAME] [--dry-run]
                                         remove the change stream's replication slot (audited)
  pgwarden demo   [--duration 90s]       throwaway PostgreSQL + workload + the incident, live
  pgwarden --version | --help

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad config.
)";

int Usage(const std::string& error) {
  std::cerr << "pgwarden: " << error << "\n\n" << kUsage;
  return pgwarden::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage("no command given");
  const std::string cmd = args[0];
  if (cmd == "--version" || cmd == "version") {
    std::cout << "pgwarden " << kPgwardenVersion << "\n";
    return pgwarden::kExitOk;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kUsage;
    return pgwarden::kExitOk;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  struct Spec {
    std::set<std::string> value_flags;
    std::set<std::string> bool_flags;
    size_t positional;
    int (*fn)(const pgwarden::ParsedArgs&);
  };
  const std::map<std::string, Spec> commands = {
      {"run",
       {{"config", "log-level", "log.format", "web.config.file"}, {}, 0, pgwarden::RunCommand}},
      {"check", {{"config"}, {}, 0, pgwarden::CheckCommand}},
      {"replay", {{"detector", "set", "input", "output"}, {}, 0, pgwarden::ReplayCommand}},
      {"demo", {{"duration", "listen"}, {"keep"}, 0, pgwarden::DemoCommand}},
      {"undo", {{"config"}, {}, 1, pgwarden::UndoCommand}},
      {"recovery", {{"config"}, {}, 1, pgwarden::RecoveryCommand}},
      {"restore", {{"config"}, {"dry-run"}, 1, pgwarden::RestoreCommand}},
      {"slot", {{"config", "target"}, {"dry-run"}, 1, pgwarden::SlotCommand}},
  };
  auto it = commands.find(cmd);
  if (it == commands.end()) return Usage(absl::StrCat("unknown command \"", cmd, "\""));
  absl::StatusOr<pgwarden::ParsedArgs> parsed = pgwarden::ParseArgs(
      rest, it->second.value_flags, it->second.bool_flags, it->second.positional);
  if (!parsed.ok()) return Usage(absl::StrCat(cmd, ": ", parsed.status().message()));
  if (parsed->Has("help")) {
    std::cout << kUsage;
    return pgwarden::kExitOk;
  }
  return it->second.fn(*parsed);
}
