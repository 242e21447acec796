#include "alerting/http_client.h"

#include <httplib.h>
#include <unistd.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace pgwarden {

bool RequestGuard::Begin(httplib::Client* client, std::chrono::steady_clock::time_point deadline) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return false;
  client_ = client;
  deadline_ = deadline;
  aborted_ = false;
  return true;
}

bool RequestGuard::End() {
  absl::MutexLock lock(&mu_);
  client_ = nullptr;
  return aborted_;
}

void RequestGuard::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (client_ != nullptr) {
    aborted_ = true;
    client_->stop();
  }
}

void RequestGuard::Reset() {
  absl::MutexLock lock(&mu_);
  cancelled_ = false;
}

void RequestGuard::CancelIfOverdue(std::chrono::steady_clock::time_point now) {
  absl::MutexLock lock(&mu_);
  if (client_ != nullptr && !aborted_ && now >= deadline_) {
    aborted_ = true;
    client_->stop();
  }
}

bool RequestGuard::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

namespace {

// SplitSeconds converts a positive duration to (sec, usec) for httplib.
void SplitSeconds(absl::Duration d, time_t* sec, time_t* usec) {
  if (d < absl::Milliseconds(1)) d = absl::Milliseconds(1);
  int64_t us = absl::ToInt64Microseconds(d);
  *sec = static_cast<time_t>(us / 1000000);
  *usec = static_cast<time_t>(us % 1000000);
}

const char* CaBundle() {
  for (const char* p : {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}) {
    if (access(p, R_OK) == 0) return p;
  }
  return nullptr;
}

}  // namespace

HttpResponse HttpPostJson(const ParsedUrl& url, const std::string& body,
                          const std::multimap<std::string, std::string>& headers,
                          absl::Duration connect_timeout, absl::Duration timeout,
                          RequestGuard* guard) {
  HttpResponse out;
  try {
    httplib::Client client(url.SchemeHostPort());
    time_t sec = 0, usec = 0;
    SplitSeconds(std::min(connect_timeout, timeout), &sec, &usec);
    client.set_connection_timeout(sec, usec);
    SplitSeconds(timeout, &sec, &usec);
    client.set_read_timeout(sec, usec);
    client.set_write_timeout(sec, usec);
    client.set_keep_alive(false);
    client.set_follow_location(false);
    if (url.scheme == "https") {
      if (const char* ca = CaBundle()) client.set_ca_cert_path(ca);
      client.enable_server_certificate_verification(true);
    }
    httplib::Headers h(headers.begin(), headers.end());
    h.emplace("User-Agent", "pgwarden");
    // Real time on purpose (see RequestGuard): this bounds the network I/O.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::microseconds(absl::ToInt64Microseconds(timeout));
    if (guard != nullptr && !guard->Begin(&client, deadline)) {
      out.error = "cancelled (shutting down)";
      return out;
    }
    // Unregisters the client before it is destroyed, however we leave.
    struct EndOnExit {
      RequestGuard* guard;
      bool aborted = false;
      void End() {
        if (guard != nullptr) aborted = guard->End();
        guard = nullptr;
      }
      ~EndOnExit() { End(); }
    } end_on_exit{guard};
    httplib::Result res = client.Post(url.path.c_str(), h, body, "application/json");
    end_on_exit.End();
    const bool aborted = end_on_exit.aborted;
    if (!res) {
      out.error = aborted ? absl::StrCat("aborted after the ", absl::FormatDuration(timeout),
                                         " request timeout (or shutdown)")
                          : absl::StrCat("transport error: ", httplib::to_string(res.error()));
      return out;
    }
    out.status = res->status;
    out.body = res->body;
    out.retry_after = res->get_header_value("Retry-After");
  } catch (const std::exception& e) {
    out.status = 0;
    out.error = absl::StrCat("http client exception: ", e.what());
  }
  return out;
}

}  // namespace pgwarden
