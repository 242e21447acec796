#include "agent/discovery.h"

#include <fnmatch.h>

#include "absl/strings/str_cat.h"
#include "core/target_id.h"
#include "pg/connect.h"

namespace pgwarden {
namespace {

// StableHash is FNV-1a (the same on every run and host: it names slots).
uint32_t StableHash(absl::string_view s) {
  uint32_t h = 2166136261U;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619U;
  }
  return h;
}

bool AnyGlob(const std::vector<std::string>& globs, const std::string& name) {
  for (const std::string& g : globs) {
    if (::fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace

TargetConfig ForDatabase(const TargetConfig& server, const std::string& database) {
  TargetConfig t = server;
  t.databases.reset();
  t.database = database;
  t.name = TargetId(server.name, database);
  t.dsn = pg::WithDatabase(server.dsn, database);
  std::string slot = absl::StrCat(server.change_stream.slot, "_");
  bool lossy = false;
  for (const char c : database) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    lossy = lossy || !ok;
    slot.push_back(ok ? c : '_');
  }
  if (lossy || slot.size() > 63) {
    const std::string suffix = absl::StrCat("_", absl::Hex(StableHash(database), absl::kZeroPad8));
    slot = absl::StrCat(slot.substr(0, 63 - suffix.size()), suffix);
  }
  t.change_stream.slot = slot;
  return t;
}

std::vector<std::string> SelectDatabases(const std::vector<std::string>& names,
                                         const DatabaseSelection& selection) {
  std::vector<std::string> out;
  for (const std::string& n : names) {
    if (AnyGlob(selection.include, n) && !AnyGlob(selection.exclude, n)) out.push_back(n);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ListDatabases(pg::Session& conn,
                                                       const DatabaseSelection& selection) {
  absl::StatusOr<pg::Result> r = conn.Query(
      "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1");
  if (!r.ok()) return r.status();
  std::vector<std::string> names;
  names.reserve(r->size());
  for (const pg::Row& row : *r) names.push_back(row.Text(0));
  return SelectDatabases(names, selection);
}

absl::StatusOr<std::vector<std::string>> DiscoverDatabases(const TargetConfig& server,
                                                           const std::string& application_name) {
  pg::ConnectOptions o;
  o.application_name = application_name;
  o.connect_timeout = server.connect_timeout;
  o.statement_timeout = server.statement_timeout;
  absl::StatusOr<std::unique_ptr<pg::Session>> conn = pg::Connect(server.dsn, o);
  if (!conn.ok()) return conn.status();
  return ListDatabases(**conn, server.databases.value_or(DatabaseSelection{}));
}

std::vector<TargetConfig> ExpandTargets(const AgentConfig& config,
                                        const std::string& application_name,
                                        std::vector<std::string>* errors) {
  std::vector<TargetConfig> out;
  for (const TargetConfig& t : config.targets) {
    if (!t.databases) {
      out.push_back(t);
      continue;
    }
    absl::StatusOr<std::vector<std::string>> dbs = DiscoverDatabases(t, application_name);
    if (!dbs.ok()) {
      errors->push_back(
          absl::StrCat("target ", t.name, ": cannot list databases: ", dbs.status().message()));
      continue;
    }
    for (const std::string& db : *dbs) out.push_back(ForDatabase(t, db));
  }
  return out;
}

absl::StatusOr<TargetConfig> ResolveTarget(const AgentConfig& config, const std::string& id) {
  const size_t slash = id.find('/');
  const std::string name = id.substr(0, slash);
  for (const TargetConfig& t : config.targets) {
    if (t.name != name) continue;
    if (slash == std::string::npos) {
      if (t.databases) {
        return absl::InvalidArgumentError(
            absl::StrCat("target ", name, " watches the databases of a server: name one as ", name,
                         "/DATABASE"));
      }
      return t;
    }
    if (!t.databases) {
      return absl::InvalidArgumentError(
          absl::StrCat("target ", name, " watches one database: name it as ", name));
    }
    return ForDatabase(t, id.substr(slash + 1));
  }
  return absl::NotFoundError(absl::StrCat("no target named ", name, " in the config"));
}

}  // namespace pgwarden
