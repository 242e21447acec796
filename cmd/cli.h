#ifndef PGWARDEN_CMD_CLI_H_
#define PGWARDEN_CMD_CLI_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/config.h"
#include "pg/session.h"

namespace pgwarden {

// Exit codes of the pgwarden command (PRODUCT.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// ParsedArgs are a subcommand's flags: "--name value" or "--name=value";
// repeatable flags keep every value in order.
struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> flags;
  std::vector<std::string> positional;
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  // Get returns the last value of a flag, or `def`.
  std::string Get(const std::string& name, const std::string& def = "") const;
};

// ParseArgs parses argv[first..] accepting only `value_flags` (which take a
// value), `bool_flags` (which do not) and, if `max_positional` allows,
// positional arguments. Errors name the offending argument.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::set<std::string>& value_flags,
                                     const std::set<std::string>& bool_flags,
                                     size_t max_positional);

// LoadConfigFlag loads the file named by --config (InvalidArgument if the
// flag is missing or the file is bad).
absl::StatusOr<AgentConfig> LoadConfigFlag(const ParsedArgs& args);

// Subcommand entry points; each returns an exit code.
int RunCommand(const ParsedArgs& args);
int CheckCommand(const ParsedArgs& args);
int ReplayCommand(const ParsedArgs& args);
int DemoCommand(const ParsedArgs& args);
int UndoCommand(const ParsedArgs& args);
// RecoveryCommand prints the point-in-time restore settings of an incident.
int RecoveryCommand(const ParsedArgs& args);
// RestoreCommand re-inserts an incident's deleted rows from the row journal.
int RestoreCommand(const ParsedArgs& args);
int SlotCommand(const ParsedArgs& args);

// ReportPaths prints, for `check`, how `t` sees committed changes (the
// change stream's prerequisites and slot, the statement counters, the
// statistics); sets *ok to false on a problem that stops a configured path.
void ReportPaths(const TargetConfig& t, pg::Session& conn, bool* ok);

}  // namespace pgwarden

#endif  // PGWARDEN_CMD_CLI_H_
