#include "tests/support/pd_receiver.h"

#include <httplib.h>

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

PdReceiver::PdReceiver() : server_(std::make_unique<httplib::Server>()) {
  server_->Post("/v2/enqueue", [this](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    std::vector<std::string> v = body.is_discarded() ? std::vector<std::string>{"invalid JSON"}
                                                     : ValidatePagerDutyEvent(body);
    std::lock_guard<std::mutex> lock(mu_);
    if (!v.empty()) {
      violations_.push_back(absl::StrJoin(v, "; "));
      res.status = 400;
      res.set_content(nlohmann::json({{"status", "invalid event"}, {"errors", v}}).dump(),
                      "application/json");
      return;
    }
    events_.push_back({body, absl::Now()});
    res.status = 202;
    res.set_content(R"({"status":"success","message":"Event processed"})", "application/json");
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

PdReceiver::~PdReceiver() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
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
