#ifndef PGWARDEN_TESTS_ALERTING_RECEIVER_H_
#define PGWARDEN_TESTS_ALERTING_RECEIVER_H_

// Test helpers for the alerting integration tests: a real httplib receiver
// on 127.0.0.1, a PagerDuty Events v2 schema check, stderr capture and
// metric reading.

#include <fcntl.h>
#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"

namespace pgwarden {
namespace testing {

// Received is one request seen by a TestReceiver.
struct Received {
  std::string path;
  std::string body;
  nlohmann::json json;
  httplib::Headers headers;
  std::string dedup_key;
  std::string action;
  // attempt counts requests with the same (dedup_key, action), from 1.
  int attempt = 0;
  absl::Time at;
  // schema_error is set when the body failed the receiver's validation.
  std::string schema_error;
  int status = 0;
};

// Answer is what the receiver replies.
struct Answer {
  int status = 202;
  std::string body = R"({"status":"success","message":"Event processed"})";
  std::multimap<std::string, std::string> headers;
  // delay is slept (interruptibly) before answering.
  absl::Duration delay = absl::ZeroDuration();
};

// ValidatePagerDutyEvent checks an Events v2 body: "" if valid, else why.
inline std::string ValidatePagerDutyEvent(const nlohmann::json& j) {
  if (!j.is_object()) return "body is not an object";
  if (!j.contains("routing_key") || !j["routing_key"].is_string() ||
      j["routing_key"].get<std::string>().size() != 32) {
    return "routing_key must be a 32 character string";
  }
  if (!j.contains("event_action") || !j["event_action"].is_string()) return "event_action missing";
  const std::string action = j["event_action"];
  if (action != "trigger" && action != "acknowledge" && action != "resolve") {
    return "event_action not in trigger|acknowledge|resolve";
  }
  if (!j.contains("dedup_key") || !j["dedup_key"].is_string() ||
      j["dedup_key"].get<std::string>().empty() || j["dedup_key"].get<std::string>().size() > 255) {
    return "dedup_key must be a string of 1..255 characters";
  }
  if (action != "trigger") return "";
  if (!j.contains("payload") || !j["payload"].is_object()) return "payload missing";
  const nlohmann::json& p = j["payload"];
  if (!p.contains("summary") || !p["summary"].is_string() ||
      p["summary"].get<std::string>().empty() || p["summary"].get<std::string>().size() > 1024) {
    return "payload.summary must be a string of 1..1024 characters";
  }
  if (!p.contains("source") || !p["source"].is_string() || p["source"].get<std::string>().empty()) {
    return "payload.source missing";
  }
  static const std::set<std::string> kSeverities = {"critical", "error", "warning", "info"};
  if (!p.contains("severity") || !p["severity"].is_string() ||
      kSeverities.count(p["severity"].get<std::string>()) == 0) {
    return "payload.severity not in critical|error|warning|info";
  }
  if (p.contains("timestamp")) {
    absl::Time t;
    std::string err;
    if (!p["timestamp"].is_string() ||
        !absl::ParseTime(absl::RFC3339_full, p["timestamp"].get<std::string>(), &t, &err)) {
      return "payload.timestamp is not ISO 8601";
    }
  }
  for (const char* k : {"component", "group", "class"}) {
    if (p.contains(k) && !p[k].is_string()) return std::string("payload.") + k + " not a string";
  }
  if (p.contains("custom_details") && !p["custom_details"].is_object()) {
    return "payload.custom_details not an object";
  }
  if (j.contains("links")) {
    if (!j["links"].is_array()) return "links not an array";
    for (const auto& l : j["links"]) {
      if (!l.is_object() || !l.contains("href") || !l["href"].is_string())
        return "link without href";
    }
  }
  return "";
}

// TestReceiver is a real HTTP server on 127.0.0.1 that records requests and
// answers with `behaviour`.
class TestReceiver {
 public:
  using Behaviour = std::function<Answer(const Received&)>;
  using Validator = std::function<std::string(const nlohmann::json&)>;

  // TestReceiver binds `port` (0: any free port).
  explicit TestReceiver(Behaviour behaviour, int port = 0, Validator validator = nullptr)
      : behaviour_(std::move(behaviour)), validator_(std::move(validator)) {
    server_.set_read_timeout(5, 0);
    server_.Post(".*",
                 [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); });
    if (port == 0) {
      port_ = server_.bind_to_any_port("127.0.0.1");
    } else {
      // The port was ours a moment ago; retry briefly in case it lingers.
      for (int i = 0; i < 50 && !server_.bind_to_port("127.0.0.1", port); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      port_ = port;
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 200 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ~TestReceiver() { Stop(); }

  // Stop closes the listening socket (later connects are refused).
  void Stop() {
    stopping_ = true;
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::vector<Received> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  // Accepted counts 2xx answers per "dedup_key/action".
  std::map<std::string, int> Accepted() const {
    std::map<std::string, int> out;
    for (const Received& r : requests()) {
      if (r.status >= 200 && r.status < 300) ++out[r.dedup_key + "/" + r.action];
    }
    return out;
  }

  std::vector<std::string> SchemaErrors() const {
    std::vector<std::string> out;
    for (const Received& r : requests()) {
      if (!r.schema_error.empty()) out.push_back(r.schema_error);
    }
    return out;
  }

 private:
  void Handle(const httplib::Request& req, httplib::Response& res) {
    Received r;
    r.path = req.path;
    r.body = req.body;
    r.headers = req.headers;
    r.at = absl::Now();
    try {
      r.json = nlohmann::json::parse(req.body);
    } catch (const std::exception& e) {
      r.schema_error = std::string("invalid JSON: ") + e.what();
    }
    if (r.json.is_object()) {
      r.dedup_key = r.json.value("dedup_key", "");
      r.action = r.json.value("event_action", r.json.value("action", ""));
    }
    if (r.schema_error.empty() && validator_) r.schema_error = validator_(r.json);
    Answer a;
    size_t index;
    {
      std::lock_guard<std::mutex> lock(mu_);
      r.attempt = ++attempts_[r.dedup_key + "/" + r.action];
      if (r.schema_error.empty()) a = behaviour_(r);
      index = requests_.size();
      requests_.push_back(r);
    }
    if (!r.schema_error.empty()) {
      a.status = 400;
      a.body = R"({"status":"invalid event","message":")" + r.schema_error + "\"}";
    }
    const absl::Time until = absl::Now() + a.delay;
    while (absl::Now() < until && !stopping_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (const auto& [k, v] : a.headers) res.set_header(k.c_str(), v);
    res.status = a.status;
    res.set_content(a.body, "application/json");
    std::lock_guard<std::mutex> lock(mu_);
    requests_[index].status = a.status;
  }

  Behaviour behaviour_;
  Validator validator_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<Received> requests_;
  std::map<std::string, int> attempts_;
};

// WaitUntil polls `cond` every 10 ms for at most `timeout`.
inline bool WaitUntil(const std::function<bool()>& cond, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// TempDir is a fresh directory removed at scope exit.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/pgw_alert_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

// StderrCapture redirects fd 2 to a file while alive; Text() reads it.
class StderrCapture {
 public:
  StderrCapture() {
    char tmpl[] = "/tmp/pgw_stderr_XXXXXX";
    int fd = ::mkstemp(tmpl);
    path_ = tmpl;
    saved_ = ::dup(2);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() {
    Restore();
    ::unlink(path_.c_str());
  }
  void Restore() {
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
  }
  std::string Text() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

// MetricValue reads a counter or gauge from `registry`; -1 if absent.
inline double MetricValue(prometheus::Registry& registry, const std::string& name,
                          const std::map<std::string, std::string>& labels) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
        match = match && found;
      }
      if (!match) continue;
      if (family.type == prometheus::MetricType::Counter) return m.counter.value;
      if (family.type == prometheus::MetricType::Gauge) return m.gauge.value;
    }
  }
  return -1;
}

}  // namespace testing
}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_ALERTING_RECEIVER_H_
