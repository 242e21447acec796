#include "remediation/audit.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/durable_file.h"

namespace pgwarden {
namespace {

std::string AuditTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

bool CountsForRateLimit(const AuditRecord& r) {
  return (r.result == ActionResult::kDone || r.result == ActionResult::kDryRun) &&
         r.action != ActionKind::kUndo && !r.role.empty();
}

// Parse finds the enum value whose name is `text` among `values`.
template <typename E, size_t N>
absl::StatusOr<E> Parse(const char* field, const std::string& text, const E (&values)[N],
                        const char* (*name)(E)) {
  for (E v : values) {
    if (text == name(v)) return v;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown ", field, " \"", text, "\""));
}

constexpr RemediationMode kModes[] = {RemediationMode::kOff, RemediationMode::kDryRun,
                                      RemediationMode::kEnforce};
constexpr ActionKind kActions[] = {ActionKind::kNologin,   ActionKind::kRevokeWrites,
                                   ActionKind::kTerminate, ActionKind::kCancel,
                                   ActionKind::kUndo,      ActionKind::kCreateSlot,
                                   ActionKind::kDropSlot,  ActionKind::kRestoreRows};
constexpr ActionResult kResults[] = {ActionResult::kDone, ActionResult::kDryRun,
                                     ActionResult::kRefused, ActionResult::kFailed};

// Fd closes a file descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

absl::StatusOr<int64_t> MaxIdIn(const std::string& path) {
  absl::StatusOr<std::vector<AuditRecord>> all = AuditLog::ReadAll(path);
  if (!all.ok()) return all.status();
  int64_t max_id = 0;
  for (const AuditRecord& r : *all) max_id = std::max(max_id, r.id);
  return max_id;
}

}  // namespace

const char* ActionResultName(ActionResult result) {
  switch (result) {
    case ActionResult::kDone:
      return "done";
    case ActionResult::kDryRun:
      return "dry_run";
    case ActionResult::kRefused:
      return "refused";
    case ActionResult::kFailed:
      return "failed";
  }
  return "?";
}

nlohmann::json AuditRecord::ToJson() const {
  nlohmann::json j = {{"id", id},
                      {"time", AuditTime(time)},
                      {"incident", incident},
                      {"target", target},
                      {"mode", RemediationModeName(mode)},
                      {"action", ActionKindName(action)},
                      {"role", role},
                      {"schema", schema},
                      {"table", table},
                      {"result", ActionResultName(result)},
                      {"reason", reason},
                      {"sql", sql},
                      {"undo_sql", undo_sql}};
  if (undoes != 0) j["undoes"] = undoes;
  if (!details.empty()) j["details"] = details;
  return j;
}

absl::StatusOr<AuditRecord> AuditRecord::FromJson(const nlohmann::json& j) {
  try {
    AuditRecord r;
    r.id = j.at("id").get<int64_t>();
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, j.at("time").get<std::string>(), &r.time, &err)) {
      return absl::InvalidArgumentError(absl::StrCat("bad time: ", err));
    }
    r.incident = j.value("incident", "");
    r.target = j.value("target", "");
    absl::StatusOr<RemediationMode> mode =
        Parse("mode", j.value("mode", ""), kModes, RemediationModeName);
    if (!mode.ok()) return mode.status();
    r.mode = *mode;
    absl::StatusOr<ActionKind> action =
        Parse("action", j.value("action", ""), kActions, ActionKindName);
    if (!action.ok()) return action.status();
    r.action = *action;
    r.role = j.value("role", "");
    r.schema = j.value("schema", "");
    r.table = j.value("table", "");
    absl::StatusOr<ActionResult> result =
        Parse("result", j.value("result", ""), kResults, ActionResultName);
    if (!result.ok()) return result.status();
    r.result = *result;
    r.reason = j.value("reason", "");
    r.sql = j.value("sql", "");
    r.undo_sql = j.value("undo_sql", "");
    r.undoes = j.value("undoes", int64_t{0});
    if (j.contains("details")) r.details = j["details"];
    return r;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("bad audit record: ", e.what()));
  }
}

absl::StatusOr<std::shared_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  static absl::Mutex registry_mu(absl::kConstInit);
  static std::map<std::string, std::weak_ptr<AuditLog>>* registry =
      new std::map<std::string, std::weak_ptr<AuditLog>>();
  std::error_code ec;
  std::string key = std::filesystem::weakly_canonical(path, ec).string();
  if (ec || key.empty()) key = path;
  absl::MutexLock lock(&registry_mu);
  if (auto existing = (*registry)[key].lock()) return existing;
  auto log = std::make_shared<AuditLog>(path);
  if (absl::Status s = log->Load(); !s.ok()) return s;
  (*registry)[key] = log;
  return log;
}

absl::StatusOr<std::vector<AuditRecord>> AuditLog::ReadAll(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read audit file ", path));
  std::vector<AuditRecord> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return absl::DataLossError(absl::StrCat(path, ":", lineno, ": not a JSON line"));
    }
    absl::StatusOr<AuditRecord> r = AuditRecord::FromJson(j);
    if (!r.ok())
      return absl::DataLossError(absl::StrCat(path, ":", lineno, ": ", r.status().message()));
    out.push_back(*std::move(r));
  }
  return out;
}

absl::StatusOr<AuditRecord> AuditLog::Find(const std::string& path, int64_t id) {
  absl::StatusOr<std::vector<AuditRecord>> all = ReadAll(path);
  if (!all.ok()) return all.status();
  for (AuditRecord& r : *all) {
    if (r.id == id) return std::move(r);
  }
  return absl::NotFoundError(absl::StrCat("no action with id ", id, " in ", path));
}

absl::Status AuditLog::Load() {
  std::error_code ec;
  const std::filesystem::path p(path_);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  Fd f;
  f.fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (f.fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open audit file ", path_, ": ", std::strerror(errno)));
  }
  absl::StatusOr<std::vector<AuditRecord>> all = ReadAll(path_);
  if (!all.ok()) return all.status();
  absl::MutexLock lock(&mu_);
  for (const AuditRecord& r : *all) {
    last_id_ = std::max(last_id_, r.id);
    Remember(r);
  }
  struct stat st;
  if (::fstat(f.fd, &st) == 0) known_size_ = st.st_size;
  return absl::OkStatus();
}

void AuditLog::Remember(const AuditRecord& record) {
  if (!CountsForRateLimit(record)) return;
  acted_.push_back({record.time, record.role});
  if (acted_.size() > 1024) {
    // Only the last hour matters to the rate limiter; keep a margin.
    const absl::Time horizon = record.time - absl::Hours(2);
    acted_.erase(std::remove_if(acted_.begin(), acted_.end(),
                                [&](const Acted& a) { return a.time < horizon; }),
                 acted_.end());
  }
}

absl::Status AuditLog::Append(AuditRecord* record) {
  absl::MutexLock lock(&mu_);
  Fd f;
  f.fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (f.fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open audit file ", path_, ": ", std::strerror(errno)));
  }
  if (::flock(f.fd, LOCK_EX) != 0) {
    return absl::InternalError(absl::StrCat("cannot lock audit file ", path_));
  }
  struct stat st;
  if (::fstat(f.fd, &st) == 0 && st.st_size != known_size_) {
    // Another process appended: continue after its highest id.
    absl::StatusOr<int64_t> max_id = MaxIdIn(path_);
    if (max_id.ok()) last_id_ = std::max(last_id_, *max_id);
  }
  record->id = last_id_ + 1;
  const std::string line = record->ToJson().dump() + "\n";
  if (absl::Status s = AppendDurably(f.fd, line, path_); !s.ok()) return s;
  last_id_ = record->id;
  if (::fstat(f.fd, &st) == 0) known_size_ = st.st_size;
  Remember(*record);
  return absl::OkStatus();
}

std::set<std::string> AuditLog::RolesActedOnSince(absl::Time since) const {
  absl::MutexLock lock(&mu_);
  std::set<std::string> out;
  for (const Acted& a : acted_) {
    if (a.time >= since) out.insert(a.role);
  }
  return out;
}

}  // namespace pgwarden
