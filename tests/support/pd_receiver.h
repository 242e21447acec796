#ifndef PGWARDEN_TESTS_SUPPORT_PD_RECEIVER_H_
#define PGWARDEN_TESTS_SUPPORT_PD_RECEIVER_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace httplib {
class Server;
}

namespace pgwarden::testing {

// ReceivedEvent is one accepted PagerDuty event and when it arrived.
struct ReceivedEvent {
  nlohmann::json body;
  absl::Time at;
};

// PdReceiver is a real HTTP server on 127.0.0.1 (port 0) that accepts POST
// /v2/enqueue like PagerDuty Events v2: it validates the schema (routing_key,
// event_action, dedup_key, payload.summary <= 1024 chars, payload.source,
// payload.severity enum, timestamp) and answers 202, or 400 with the
// violations, which it also records.
class PdReceiver {
 public:
  PdReceiver();
  ~PdReceiver();
  int port() const { return port_; }
  std::string url() const;
  std::vector<ReceivedEvent> events() const;
  std::vector<std::string> violations() const;
  // WaitFor waits up to `timeout` for an event matching `pred`; returns it.
  std::optional<ReceivedEvent> WaitFor(const std::function<bool(const nlohmann::json&)>& pred,
                                       absl::Duration timeout) const;

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::vector<ReceivedEvent> events_;
  std::vector<std::string> violations_;
};

// ValidatePagerDutyEvent returns the schema violations of an Events v2 body.
std::vector<std::string> ValidatePagerDutyEvent(const nlohmann::json& ev);

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_SUPPORT_PD_RECEIVER_H_
