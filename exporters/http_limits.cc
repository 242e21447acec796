#include "exporters/http_limits.h"

namespace pgwarden {

const char* DropReasonName(DropReason r) {
  switch (r) {
    case DropReason::kMaxConnections:
      return "max_connections";
    case DropReason::kPerClient:
      return "per_client";
    case DropReason::kHeaderTimeout:
      return "header_timeout";
  }
  return "unknown";
}

std::optional<DropReason> ConnectionTable::Admit(const std::string& client) const {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(conns_.size()) >= limits_.max_connections) {
    return DropReason::kMaxConnections;
  }
  auto it = per_client_.find(client);
  if (it != per_client_.end() && it->second >= limits_.max_connections_per_client) {
    return DropReason::kPerClient;
  }
  return std::nullopt;
}

void ConnectionTable::Opened(const void* id, const std::string& client, int fd, absl::Time now) {
  absl::MutexLock lock(&mu_);
  Conn& c = conns_[id];
  if (!c.client.empty()) {
    if (--per_client_[c.client] <= 0) per_client_.erase(c.client);
  }
  c = Conn{client, fd, now, false, false};
  ++per_client_[client];
}

void ConnectionTable::HeadersDone(const void* id) {
  absl::MutexLock lock(&mu_);
  auto it = conns_.find(id);
  if (it != conns_.end()) it->second.headers_done = true;
}

void ConnectionTable::ResponseDone(const void* id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  it->second.headers_done = false;
  it->second.waiting_since = now;
}

void ConnectionTable::Closed(const void* id) {
  absl::MutexLock lock(&mu_);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  auto pc = per_client_.find(it->second.client);
  if (pc != per_client_.end() && --pc->second <= 0) per_client_.erase(pc);
  conns_.erase(it);
}

int ConnectionTable::CloseOverdue(absl::Time now, absl::FunctionRef<void(int fd)> shut) {
  int n = 0;
  absl::MutexLock lock(&mu_);
  for (auto& [id, c] : conns_) {
    if (c.headers_done || c.expired || now - c.waiting_since < limits_.read_header_timeout) {
      continue;
    }
    c.expired = true;
    shut(c.fd);
    ++n;
  }
  return n;
}

int ConnectionTable::open() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(conns_.size());
}

}  // namespace pgwarden
