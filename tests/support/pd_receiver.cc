#include "tests/support/pd_receiver.h"

#include <httplib.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace pgwarden::testing {

std::vector<std::string> ValidatePagerDutyEvent(const nlohmann::json& ev) {
  std::vector<std::string> v;
  if (!ev.is_object()) return {"body is not a JSON object"};
  auto str = [&](const nlohmann::json& o, const char* k) {
    return o.contains(k) && o[k].is_string() && !o[k].get<std::string>().empty();
  };
  if (!str(ev, "routing_key")) v.push_back("routing_key missing");
  if (!str(ev, "event_action")) {
    v.push_back("event_action missing");
    return v;
  }
  const std::string action = ev["event_action"];
  if (action != "trigger" && action != "resolve" && action != "acknowledge") {
    v.push_back("event_action invalid: " + action);
  }
  if (action != "trigger") {
    if (!str(ev, "dedup_key")) v.push_back("dedup_key required for " + action);
    return v;
  }
  if (ev.contains("dedup_key") &&
      (!ev["dedup_key"].is_string() || ev["dedup_key"].get<std::string>().size() > 255)) {
    v.push_back("dedup_key must be a string of at most 255 chars");
  }
  if (!ev.contains("payload") || !ev["payload"].is_object()) {
    v.push_back("payload missing");
    return v;
  }
  const nlohmann::json& p = ev["payload"];
  if (!str(p, "summary"))
    v.push_back("payload.summary missing");
  else if (p["summary"].get<std::string>().size() > 1024)
    v.push_back("payload.summary > 1024");
  if (!str(p, "source")) v.push_back("payload.source missing");
  if (!str(p, "severity")) {
    v.push_back("payload.severity missing");
  } else {
    const std::string s = p["severity"];
    if (s != "critical" && s != "error" && s != "warning" && s != "info") {
      v.push_back("payload.severity invalid: " + s);
    }
  }
  if (p.contains("timestamp")) {
    absl::Time t;
    std::string err;
    if (!p["timestamp"].is_string() ||
        !absl::ParseTime(absl::RFC3339_full, p["timestamp"].get<std::string>(), &t, &err)) {
      v.push_back("payload.timestamp is not ISO 8601");
    }
  }
  if (p.contains("custom_details") && !p["custom_details"].is_object()) {
    v.push_back("payload.custom_details must be an object");
  }
  return v;
}

PdReceiver::PdReceiver() { Listen(0); }

bool PdReceiver::Listen(int port) {
  auto server = std::make_unique<httplib::Server>();
  server->Post("/v2/enqueue", [this](const httplib::Request& req, httplib::Response& res) {
    const absl::Time arrived = absl::Now();
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    std::vector<std::string> v = body.is_discarded() ? std::vector<std::string>{"invalid JSON"}
                                                     : ValidatePagerDutyEvent(body);
    std::unique_lock<std::mutex> lock(mu_);
    const PdAnswer answer = answer_;
    PdRequest seen;
    seen.at = arrived;
    if (body.is_object()) {
      if (body.contains("event_action") && body["event_action"].is_string()) {
        seen.event_action = body["event_action"].get<std::string>();
      }
      if (body.contains("dedup_key") && body["dedup_key"].is_string()) {
        seen.dedup_key = body["dedup_key"].get<std::string>();
      }
    }
    // Recorded on arrival (status 0 until answered), so that a slow answer
    // is visible while it is pending.
    const size_t index = requests_.size();
    requests_.push_back(seen);
    if (answer.delay > absl::ZeroDuration()) {
      const bool stopped = stop_cv_.wait_for(
          lock, std::chrono::microseconds(absl::ToInt64Microseconds(answer.delay)),
          [this] { return stopping_; });
      if (stopped) {
        // Going down before answering: 503, the event is not taken.
        requests_[index].status = 503;
        res.status = 503;
        return;
      }
    }
    if (!v.empty()) {
      violations_.push_back(absl::StrJoin(v, "; "));
      requests_[index].status = 400;
      res.status = 400;
      res.set_content(nlohmann::json({{"status", "invalid event"}, {"errors", v}}).dump(),
                      "application/json");
      return;
    }
    requests_[index].status = answer.status;
    res.status = answer.status;
    if (answer.status < 200 || answer.status >= 300) {
      if (!answer.retry_after.empty()) res.set_header("Retry-After", answer.retry_after);
      res.set_content(R"({"status":"unavailable","message":"try again later"})",
                      "application/json");
      return;
    }
    events_.push_back({body, arrived});
    res.set_content(R"({"status":"success","message":"Event processed"})", "application/json");
  });
  int bound = port;
  if (port == 0) {
    bound = server->bind_to_any_port("127.0.0.1");
    if (bound <= 0) return false;
  } else if (!server->bind_to_port("127.0.0.1", port)) {
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  port_ = bound;
  server_ = std::move(server);
  thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
  return true;
}

PdReceiver::~PdReceiver() { Stop(); }

void PdReceiver::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

bool PdReceiver::Restart() {
  Stop();
  return Listen(port_);
}

bool PdReceiver::running() const { return thread_.joinable(); }

void PdReceiver::SetAnswer(const PdAnswer& answer) {
  std::lock_guard<std::mutex> lock(mu_);
  answer_ = answer;
}

std::vector<PdRequest> PdReceiver::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::string PdReceiver::url() const {
  return absl::StrCat("http://127.0.0.1:", port_, "/v2/enqueue");
}

std::vector<ReceivedEvent> PdReceiver::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::vector<std::string> PdReceiver::violations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return violations_;
}

std::optional<ReceivedEvent> PdReceiver::WaitFor(
    const std::function<bool(const nlohmann::json&)>& pred, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const ReceivedEvent& e : events_) {
        if (pred(e.body)) return e;
      }
    }
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace pgwarden::testing
