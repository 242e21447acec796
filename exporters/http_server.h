#ifndef PGWARDEN_EXPORTERS_HTTP_SERVER_H_
#define PGWARDEN_EXPORTERS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "exporters/exposition.h"

namespace httplib {
class Server;
}

namespace pgwarden {

// HttpServerHandlers supply the dynamic pages. Each must be cheap and must
// never wait on a database: they read state the agent keeps in memory.
struct HttpServerHandlers {
  // status_json returns the status document served at /status (and rendered
  // at /).
  std::function<std::string()> status_json;
  // healthy reports whether the agent's own loops are alive (/healthz).
  std::function<bool()> healthy;
};

// HttpServer serves /metrics (the Exposition, gzip-compressed when the
// scraper accepts it), /healthz and the status page on one listen address.
class HttpServer {
 public:
  HttpServer(std::shared_ptr<Exposition> exposition, HttpServerHandlers handlers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Start binds `listen` ("host:port", "host" alone uses port 9331, port 0
  // picks a free port) and serves on a background thread.
  absl::Status Start(const std::string& listen);
  // port is the bound port (after Start).
  int port() const { return port_; }
  void Stop();

 private:
  std::shared_ptr<Exposition> exposition_;
  HttpServerHandlers handlers_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// AcceptsGzip reads an Accept-Encoding header: gzip listed, not with q=0.
bool AcceptsGzip(absl::string_view accept_encoding);

// SplitHostPort parses "host:port", "[v6]:port" or "host" (default port).
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& listen,
                                                          int default_port);

}  // namespace pgwarden

#endif  // PGWARDEN_EXPORTERS_HTTP_SERVER_H_
