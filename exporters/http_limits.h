#ifndef PGWARDEN_EXPORTERS_HTTP_LIMITS_H_
#define PGWARDEN_EXPORTERS_HTTP_LIMITS_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pgwarden {

// HttpLimits bound what clients of the HTTP endpoint can hold (config
// section `web`). A client is one source address.
struct HttpLimits {
  // max_connections: open connections in all; more are closed at accept.
  int max_connections = 4096;
  // max_connections_per_client: open connections of one source address.
  int max_connections_per_client = 32;
  // read_header_timeout: time a connection has to send a request's headers,
  // from its accept or from the end of its previous response (a client
  // trickling one byte a second is closed when it runs out).
  absl::Duration read_header_timeout = absl::Seconds(10);
  // idle_timeout: a connection with no traffic at all for this long is
  // closed (a stalled reader of a response among them).
  absl::Duration idle_timeout = absl::Seconds(60);
};

// DropReason is why the endpoint refused or closed a connection (the
// `reason` label of pgwarden_http_connections_dropped_total).
enum class DropReason { kMaxConnections = 0, kPerClient, kHeaderTimeout };
inline constexpr int kDropReasons = 3;
const char* DropReasonName(DropReason r);

// ConnectionTable keeps the endpoint's open connections: who holds how many,
// and which have not sent their request headers in time. It does no I/O
// (the server shuts down the sockets Expired returns) and is thread-safe.
class ConnectionTable {
 public:
  explicit ConnectionTable(HttpLimits limits) : limits_(limits) {}

  // Admit is why a new connection from `client` must be refused, if so.
  std::optional<DropReason> Admit(const std::string& client) const;
  // Opened records connection `id` with socket `fd`, from `client`, at `now`.
  void Opened(const void* id, const std::string& client, int fd, absl::Time now);
  // HeadersDone: `id`'s current request has all its headers.
  void HeadersDone(const void* id);
  // ResponseDone: `id`'s response is sent; its next request's headers are
  // due within read_header_timeout of `now`.
  void ResponseDone(const void* id, absl::Time now);
  void Closed(const void* id);
  // CloseOverdue calls `shut` once for the socket of each connection whose
  // headers are overdue at `now`, and returns how many. `shut` runs under
  // the table's lock: the server reports a connection Closed before it
  // closes its socket, so `shut` never sees a socket number reused since.
  int CloseOverdue(absl::Time now, absl::FunctionRef<void(int fd)> shut);
  int open() const;

 private:
  struct Conn {
    std::string client;
    int fd = -1;
    absl::Time waiting_since;  // of the current request's headers
    bool headers_done = false;
    bool expired = false;
  };

  const HttpLimits limits_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<const void*, Conn> conns_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> per_client_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_EXPORTERS_HTTP_LIMITS_H_
