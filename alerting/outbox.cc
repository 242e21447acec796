#include "alerting/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <exception>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "alerting/payloads.h"
#include "core/durable_file.h"
#include "core/log.h"

namespace pgwarden {

std::string OutboxEntry::DeliveryId() const {
  return absl::StrCat(id, "-", absl::ToUnixNanos(enqueued));
}

namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

std::string PutLine(const OutboxEntry& e) {
  nlohmann::json j = {
      {"id", e.id},
      {"sink", e.sink},
      {"enqueued", absl::FormatTime(absl::RFC3339_full, e.enqueued, absl::UTCTimeZone())},
      {"alert", AlertToJson(e.alert)}};
  return absl::StrCat("P ", DumpJson(j), "\n");
}

bool ParsePut(absl::string_view json_text, OutboxEntry* e, std::string* error) {
  try {
    nlohmann::json j = nlohmann::json::parse(json_text);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_number_unsigned() ||
        !j.contains("sink") || !j["sink"].is_string() || !j.contains("alert")) {
      *error = "missing id, sink or alert";
      return false;
    }
    e->id = j["id"].get<uint64_t>();
    e->sink = j["sink"].get<std::string>();
    std::string enq = j.value("enqueued", "");
    std::string perr;
    if (!absl::ParseTime(absl::RFC3339_full, enq, &e->enqueued, &perr)) {
      *error = absl::StrCat("bad enqueued time: ", perr);
      return false;
    }
    return AlertFromJson(j["alert"], &e->alert, error);
  } catch (const std::exception& ex) {
    *error = ex.what();
    return false;
  }
}

// ReadFd reads `fd` to its end.
absl::StatusOr<std::string> ReadFd(int fd, const std::string& path) {
  std::string content;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read", path);
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
  }
  return content;
}

// Records are the live entries of an outbox file.
struct Records {
  std::map<uint64_t, OutboxEntry> entries;
  // lines maps id -> its "P ..." line (with '\n').
  std::map<uint64_t, std::string> lines;
  uint64_t max_id = 0;
  // skipped counts torn, unreadable and unknown lines.
  size_t skipped = 0;
};

// ApplyRecord applies one complete line (without its '\n'); false if it was
// skipped (logged).
bool ApplyRecord(absl::string_view line, const std::string& path, size_t line_no, Records* r) {
  if (line.size() > 2 && line.substr(0, 2) == "P ") {
    OutboxEntry e;
    std::string error;
    if (!ParsePut(line.substr(2), &e, &error)) {
      PGW_LOG(Warning) << "outbox " << path << ":" << line_no
                       << ": unreadable entry skipped: " << error;
      return false;
    }
    r->max_id = std::max(r->max_id, e.id);
    r->lines[e.id] = absl::StrCat(line, "\n");
    r->entries[e.id] = std::move(e);
  } else if (line.size() > 2 && line.substr(0, 2) == "D ") {
    uint64_t id = 0;
    if (!absl::SimpleAtoi(line.substr(2), &id)) {
      PGW_LOG(Warning) << "outbox " << path << ":" << line_no << ": bad tombstone skipped";
      return false;
    }
    r->max_id = std::max(r->max_id, id);
    r->entries.erase(id);
    r->lines.erase(id);
  } else if (!line.empty()) {
    PGW_LOG(Warning) << "outbox " << path << ":" << line_no << ": unknown record skipped";
    return false;
  }
  return true;
}

// ParseRecords replays the records of `content`; a last line without its
// '\n' is a torn write and ignored.
Records ParseRecords(const std::string& content, const std::string& path) {
  Records r;
  size_t line_no = 0;
  size_t start = 0;
  while (start < content.size()) {
    size_t nl = content.find('\n', start);
    ++line_no;
    if (nl == std::string::npos) {
      PGW_LOG(Warning) << "outbox " << path << ": ignoring incomplete last line " << line_no << " ("
                       << content.size() - start << " bytes, torn write)";
      ++r.skipped;
      break;
    }
    absl::string_view line(content.data() + start, nl - start);
    start = nl + 1;
    if (!ApplyRecord(line, path, line_no, &r)) ++r.skipped;
  }
  return r;
}

}  // namespace

Outbox::Outbox(std::string path, int fd, uint64_t next_id, std::map<uint64_t, std::string> live)
    : path_(std::move(path)), fd_(fd), next_id_(next_id), live_(std::move(live)) {}

Outbox::~Outbox() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

absl::StatusOr<std::unique_ptr<Outbox>> Outbox::Open(const std::string& path,
                                                     std::vector<OutboxEntry>* pending) {
  const std::string lock_path = path + ".lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Errno("open", lock_path);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return absl::FailedPreconditionError(
        absl::StrCat("outbox ", path, " is in use by another process (", lock_path, " locked)"));
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    absl::Status s = Errno("open", path);
    ::close(lock_fd);
    return s;
  }
  absl::StatusOr<std::string> content = ReadFd(fd, path);
  if (!content.ok()) {
    ::close(fd);
    ::close(lock_fd);
    return content.status();
  }

  Records records = ParseRecords(*content, path);
  pending->clear();
  for (auto& [id, e] : records.entries) pending->push_back(std::move(e));
  std::unique_ptr<Outbox> box(new Outbox(path, fd, records.max_id + 1, std::move(records.lines)));
  box->lock_fd_ = lock_fd;
  if (!pending->empty() || records.skipped > 0) {
    PGW_LOG(Info) << "outbox " << path << ": " << pending->size()
                  << " pending alert deliveries from an earlier run re-queued";
  }
  absl::MutexLock lock(&box->mu_);
  if (!content->empty()) {
    absl::Status s = box->CompactLocked();
    if (!s.ok()) return s;
  }
  return box;
}

absl::Status Outbox::WriteLocked(const std::string& data) {
  return AppendDurably(fd_, data, path_);
}

absl::Status Outbox::Append(std::vector<OutboxEntry>* entries) {
  absl::MutexLock lock(&mu_);
  std::string data;
  for (OutboxEntry& e : *entries) {
    e.id = next_id_++;
    std::string line = PutLine(e);
    data.append(line);
    live_[e.id] = std::move(line);
  }
  return WriteLocked(data);
}

absl::Status Outbox::MarkDone(uint64_t id) {
  absl::MutexLock lock(&mu_);
  if (live_.erase(id) == 0) return absl::OkStatus();
  absl::Status s = WriteLocked(absl::StrCat("D ", id, "\n"));
  if (!s.ok()) return s;
  ++tombstones_;
  if (tombstones_ > 1024 && tombstones_ > live_.size()) return CompactLocked();
  return absl::OkStatus();
}

size_t Outbox::live() const {
  absl::MutexLock lock(&mu_);
  return live_.size();
}

absl::Status Outbox::CompactLocked() {
  std::string data;
  for (const auto& [id, line] : live_) data.append(line);
  absl::Status s = WriteFileDurably(path_, data, 0600);
  if (!s.ok()) return s;
  int nfd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC, 0600);
  if (nfd < 0) return Errno("reopen", path_);
  ::close(fd_);
  fd_ = nfd;
  tombstones_ = 0;
  return absl::OkStatus();
}

}  // namespace pgwarden
