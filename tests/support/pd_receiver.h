#ifndef PGWARDEN_TESTS_SUPPORT_PD_RECEIVER_H_
#define PGWARDEN_TESTS_SUPPORT_PD_RECEIVER_H_

#include <condition_variable>
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

// PdAnswer is how a PdReceiver answers a valid event: `status` (2xx: the
// event is accepted and recorded; anything else: refused, not recorded),
// with a Retry-After header when `retry_after` is not empty, after waiting
// `delay` (a slow receiver; the wait ends early when the receiver stops).
struct PdAnswer {
  int status = 202;
  std::string retry_after;
  absl::Duration delay = absl::ZeroDuration();
};

// PdRequest is one request the receiver saw, whatever it answered.
struct PdRequest {
  std::string event_action;
  std::string dedup_key;
  int status = 0;  // what the receiver answered; 0 while a slow answer is pending
  absl::Time at;   // when the request arrived
};

// PdReceiver is a real HTTP server on 127.0.0.1 (port 0) that accepts POST
// /v2/enqueue like PagerDuty Events v2: it validates the schema (routing_key,
// event_action, dedup_key, payload.summary <= 1024 chars, payload.source,
// payload.severity enum, timestamp) and answers 202, or 400 with the
// violations, which it also records. SetAnswer makes it refuse (429, 5xx)
// or answer slowly; Stop and Restart take it down and back on the same port.
class PdReceiver {
 public:
  PdReceiver();
  ~PdReceiver();
  int port() const { return port_; }
  std::string url() const;
  // events are the accepted (2xx) events, in arrival order.
  std::vector<ReceivedEvent> events() const;
  std::vector<std::string> violations() const;
  // requests are all requests seen, accepted or not, in arrival order.
  std::vector<PdRequest> requests() const;
  // WaitFor waits up to `timeout` for an event matching `pred`; returns it.
  std::optional<ReceivedEvent> WaitFor(const std::function<bool(const nlohmann::json&)>& pred,
                                       absl::Duration timeout) const;
  // SetAnswer sets how valid events are answered from now on (default 202).
  void SetAnswer(const PdAnswer& answer);
  // Stop closes the port (connections are refused from then on); delayed
  // answers still pending are cut short with a 503. Idempotent.
  void Stop();
  // Restart listens again on the same port; false if it cannot bind it.
  bool Restart();
  bool running() const;

 private:
  bool Listen(int port);

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  PdAnswer answer_;
  std::vector<ReceivedEvent> events_;
  std::vector<std::string> violations_;
  std::vector<PdRequest> requests_;
};

// ValidatePagerDutyEvent returns the schema violations of an Events v2 body.
std::vector<std::string> ValidatePagerDutyEvent(const nlohmann::json& ev);

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_SUPPORT_PD_RECEIVER_H_
