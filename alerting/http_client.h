#ifndef PGWARDEN_ALERTING_HTTP_CLIENT_H_
#define PGWARDEN_ALERTING_HTTP_CLIENT_H_

#include <chrono>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "alerting/config.h"

namespace httplib {
class Client;
}

namespace pgwarden {

// RequestGuard lets another thread abort the request a worker is making:
// Cancel() (on Stop) and CancelIfOverdue() (the whole-request timeout,
// checked by the dispatcher's watchdog) shut the socket down. Deadlines are
// on the steady clock, not the injected Clock: they bound real network I/O,
// which a fake clock would never time out.
class RequestGuard {
 public:
  // Begin registers the client of a request that must end by `deadline`;
  // false if the guard was cancelled (the request must not start).
  bool Begin(httplib::Client* client, std::chrono::steady_clock::time_point deadline);
  // End unregisters the client; returns whether the request was aborted.
  bool End();
  // Cancel aborts the current request and every later one until Reset().
  void Cancel();
  // Reset allows requests again after Cancel().
  void Reset();
  // CancelIfOverdue aborts the current request if its deadline has passed.
  void CancelIfOverdue(std::chrono::steady_clock::time_point now);
  bool cancelled() const;

 private:
  mutable absl::Mutex mu_;
  httplib::Client* client_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::chrono::steady_clock::time_point deadline_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool aborted_ ABSL_GUARDED_BY(mu_) = false;
};

// HttpResponse is the outcome of one POST. status is 0 when no HTTP answer
// was received (connect failure, timeout, abort); error then says why.
struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retry_after;
  std::string error;
};

// HttpPostJson POSTs `body` (application/json) to `url` with the extra
// headers. The connect phase is bounded by `connect_timeout`, the whole
// request by `timeout` (enforced through `guard`, which may be null in
// tests: then only per-read timeouts apply). Never throws.
HttpResponse HttpPostJson(const ParsedUrl& url, const std::string& body,
                          const std::multimap<std::string, std::string>& headers,
                          absl::Duration connect_timeout, absl::Duration timeout,
                          RequestGuard* guard);

}  // namespace pgwarden

#endif  // PGWARDEN_ALERTING_HTTP_CLIENT_H_
