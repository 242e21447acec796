#include "exporters/http_server.h"

#include <httplib.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/log.h"

namespace pgwarden {

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& listen,
                                                          int default_port) {
  std::string host = listen;
  std::string port_text;
  if (!listen.empty() && listen[0] == '[') {
    const size_t close = listen.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad listen address \"", listen, "\""));
    }
    host = listen.substr(1, close - 1);
    if (close + 1 < listen.size()) {
      if (listen[close + 1] != ':') {
        return absl::InvalidArgumentError(absl::StrCat("bad listen address \"", listen, "\""));
      }
      port_text = listen.substr(close + 2);
    }
  } else {
    const size_t colon = listen.rfind(':');
    if (colon != std::string::npos) {
      host = listen.substr(0, colon);
      port_text = listen.substr(colon + 1);
    }
  }
  int port = default_port;
  if (!port_text.empty() && (!absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in listen address \"", listen, "\""));
  }
  if (host.empty()) host = "127.0.0.1";
  return std::make_pair(host, port);
}

bool AcceptsGzip(absl::string_view accept_encoding) {
  for (absl::string_view part : absl::StrSplit(accept_encoding, ',')) {
    part = absl::StripAsciiWhitespace(part);
    const size_t semi = part.find(';');
    const absl::string_view coding = absl::StripAsciiWhitespace(part.substr(0, semi));
    if (!absl::EqualsIgnoreCase(coding, "gzip")) continue;
    // "gzip;q=0" refuses it.
    if (semi != absl::string_view::npos) {
      const absl::string_view q = absl::StripAsciiWhitespace(part.substr(semi + 1));
      if (q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000") return false;
    }
    return true;
  }
  return false;
}

HttpServer::HttpServer(std::shared_ptr<Exposition> exposition, HttpServerHandlers handlers)
    : exposition_(std::move(exposition)), handlers_(std::move(handlers)) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start(const std::string& listen) {
  absl::StatusOr<std::pair<std::string, int>> hp = SplitHostPort(listen, 9331);
  if (!hp.ok()) return hp.status();
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new httplib::ThreadPool(4); };
  server_->set_read_timeout(5, 0);
  server_->set_write_timeout(5, 0);
  auto exposition = exposition_;
  server_->Get("/metrics", [exposition](const httplib::Request& req, httplib::Response& res) {
    const bool gzip = AcceptsGzip(req.get_header_value("Accept-Encoding"));
    std::shared_ptr<const std::string> body = exposition->Text(gzip);
    if (gzip) res.set_header("Content-Encoding", "gzip");
    res.set_header("Vary", "Accept-Encoding");
    // The body is shared with the cache: served from it, not copied.
    res.set_content_provider(body->size(), "text/plain; version=0.0.4; charset=utf-8",
                             [body](size_t offset, size_t length, httplib::DataSink& sink) {
                               return sink.write(body->data() + offset,
                                                 std::min(length, body->size() - offset));
                             });
  });
  auto handlers = handlers_;
  server_->Get("/healthz", [handlers](const httplib::Request&, httplib::Response& res) {
    const bool ok = handlers.healthy ? handlers.healthy() : true;
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "unhealthy\n", "text/plain");
  });
  server_->Get("/status", [handlers](const httplib::Request&, httplib::Response& res) {
    res.set_content(handlers.status_json ? handlers.status_json() : "{}", "application/json");
  });
  server_->Get("/", [handlers](const httplib::Request&, httplib::Response& res) {
    std::string body = handlers.status_json ? handlers.status_json() : "{}";
    // The status document is JSON; escape it for a <pre> block.
    std::string escaped;
    escaped.reserve(body.size());
    for (char c : body) {
      switch (c) {
        case '<':
          escaped += "&lt;";
          break;
        case '>':
          escaped += "&gt;";
          break;
        case '&':
          escaped += "&amp;";
          break;
        default:
          escaped += c;
      }
    }
    res.set_content(absl::StrCat("<!doctype html><html><head><meta charset=\"utf-8\">"
                                 "<meta http-equiv=\"refresh\" content=\"5\">"
                                 "<title>pgwarden</title></head><body><h1>pgwarden</h1>"
                                 "<p><a href=\"/metrics\">/metrics</a> &middot; "
                                 "<a href=\"/healthz\">/healthz</a> &middot; "
                                 "<a href=\"/status\">/status</a></p><pre>",
                                 escaped, "</pre></body></html>"),
                    "text/html; charset=utf-8");
  });
  if (hp->second == 0) {
    port_ = server_->bind_to_any_port(hp->first.c_str());
    if (port_ <= 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", listen));
  } else {
    if (!server_->bind_to_port(hp->first.c_str(), hp->second)) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", listen, " (address in use or not local?)"));
    }
    port_ = hp->second;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace pgwarden
