#include "exporters/http_server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "core/log.h"
#include "exporters/status_page.h"

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

namespace {

// StatusPage renders the status document at / for a browser.
std::string StatusPage(const std::string& json) {
  return RenderStatusPage(nlohmann::json::parse(json, nullptr, false));
}

void FreeBody(void* cls) { delete static_cast<std::shared_ptr<const std::string>*>(cls); }

using Headers = std::initializer_list<std::pair<const char*, const char*>>;

// Responder queues responses on one connection, each with the web config's
// extra headers (`extra`, may be null).
struct Responder {
  MHD_Connection* c;
  const HeaderList* extra;

  // Queues `body` (kept alive by the response, never copied) with `status`
  // and the headers given as name/value pairs.
  MHD_Result operator()(unsigned status, std::shared_ptr<const std::string> body, const char* type,
                        Headers headers = {}) const {
    auto* keep = new std::shared_ptr<const std::string>(std::move(body));
    MHD_Response* r = MHD_create_response_from_buffer_with_free_callback_cls(
        (*keep)->size(), const_cast<char*>((*keep)->data()), &FreeBody, keep);
    if (r == nullptr) {
      delete keep;
      return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    for (const auto& [name, value] : headers) MHD_add_response_header(r, name, value);
    if (extra != nullptr) {
      for (const auto& [name, value] : *extra) {
        MHD_add_response_header(r, name.c_str(), value.c_str());
      }
    }
    const MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
  }

  MHD_Result operator()(unsigned status, std::string body, const char* type,
                        Headers headers = {}) const {
    return (*this)(status, std::make_shared<const std::string>(std::move(body)), type, headers);
  }
};

std::string ClientAddress(const sockaddr* addr) {
  if (addr == nullptr) return "";
  char host[NI_MAXHOST] = {0};
  const socklen_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::getnameinfo(addr, len, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) != 0) return "";
  return host;
}

}  // namespace

// Callbacks are libmicrohttpd's entry points; `cls` is the HttpServer.
struct HttpServer::Callbacks {
  static MHD_Result Accept(void* cls, const sockaddr* addr, socklen_t /*len*/) {
    auto* self = static_cast<HttpServer*>(cls);
    std::optional<DropReason> refuse = self->table_.Admit(ClientAddress(addr));
    if (!refuse) return MHD_YES;
    self->Dropped(*refuse);
    return MHD_NO;
  }

  static void Notify(void* cls, MHD_Connection* c, void** socket_context,
                     MHD_ConnectionNotificationCode code) {
    auto* self = static_cast<HttpServer*>(cls);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      *socket_context = self;
      const MHD_ConnectionInfo* addr =
          MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
      const MHD_ConnectionInfo* fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
      self->table_.Opened(c, ClientAddress(addr != nullptr ? addr->client_addr : nullptr),
                          fd != nullptr ? fd->connect_fd : -1, absl::Now());
    } else {
      self->table_.Closed(c);
    }
    if (self->open_gauge_ != nullptr) self->open_gauge_->Set(self->table_.open());
  }

  static void Completed(void* cls, MHD_Connection* c, void** /*con_cls*/,
                        MHD_RequestTerminationCode /*code*/) {
    static_cast<HttpServer*>(cls)->table_.ResponseDone(c, absl::Now());
  }

  static MHD_Result Handle(void* cls, MHD_Connection* c, const char* url, const char* method,
                           const char* /*version*/, const char* /*upload*/, size_t* upload_size,
                           void** /*con_cls*/) {
    auto* self = static_cast<HttpServer*>(cls);
    self->table_.HeadersDone(c);
    WebSecurity* web = self->web_.get();
    const std::shared_ptr<const HeaderList> extra = web != nullptr ? web->headers() : nullptr;
    const Responder reply{c, extra.get()};
    if (web != nullptr && web->auth().enabled()) {
      const char* header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
      std::optional<std::pair<std::string, std::string>> cred =
          header != nullptr ? ParseBasicAuth(header) : std::nullopt;
      if (!cred || !web->auth().Check(cred->first, cred->second)) {
        return reply(MHD_HTTP_UNAUTHORIZED, "unauthorized\n", "text/plain",
                     {{MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"pgwarden\""}});
      }
    }
    const std::string path = url;
    if (path == "/-/reload") {
      // The body, if any, is not read: the answer is queued on the first call.
      *upload_size = 0;
      return Lifecycle(self->handlers_, reply, method);
    }
    const bool head = std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!head && std::strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
      return reply(MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "text/plain",
                   {{MHD_HTTP_HEADER_ALLOW, "GET, HEAD"}});
    }
    if (path == "/metrics") {
      const char* accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
      const bool gzip = accept != nullptr && AcceptsGzip(accept);
      std::shared_ptr<const std::string> text = self->exposition_->Text(gzip);
      if (gzip) {
        return reply(MHD_HTTP_OK, std::move(text), "text/plain; version=0.0.4; charset=utf-8",
                     {{MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip"},
                      {MHD_HTTP_HEADER_VARY, "Accept-Encoding"}});
      }
      return reply(MHD_HTTP_OK, std::move(text), "text/plain; version=0.0.4; charset=utf-8",
                   {{MHD_HTTP_HEADER_VARY, "Accept-Encoding"}});
    }
    return Pages(self->handlers_, reply, path);
  }

  static MHD_Result Pages(const HttpServerHandlers& h, const Responder& reply,
                          const std::string& path) {
    if (path == "/healthz") {
      const bool ok = h.healthy ? h.healthy() : true;
      return reply(ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, ok ? "ok\n" : "unhealthy\n",
                   "text/plain");
    }
    if (path == "/status") {
      return reply(MHD_HTTP_OK, h.status_json ? h.status_json() : "{}", "application/json");
    }
    if (path == "/") {
      return reply(MHD_HTTP_OK, StatusPage(h.status_json ? h.status_json() : "{}"),
                   "text/html; charset=utf-8");
    }
    return reply(MHD_HTTP_NOT_FOUND, "not found\n", "text/plain");
  }

  // Lifecycle serves /-/reload as Prometheus does.
  static MHD_Result Lifecycle(const HttpServerHandlers& h, const Responder& reply,
                              const char* method) {
    if (std::strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
      return reply(MHD_HTTP_METHOD_NOT_ALLOWED, "only POST is allowed\n", "text/plain",
                   {{MHD_HTTP_HEADER_ALLOW, "POST"}});
    }
    if (!h.reload) return reply(MHD_HTTP_FORBIDDEN, "lifecycle API is not enabled\n", "text/plain");
    const absl::Status s = h.reload();
    if (!s.ok()) {
      return reply(MHD_HTTP_INTERNAL_SERVER_ERROR,
                   absl::StrCat("failed to reload config: ", s.message(), "\n"), "text/plain");
    }
    return reply(MHD_HTTP_OK, "reloaded\n", "text/plain");
  }

  // Self is the server a TLS session belongs to (GnuTLS's session pointer is
  // libmicrohttpd's connection; its socket context is set at Notify).
  static HttpServer* Self(gnutls_session_t session) {
    auto* c = static_cast<MHD_Connection*>(gnutls_session_get_ptr(session));
    if (c == nullptr) return nullptr;
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != nullptr ? static_cast<HttpServer*>(info->socket_context) : nullptr;
  }

  static int RetrieveCert(gnutls_session_t session, const gnutls_datum_t* /*req_ca*/, int /*nreqs*/,
                          const gnutls_pk_algorithm_t* /*algos*/, int /*nalgos*/,
                          gnutls_pcert_st** chain, unsigned int* chain_length,
                          gnutls_privkey_t* key) {
    HttpServer* self = Self(session);
    if (self == nullptr || self->web_ == nullptr) return -1;
    return self->web_->OnHandshake(session, &VerifyPeer, chain, chain_length, key);
  }

  static int VerifyPeer(gnutls_session_t session) {
    HttpServer* self = Self(session);
    if (self == nullptr || self->web_ == nullptr) return -1;
    return self->web_->VerifyPeer(session);
  }
};

HttpServer::HttpServer(std::shared_ptr<Exposition> exposition, HttpServerHandlers handlers,
                       HttpLimits limits, prometheus::Registry* registry,
                       const prometheus::Labels& const_labels)
    : exposition_(std::move(exposition)),
      handlers_(std::move(handlers)),
      limits_(limits),
      table_(limits) {
  if (registry == nullptr) return;
  open_gauge_ = &prometheus::BuildGauge()
                     .Name("pgwarden_http_connections")
                     .Help("Connections open to the agent's HTTP endpoint")
                     .Labels(const_labels)
                     .Register(*registry)
                     .Add({});
  auto& dropped = prometheus::BuildCounter()
                      .Name("pgwarden_http_connections_dropped_total")
                      .Help(
                          "Connections to the HTTP endpoint refused at accept (max_connections, "
                          "per_client) or closed with their request headers overdue "
                          "(header_timeout)")
                      .Labels(const_labels)
                      .Register(*registry);
  for (int r = 0; r < kDropReasons; ++r) {
    dropped_[r] = &dropped.Add({{"reason", DropReasonName(static_cast<DropReason>(r))}});
  }
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Dropped(DropReason r) {
  prometheus::Counter* c = dropped_[static_cast<int>(r)];
  if (c != nullptr) c->Increment();
}

int RaiseOpenFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return -1;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? -1 : static_cast<int>(lim.rlim_cur);
}

absl::Status HttpServer::Start(const std::string& listen, const std::string& web_config_file) {
  absl::StatusOr<std::pair<std::string, int>> hp = SplitHostPort(listen, 9331);
  if (!hp.ok()) return hp.status();
  if (!web_config_file.empty()) {
    absl::StatusOr<std::unique_ptr<WebSecurity>> web = WebSecurity::Open(web_config_file);
    if (!web.ok()) return web.status();
    web_ = *std::move(web);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(hp->second);
  if (const int rc = ::getaddrinfo(hp->first.c_str(), port_text.c_str(), &hints, &found);
      rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on ", listen, ": ", ::gai_strerror(rc)));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, std::min<size_t>(found->ai_addrlen, sizeof(addr)));
  ::freeaddrinfo(found);
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD;
  if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  // TLS: the certificate is handed over per handshake (so a renewed one
  // applies to the next), the protocol versions as GnuTLS priorities.
  std::vector<MHD_OptionItem> tls = {{MHD_OPTION_END, 0, nullptr}};
  if (web_ != nullptr && web_->tls()) {
    flags |= MHD_USE_TLS;
    tls = {{MHD_OPTION_HTTPS_CERT_CALLBACK, 0, reinterpret_cast<void*>(&Callbacks::RetrieveCert)},
           {MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(web_->priorities().c_str())},
           {MHD_OPTION_END, 0, nullptr}};
  }
  const auto idle =
      static_cast<unsigned>(std::max<int64_t>(1, absl::ToInt64Seconds(limits_.idle_timeout)));
  daemon_ = MHD_start_daemon(
      flags, static_cast<uint16_t>(hp->second), &Callbacks::Accept, this, &Callbacks::Handle, this,
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr), MHD_OPTION_THREAD_POOL_SIZE, 2U,
      MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(limits_.max_connections + 16),
      MHD_OPTION_CONNECTION_TIMEOUT, idle, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      static_cast<size_t>(32 * 1024), MHD_OPTION_NOTIFY_CONNECTION, &Callbacks::Notify, this,
      MHD_OPTION_NOTIFY_COMPLETED, &Callbacks::Completed, this, MHD_OPTION_ARRAY, tls.data(),
      MHD_OPTION_END);
  if (daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, ": ",
                                               std::strerror(errno),
                                               " (address in use or not local?)"));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info != nullptr ? info->port : hp->second;
  sweeper_ = std::thread([this] { SweepOverdue(); });
  return absl::OkStatus();
}

void HttpServer::SweepOverdue() {
  const absl::Duration every =
      std::clamp(limits_.read_header_timeout / 4, absl::Milliseconds(50), absl::Seconds(1));
  absl::MutexLock lock(&stop_mu_);
  // Real time on purpose: the deadlines bound real sockets.
  while (!stop_mu_.AwaitWithTimeout(absl::Condition(&stop_), every)) {
    const int n = table_.CloseOverdue(absl::Now(), [](int fd) { ::shutdown(fd, SHUT_RDWR); });
    for (int i = 0; i < n; ++i) Dropped(DropReason::kHeaderTimeout);
    // Off the request path: a changed web config applies to the next
    // request (users, headers) or handshake (certificates).
    if (web_ != nullptr) web_->MaybeReload();
  }
}

void HttpServer::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    stop_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

}  // namespace pgwarden
