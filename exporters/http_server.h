#ifndef PGWARDEN_EXPORTERS_HTTP_SERVER_H_
#define PGWARDEN_EXPORTERS_HTTP_SERVER_H_

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "exporters/exposition.h"
#include "exporters/http_limits.h"
#include "exporters/web_security.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

struct MHD_Daemon;

namespace pgwarden {

// HttpServerHandlers supply the dynamic pages. Each must be cheap and must
// never wait on a database: they read state the agent keeps in memory.
struct HttpServerHandlers {
  // status_json returns the status document served at /status (and rendered
  // at /).
  std::function<std::string()> status_json;
  // healthy reports whether the agent's own loops are alive (/healthz).
  std::function<bool()> healthy;
  // reload, when set, serves `POST /-/reload` (200, or 500 with the error);
  // unset, that route answers 403 "lifecycle API is not enabled".
  std::function<absl::Status()> reload;
};

// HttpServer serves /metrics (the Exposition, gzip-compressed when the
// scraper accepts it), /healthz and the status page on one listen address.
// It is event-driven (GNU libmicrohttpd, epoll, two threads): an idle or
// trickling client costs a socket and a little memory, never a thread, and
// HttpLimits bound how many sockets anyone may hold and for how long.
class HttpServer {
 public:
  // `registry` (may be null) receives pgwarden_http_connections and
  // pgwarden_http_connections_dropped_total{reason}, with `const_labels`.
  HttpServer(std::shared_ptr<Exposition> exposition, HttpServerHandlers handlers,
             HttpLimits limits = {}, prometheus::Registry* registry = nullptr,
             const prometheus::Labels& const_labels = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Start binds `listen` ("host:port", "host" alone uses port 9331, port 0
  // picks a free port) and serves on background threads. A non-empty
  // `web_config_file` (the exporter-toolkit format: TLS, basic auth, extra
  // headers) is read first, an error naming the file and key, and re-read
  // when it changes.
  absl::Status Start(const std::string& listen, const std::string& web_config_file = "");
  // port is the bound port (after Start).
  int port() const { return port_; }
  void Stop();

  // The libmicrohttpd callbacks (C linkage, in http_server.cc) reach these.
  struct Callbacks;

 private:
  void SweepOverdue();
  void Dropped(DropReason r);

  std::shared_ptr<Exposition> exposition_;
  HttpServerHandlers handlers_;
  HttpLimits limits_;
  ConnectionTable table_;
  prometheus::Gauge* open_gauge_ = nullptr;
  std::array<prometheus::Counter*, kDropReasons> dropped_{};
  std::unique_ptr<WebSecurity> web_;  // null: plain HTTP, no auth
  MHD_Daemon* daemon_ = nullptr;
  std::thread sweeper_;
  absl::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  int port_ = 0;
};

// RaiseOpenFileLimit lifts the soft RLIMIT_NOFILE to the hard limit (as Go
// programs do at start), so held connections do not run the agent out of
// file descriptors; returns the soft limit now in force.
int RaiseOpenFileLimit();

// AcceptsGzip reads an Accept-Encoding header: gzip listed, not with q=0.
bool AcceptsGzip(absl::string_view accept_encoding);

// SplitHostPort parses "host:port", "[v6]:port" or "host" (default port).
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& listen,
                                                          int default_port);

}  // namespace pgwarden

#endif  // PGWARDEN_EXPORTERS_HTTP_SERVER_H_
