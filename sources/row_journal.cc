#include "sources/row_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/durable_file.h"
#include "nlohmann/json.hpp"

namespace pgwarden {
namespace {

constexpr char kPrefix[] = "journal-";
constexpr char kSuffix[] = ".jsonl";

nlohmann::json RowJson(const JournalRow& row) {
  nlohmann::json cols = nlohmann::json::array();
  for (const DecodedColumn& c : row.columns) {
    nlohmann::json v = c.value ? nlohmann::json(*c.value) : nlohmann::json(nullptr);
    cols.push_back({c.name, c.type, v, c.unchanged_toast});
  }
  return {{"row", row.xid},
          {"lsn", row.lsn},
          {"schema", row.schema},
          {"table", row.table},
          {"columns", cols}};
}

bool RowFrom(const nlohmann::json& j, JournalRow* row) {
  try {
    row->xid = j.at("row").get<uint32_t>();
    row->lsn = j.at("lsn").get<uint64_t>();
    row->schema = j.at("schema").get<std::string>();
    row->table = j.at("table").get<std::string>();
    for (const nlohmann::json& c : j.at("columns")) {
      DecodedColumn col;
      col.name = c.at(0).get<std::string>();
      col.type = c.at(1).get<std::string>();
      if (!c.at(2).is_null()) col.value = c.at(2).get<std::string>();
      col.unchanged_toast = c.at(3).get<bool>();
      row->columns.push_back(std::move(col));
    }
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

std::vector<std::string> SegmentPaths(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (absl::StartsWith(name, kPrefix) && absl::EndsWith(name, kSuffix)) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

RowJournal::~RowJournal() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status RowJournal::Open() {
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("journal ", options_.dir, ": ", ec.message()));
  ::chmod(options_.dir.c_str(), 0700);
  for (const std::string& path : SegmentPaths(options_.dir)) {
    Segment& s = segments_[path];
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      s.bytes += line.size() + 1;
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("row")) ++s.rows;
      if (j.is_object() && j.contains("commit_unix_us")) {
        s.newest = std::max(s.newest, absl::FromUnixMicros(j.value("commit_unix_us", int64_t{0})));
      }
    }
    uint64_t seq = 0;
    const std::string name = std::filesystem::path(path).filename().string();
    if (absl::SimpleAtoi(name.substr(sizeof(kPrefix) - 1, 16), &seq)) {
      sequence_ = std::max(sequence_, seq + 1);
    }
  }
  return absl::OkStatus();
}

absl::Status RowJournal::Rotate() {
  if (fd_ >= 0) ::close(fd_);
  current_ =
      absl::StrCat(options_.dir, "/", kPrefix, absl::StrFormat("%016d", sequence_++), kSuffix);
  fd_ = ::open(current_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open journal segment ", current_));
  }
  segments_[current_];
  return SyncDirectoryOf(current_);
}

absl::Status RowJournal::Write(const std::string& line) {
  if (fd_ < 0 || segments_[current_].bytes >= options_.segment_bytes) {
    if (absl::Status s = Rotate(); !s.ok()) return s;
  }
  const std::string data = line + "\n";
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("journal write ", current_));
    done += static_cast<size_t>(n);
  }
  segments_[current_].bytes += data.size();
  return absl::OkStatus();
}

absl::Status RowJournal::AddRow(const JournalRow& row) {
  if (absl::Status s = Write(RowJson(row).dump()); !s.ok()) return s;
  ++segments_[current_].rows;
  return absl::OkStatus();
}

absl::Status RowJournal::Commit(const JournalCommit& commit, absl::Time now) {
  const nlohmann::json j = {{"commit", commit.xid},
                            {"commit_lsn", commit.commit_lsn},
                            {"commit_unix_us", absl::ToUnixMicros(commit.commit_time)}};
  if (absl::Status s = Write(j.dump()); !s.ok()) return s;
  segments_[current_].newest = std::max(segments_[current_].newest, commit.commit_time);
  if (absl::Status s = AppendDurably(fd_, "", current_); !s.ok()) return s;
  Enforce(now);
  return absl::OkStatus();
}

uint64_t RowJournal::bytes() const {
  uint64_t total = 0;
  for (const auto& [path, s] : segments_) total += s.bytes;
  return total;
}

void RowJournal::Enforce(absl::Time now) {
  while (segments_.size() > 1) {
    auto oldest = segments_.begin();
    const bool too_big = bytes() > options_.max_bytes;
    const bool too_old = oldest->second.newest < now - options_.max_age;
    if (!too_big && !too_old) break;
    if (oldest->first == current_) break;
    dropped_ += oldest->second.rows;
    ::unlink(oldest->first.c_str());
    segments_.erase(oldest);
  }
}

absl::StatusOr<std::vector<JournalRow>> RowJournal::Read(const std::string& dir,
                                                         const std::set<std::string>& tables,
                                                         uint64_t from_lsn, uint64_t to_lsn,
                                                         absl::Time until) {
  std::map<uint32_t, std::vector<JournalRow>> pending;  // by xid, until its commit
  std::map<uint64_t, JournalRow> rows;                  // by change lsn
  for (const std::string& path : SegmentPaths(dir)) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;  // a torn last line after a crash
      if (j.contains("row")) {
        JournalRow row;
        if (!RowFrom(j, &row)) continue;
        if (tables.count(absl::StrCat(row.schema, ".", row.table)) == 0) continue;
        pending[row.xid].push_back(std::move(row));
      } else if (j.contains("commit")) {
        const uint32_t xid = j.value("commit", uint32_t{0});
        const uint64_t lsn = j.value("commit_lsn", uint64_t{0});
        const absl::Time at = absl::FromUnixMicros(j.value("commit_unix_us", int64_t{0}));
        auto it = pending.find(xid);
        if (it == pending.end()) continue;
        if (lsn >= from_lsn && lsn <= to_lsn && at <= until) {
          for (JournalRow& r : it->second) rows.emplace(r.lsn, std::move(r));
        }
        pending.erase(it);
      }
    }
  }
  std::vector<JournalRow> out;
  out.reserve(rows.size());
  for (auto& [lsn, r] : rows) out.push_back(std::move(r));
  return out;
}

}  // namespace pgwarden
