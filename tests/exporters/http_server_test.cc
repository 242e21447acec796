// The HTTP endpoint on real loopback sockets: held-open idle and trickling
// connections never delay /metrics; a client past its share, past the total
// or late with its headers is refused or closed, and counted.

#include "exporters/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "prometheus/counter.h"

namespace pgwarden {
namespace {

// Socket is a client connection from source address `from` (any of
// 127.0.0.0/8 is loopback), closed when it goes out of scope.
class Socket {
 public:
  Socket(const std::string& from, int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, from.c_str(), &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src)) == 0 &&
          ::connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) == 0;
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket(Socket&& o) noexcept : fd_(o.fd_), ok_(o.ok_) { o.fd_ = -1; }

  bool ok() const { return ok_; }
  bool Send(const std::string& bytes) const {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // ClosedWithin: the server closed the connection within `d` (EOF or
  // reset, possibly after a response).
  bool ClosedWithin(absl::Duration d) const {
    const absl::Time end = absl::Now() + d;
    char buf[4096];
    while (absl::Now() < end) {
      pollfd p{fd_, POLLIN, 0};
      const int ms = static_cast<int>(absl::ToInt64Milliseconds(end - absl::Now()));
      if (::poll(&p, 1, std::max(ms, 1)) <= 0) continue;
      if (::recv(fd_, buf, sizeof(buf), 0) <= 0) return true;
    }
    return false;
  }

 private:
  int fd_;
  bool ok_ = false;
};

// Endpoint is an HttpServer on a free loopback port with its own registry.
struct Endpoint {
  explicit Endpoint(HttpLimits limits)
      : registry(std::make_shared<prometheus::Registry>()),
        exposition(std::make_shared<Exposition>(registry, absl::Milliseconds(100))),
        server(exposition, HttpServerHandlers{}, limits, registry.get(), {}) {
    prometheus::BuildCounter().Name("test_marker_total").Help("h").Register(*registry).Add({});
    REQUIRE(server.Start("127.0.0.1:0").ok());
  }
  // Value of the first sample line starting with `series`.
  double Sample(const std::string& series) {
    absl::SleepFor(absl::Milliseconds(150));  // past the exposition's cache
    const std::string text = *exposition->Text(false);
    const size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }
  std::shared_ptr<prometheus::Registry> registry;
  std::shared_ptr<Exposition> exposition;
  HttpServer server;
};

// Scrape fetches /metrics from 127.0.0.1 and returns how long it took, or
// nullopt when it failed.
std::optional<absl::Duration> Scrape(int port) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(5, 0);
  const absl::Time t0 = absl::Now();
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200 || !absl::StrContains(res->body, "test_marker_total")) {
    return std::nullopt;
  }
  return absl::Now() - t0;
}

std::string Source(int i) { return absl::StrCat("127.0.0.", i); }

}  // namespace

TEST_CASE(
    "HTTP endpoint: /metrics answers in under 1 s while 1,000 idle connections and 100 clients "
    "sending a byte a second are held open",
    "[exporters][http]") {
  const int files = RaiseOpenFileLimit();
  INFO("open-file limit " << files);
  REQUIRE((files < 0 || files >= 3000));  // client and server ends in one process
  Endpoint ep(HttpLimits{});              // the defaults: 32 per client, headers within 10 s
  std::vector<Socket> idle;
  idle.reserve(1000);
  // 25 connections from each of 40 source addresses (under the per-client 32).
  for (int i = 0; i < 1000; ++i) idle.emplace_back(Source(2 + i / 25), ep.server.port());
  std::vector<Socket> slow;
  slow.reserve(100);
  for (int i = 0; i < 100; ++i) slow.emplace_back(Source(50 + i / 25), ep.server.port());
  for (const Socket& s : idle) REQUIRE(s.ok());
  for (const Socket& s : slow) REQUIRE(s.ok());

  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    for (size_t i = 0; i < 30 && !stop; ++i) {  // bounded: 30 s at most
      for (const Socket& s : slow) s.Send(std::string(1, request[i % request.size()]));
      absl::SleepFor(absl::Seconds(1));
    }
  });
  absl::Duration worst;
  int scrapes = 0;
  for (int i = 0; i < 5; ++i) {
    absl::SleepFor(absl::Milliseconds(500));
    std::optional<absl::Duration> took = Scrape(ep.server.port());
    REQUIRE(took.has_value());
    worst = std::max(worst, *took);
    ++scrapes;
  }
  // Every held connection is open on the server's side (none was refused).
  const double open = ep.Sample("pgwarden_http_connections");
  stop = true;
  trickle.join();
  std::cout << "[figure] /metrics beside 1,000 idle and 100 trickling connections: worst of "
            << scrapes << " scrapes " << absl::ToDoubleMilliseconds(worst) << " ms\n";
  CHECK(open >= 1100);
  CHECK(worst < absl::Seconds(1));
}

TEST_CASE("HTTP endpoint: a client past its share or past the total is refused and counted",
          "[exporters][http]") {
  HttpLimits limits;
  limits.max_connections = 12;
  limits.max_connections_per_client = 8;
  Endpoint ep(limits);
  std::vector<Socket> held;
  held.reserve(12);
  for (int i = 0; i < 8; ++i) held.emplace_back("127.0.0.2", ep.server.port());
  absl::SleepFor(absl::Milliseconds(200));
  Socket ninth("127.0.0.2", ep.server.port());
  CHECK(ninth.ClosedWithin(absl::Seconds(2)));
  // Another client is still served.
  CHECK(Scrape(ep.server.port()).has_value());
  CHECK(ep.Sample("pgwarden_http_connections_dropped_total{reason=\"per_client\"}") == 1);
  for (int i = 0; i < 4; ++i) held.emplace_back("127.0.0.3", ep.server.port());
  absl::SleepFor(absl::Milliseconds(200));
  Socket over("127.0.0.4", ep.server.port());
  CHECK(over.ClosedWithin(absl::Seconds(2)));
  CHECK(ep.Sample("pgwarden_http_connections_dropped_total{reason=\"max_connections\"}") == 1);
  held.clear();  // the slots free again
  absl::SleepFor(absl::Milliseconds(300));
  CHECK(Scrape(ep.server.port()).has_value());
}

TEST_CASE(
    "HTTP endpoint: a client silent or trickling its headers is closed at read_header_timeout",
    "[exporters][http]") {
  HttpLimits limits;
  limits.read_header_timeout = absl::Seconds(1);
  Endpoint ep(limits);
  Socket silent("127.0.0.2", ep.server.port());
  Socket trickling("127.0.0.3", ep.server.port());
  const absl::Time t0 = absl::Now();
  std::atomic<bool> stop{false};
  std::thread feed([&] {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaa";
    for (size_t i = 0; i < request.size() && !stop; ++i) {  // bounded: 5 s at most
      trickling.Send(std::string(1, request[i]));
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
  CHECK(silent.ClosedWithin(absl::Seconds(3)));
  CHECK(trickling.ClosedWithin(absl::Seconds(3)));
  const absl::Duration took = absl::Now() - t0;
  stop = true;
  feed.join();
  CHECK(took >= absl::Milliseconds(900));
  CHECK(ep.Sample("pgwarden_http_connections_dropped_total{reason=\"header_timeout\"}") == 2);
  // A prompt client on a fresh connection is served.
  CHECK(Scrape(ep.server.port()).has_value());
  // An unknown path and a POST get their codes.
  httplib::Client cli("127.0.0.1", ep.server.port());
  auto missing = cli.Get("/nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  auto post = cli.Post("/metrics", "x", "text/plain");
  REQUIRE(post);
  CHECK(post->status == 405);
}

}  // namespace pgwarden
