#ifndef PGWARDEN_TESTS_INTEGRATION_AM_CLUSTER_H_
#define PGWARDEN_TESTS_INTEGRATION_AM_CLUSTER_H_

// A two-node Alertmanager cluster (/usr/bin/prometheus-alertmanager, peers
// gossiping on 127.0.0.1) and the webhook receiver behind it.

#include <httplib.h>

#include <array>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "devtools/process.h"
#include "nlohmann/json.hpp"
#include "tests/support/agent_process.h"
#include "tests/support/pd_receiver.h"

namespace pgwarden::testing {

// WebhookReceiver records every Alertmanager webhook notification POSTed
// to 127.0.0.1:PORT/hook (body and arrival time), answering 200.
class WebhookReceiver {
 public:
  WebhookReceiver() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      ReceivedEvent ev{nlohmann::json::parse(req.body, nullptr, false), absl::Now()};
      {
        std::lock_guard<std::mutex> lock(mu_);
        notifications_.push_back(std::move(ev));
      }
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitUntil([&] { return server_.is_running(); }, absl::Seconds(2));
  }
  ~WebhookReceiver() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::string Url() const { return absl::StrCat("http://127.0.0.1:", port_, "/hook"); }
  std::vector<ReceivedEvent> notifications() const {
    std::lock_guard<std::mutex> lock(mu_);
    return notifications_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<ReceivedEvent> notifications_;
};

// AlertmanagerCluster runs two Alertmanagers, each the other's
// --cluster.peer, routing every alert grouped by `group_by` to one webhook
// (firing only: send_resolved false). Both are stopped by pid at scope exit.
class AlertmanagerCluster {
 public:
  // Timings: a group notifies `group_wait` after its first alert and, when
  // its alerts change, at most every `group_interval`; the second peer waits
  // `peer_timeout` for the first one's notification log entry.
  static constexpr absl::Duration kGroupWait = absl::Seconds(1);
  static constexpr absl::Duration kGroupInterval = absl::Seconds(5);
  static constexpr absl::Duration kPeerTimeout = absl::Seconds(2);

  AlertmanagerCluster(const std::string& dir, const std::string& webhook_url,
                      const std::string& group_by) {
    const std::string config = dir + "/alertmanager.yml";
    {
      std::ofstream f(config);
      f << "route:\n  receiver: hook\n  group_by: ['" << group_by << "']\n"
        << "  group_wait: " << absl::ToInt64Seconds(kGroupWait) << "s\n"
        << "  group_interval: " << absl::ToInt64Seconds(kGroupInterval) << "s\n"
        << "  repeat_interval: 1h\n"
        << "receivers:\n  - name: hook\n    webhook_configs:\n      - url: " << webhook_url
        << "\n        send_resolved: false\n";
    }
    for (Node& n : nodes_) {
      auto web = FreeTcpPort();
      auto gossip = FreeTcpPort();
      REQUIRE(web.ok());
      REQUIRE(gossip.ok());
      n.web_port = *web;
      n.cluster_port = *gossip;
    }
    for (size_t i = 0; i < nodes_.size(); ++i) {
      Node& n = nodes_[i];
      const Node& peer = nodes_[1 - i];
      const std::string cluster = absl::StrCat("127.0.0.1:", n.cluster_port);
      ProcessOptions opts;
      opts.argv = {"/usr/bin/prometheus-alertmanager",
                   "--config.file=" + config,
                   absl::StrCat("--storage.path=", dir, "/am", i + 1),
                   absl::StrCat("--web.listen-address=127.0.0.1:", n.web_port),
                   "--cluster.listen-address=" + cluster,
                   "--cluster.advertise-address=" + cluster,
                   absl::StrCat("--cluster.peer=127.0.0.1:", peer.cluster_port),
                   absl::StrCat("--cluster.peer-timeout=", absl::ToInt64Seconds(kPeerTimeout), "s"),
                   "--cluster.gossip-interval=100ms",
                   "--cluster.pushpull-interval=1s",
                   "--cluster.settle-timeout=5s",
                   "--cluster.reconnect-interval=1s",
                   "--log.level=debug"};
      n.log = absl::StrCat(dir, "/am", i + 1, ".log");
      opts.stdout_path = n.log;
      opts.stderr_path = n.log;
      auto pid = SpawnProcess(opts);
      REQUIRE(pid.ok());
      n.pid = *pid;
    }
    // Ready (settled), and each sees the other as a peer.
    for (const Node& n : nodes_) {
      const bool joined = WaitUntil(
          [&] {
            nlohmann::json st = Get(n, "/api/v2/status");
            return st.is_object() && st["cluster"].value("status", "") == "ready" &&
                   st["cluster"]["peers"].size() == nodes_.size();
          },
          absl::Seconds(30));
      INFO(Logs());
      REQUIRE(joined);
    }
  }
  ~AlertmanagerCluster() {
    for (const Node& n : nodes_) {
      if (n.pid > 0) StopProcess(n.pid, absl::Seconds(5));
    }
  }
  AlertmanagerCluster(const AlertmanagerCluster&) = delete;
  AlertmanagerCluster& operator=(const AlertmanagerCluster&) = delete;

  // Urls are the nodes' base URLs, as a YAML flow list.
  std::string UrlList() const {
    return absl::StrCat("[http://127.0.0.1:", nodes_[0].web_port,
                        ", http://127.0.0.1:", nodes_[1].web_port, "]");
  }

  // ActiveAlerts are node `i`'s active (not silenced, not inhibited) alerts.
  nlohmann::json ActiveAlerts(size_t i) const {
    return Get(nodes_[i], "/api/v2/alerts?active=true&silenced=false&inhibited=false");
  }

  std::string Logs() const {
    std::string out;
    for (const Node& n : nodes_) {
      std::ifstream in(n.log);
      absl::StrAppend(&out, "--- ", n.log, "\n",
                      std::string(std::istreambuf_iterator<char>(in), {}));
    }
    return out;
  }

 private:
  struct Node {
    int web_port = 0;
    int cluster_port = 0;
    pid_t pid = -1;
    std::string log;
  };

  static nlohmann::json Get(const Node& n, const std::string& path) {
    httplib::Client c("127.0.0.1", n.web_port);
    c.set_connection_timeout(0, 500000);
    c.set_read_timeout(2, 0);
    auto res = c.Get(path.c_str());
    if (!res || res->status != 200) return nullptr;
    return nlohmann::json::parse(res->body, nullptr, false);
  }

  std::array<Node, 2> nodes_;
};

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_INTEGRATION_AM_CLUSTER_H_
