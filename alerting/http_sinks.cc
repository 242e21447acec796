#include "alerting/http_sinks.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "alerting/http_client.h"
#include "alerting/payloads.h"
#include "core/log.h"

namespace pgwarden {
namespace {

using Headers = std::multimap<std::string, std::string>;

// HttpSink holds what every HTTP sink needs.
class HttpSink : public Sink {
 public:
  HttpSink(const SinkConfig& config, Clock* clock) : config_(config), clock_(clock) {
    for (const std::string& u : config.urls) {
      ParsedUrl p;
      if (ParseUrl(u, &p)) urls_.push_back(std::move(p));
    }
  }

 protected:
  // Post sends `body` to every URL; ok if any accepted it, else retry if
  // any failure was transient, else failed.
  DeliveryOutcome Post(const std::string& body, const Headers& headers, RequestGuard* guard) {
    DeliveryOutcome combined;
    combined.result = DeliveryResult::kFailed;
    bool any_retry = false;
    for (const ParsedUrl& url : urls_) {
      HttpResponse r =
          HttpPostJson(url, body, headers, config_.connect_timeout, config_.timeout, guard);
      DeliveryOutcome o = ClassifyHttp(r, clock_->Now());
      if (urls_.size() > 1) o.message = absl::StrCat(url.Redacted(), ": ", o.message);
      if (o.result == DeliveryResult::kOk) {
        combined.result = DeliveryResult::kOk;
      } else if (o.result == DeliveryResult::kRetry) {
        any_retry = true;
        if (o.retry_after && (!combined.retry_after || *o.retry_after > *combined.retry_after)) {
          combined.retry_after = o.retry_after;
        }
      }
      absl::StrAppend(&combined.message, combined.message.empty() ? "" : "; ", o.message);
    }
    if (combined.result != DeliveryResult::kOk && any_retry) {
      combined.result = DeliveryResult::kRetry;
    }
    if (urls_.empty()) combined.message = "no valid URL configured";
    return combined;
  }

  SinkConfig config_;
  Clock* clock_;
  std::vector<ParsedUrl> urls_;
};

// PagerDutySink sends Events v2.
class PagerDutySink : public HttpSink {
 public:
  using HttpSink::HttpSink;
  DeliveryOutcome Deliver(const OutboxEntry& entry, RequestGuard* guard) override {
    return Post(DumpJson(BuildPagerDutyEvent(entry.alert, config_.routing_key)), {}, guard);
  }
};

// WebhookSink sends the generic JSON schema, optionally HMAC-signed.
class WebhookSink : public HttpSink {
 public:
  using HttpSink::HttpSink;
  DeliveryOutcome Deliver(const OutboxEntry& entry, RequestGuard* guard) override {
    const std::string body = DumpJson(BuildWebhookBody(entry.alert, entry.DeliveryId()));
    Headers h{{"X-Pgwarden-Delivery", entry.DeliveryId()}};
    if (!config_.hmac_secret.empty()) {
      h.emplace("X-Pgwarden-Signature",
                absl::StrCat("sha256=", HmacSha256Hex(config_.hmac_secret, body)));
    }
    return Post(body, h, guard);
  }
};

// SlackSink posts to an incoming webhook.
class SlackSink : public HttpSink {
 public:
  using HttpSink::HttpSink;
  DeliveryOutcome Deliver(const OutboxEntry& entry, RequestGuard* guard) override {
    return Post(DumpJson(BuildSlackMessage(entry.alert)), {}, guard);
  }
};

// AlertmanagerSink posts to /api/v2/alerts of every instance and keeps
// firing alerts alive by re-sending them every resend_interval with endsAt
// ahead; resolves (endsAt = resolve time) are re-sent for resolve_resend_for.
class AlertmanagerSink : public HttpSink {
 public:
  AlertmanagerSink(const SinkConfig& config, Clock* clock) : HttpSink(config, clock) {
    for (ParsedUrl& u : urls_) {
      if (!absl::EndsWith(u.path, "/api/v2/alerts")) {
        while (!u.path.empty() && u.path.back() == '/') u.path.pop_back();
        u.path += "/api/v2/alerts";
      }
    }
  }

  DeliveryOutcome Deliver(const OutboxEntry& entry, RequestGuard* guard) override {
    const Alert& a = entry.alert;
    const absl::Time now = clock_->Now();
    const absl::Time at = a.timestamp == absl::UnixEpoch() ? now : a.timestamp;
    auto it = active_.find(a.dedup_key);
    nlohmann::json body = nlohmann::json::array();
    if (a.action == AlertAction::kTrigger) {
      // The labels changed (attribution named the culprit: a `role` label;
      // the incident's severity rose): the old label set is resolved and the
      // new one fires in its place. The severity label only rises, so that
      // agents whose first sample saw different detectors agree on it.
      if (it != active_.end() && it->second.firing) {
        nlohmann::json want = AlertmanagerLabels(a);
        Severity had = a.severity;
        if (SeverityFromName(it->second.labels.value("severity", ""), &had) &&
            static_cast<int>(had) < static_cast<int>(a.severity)) {
          want["severity"] = SeverityName(had);
        }
        if (want != it->second.labels) {
          Active retired = it->second;
          retired.firing = false;
          retired.resolved_at = std::max(now, retired.starts_at);
          body.push_back(Render(retired, now));
          it->second.labels = std::move(want);
        }
      }
      if (it == active_.end() || !it->second.firing) {
        Active fresh;
        fresh.labels = AlertmanagerLabels(a);
        fresh.starts_at = at;
        it = active_.insert_or_assign(a.dedup_key, std::move(fresh)).first;
      }
      it->second.firing = true;
    } else {
      if (it == active_.end()) {
        Active fresh;
        fresh.labels = AlertmanagerLabels(a);
        fresh.starts_at = at;
        it = active_.emplace(a.dedup_key, std::move(fresh)).first;
      }
      it->second.firing = false;
      it->second.resolved_at = std::max(at, it->second.starts_at);
      it->second.resend_until = now + config_.resolve_resend_for;
    }
    it->second.last = a;
    if (next_resend_ == absl::InfiniteFuture()) next_resend_ = now + config_.resend_interval;
    body.push_back(Render(it->second, now));
    return Post(DumpJson(body), {}, guard);
  }

  absl::Time NextResend() const override { return next_resend_; }

  void Resend(absl::Time now, RequestGuard* guard) override {
    nlohmann::json body = nlohmann::json::array();
    for (auto it = active_.begin(); it != active_.end();) {
      if (!it->second.firing && it->second.resend_until < now) {
        it = active_.erase(it);
        continue;
      }
      body.push_back(Render(it->second, now));
      ++it;
    }
    next_resend_ = active_.empty() ? absl::InfiniteFuture() : now + config_.resend_interval;
    if (body.empty()) return;
    DeliveryOutcome o = Post(DumpJson(body), {}, guard);
    if (o.result != DeliveryResult::kOk) {
      PGW_LOG(Warning) << "alert sink " << config_.name << ": periodic re-send of " << body.size()
                       << " alerts failed: " << o.message;
    }
  }

 private:
  struct Active {
    nlohmann::json labels;
    Alert last;
    absl::Time starts_at;
    bool firing = true;
    absl::Time resolved_at;
    absl::Time resend_until;
  };

  nlohmann::json Render(const Active& a, absl::Time now) const {
    const absl::Time ends =
        a.firing ? now + std::max(4 * config_.resend_interval, absl::Minutes(1)) : a.resolved_at;
    return BuildAlertmanagerAlert(a.labels, a.last, a.starts_at, ends);
  }

  std::map<std::string, Active> active_;
  absl::Time next_resend_ = absl::InfiniteFuture();
};

}  // namespace

std::unique_ptr<Sink> NewPagerDutySink(const SinkConfig& config, Clock* clock) {
  return std::make_unique<PagerDutySink>(config, clock);
}

std::unique_ptr<Sink> NewAlertmanagerSink(const SinkConfig& config, Clock* clock) {
  return std::make_unique<AlertmanagerSink>(config, clock);
}

std::unique_ptr<Sink> NewSlackSink(const SinkConfig& config, Clock* clock) {
  return std::make_unique<SlackSink>(config, clock);
}

std::unique_ptr<Sink> NewWebhookSink(const SinkConfig& config, Clock* clock) {
  return std::make_unique<WebhookSink>(config, clock);
}

}  // namespace pgwarden
