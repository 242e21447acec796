#include "alerting/config.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pgwarden {

std::string ParsedUrl::SchemeHostPort() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(scheme, "://", v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

bool ParseUrl(absl::string_view url, ParsedUrl* out) {
  ParsedUrl u;
  absl::string_view rest = url;
  if (absl::StartsWithIgnoreCase(rest, "http://")) {
    u.scheme = "http";
    u.port = 80;
    rest.remove_prefix(7);
  } else if (absl::StartsWithIgnoreCase(rest, "https://")) {
    u.scheme = "https";
    u.port = 443;
    rest.remove_prefix(8);
  } else {
    return false;
  }
  size_t slash = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, slash);
  u.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!u.path.empty() && u.path[0] == '?') u.path = "/" + u.path;
  if (authority.find('@') != absl::string_view::npos) return false;  // no userinfo
  absl::string_view host = authority;
  absl::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return false;
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != absl::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return false;
  for (char c : host) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) return false;
  }
  if (!port.empty()) {
    int p = 0;
    if (!absl::SimpleAtoi(port, &p) || p <= 0 || p > 65535) return false;
    u.port = p;
  }
  u.host = std::string(host);
  *out = std::move(u);
  return true;
}

namespace {

void CheckUrl(const ConfigNode& where, absl::string_view key, const std::string& url) {
  ParsedUrl u;
  if (!ParseUrl(url, &u)) {
    where.ErrorAt(key, "expected an http:// or https:// URL with a host");
  }
}

void CheckPositive(const ConfigNode& node, absl::string_view key, absl::Duration d) {
  if (node.Has(key) && d <= absl::ZeroDuration()) node.ErrorAt(key, "must be greater than 0");
}

bool HasSecret(const ConfigNode& node, absl::string_view key) {
  return node.Has(key) || node.Has(absl::StrCat(key, "_env")) ||
         node.Has(absl::StrCat(key, "_file"));
}

void ParseSink(const ConfigNode& s, const AlertingConfig& global, SinkConfig* out) {
  if (!s.ExpectMap(true)) return;
  s.CheckKeys({"name", "type", "url", "urls", "routing_key", "routing_key_env", "routing_key_file",
               "hmac_secret", "hmac_secret_env", "hmac_secret_file", "timeout", "connect_timeout",
               "retry_initial", "retry_max", "retry_after_max", "resend_interval",
               "resolve_resend_for"});
  SinkConfig c;
  c.connect_timeout = global.connect_timeout;
  c.name = s.GetRequiredString("name");
  c.type = s.GetRequiredString("type");
  const bool pagerduty = c.type == "pagerduty";
  const bool alertmanager = c.type == "alertmanager";
  const bool webhook = c.type == "webhook";
  const bool known = pagerduty || alertmanager || webhook || c.type == "slack";
  if (!c.type.empty() && !known) {
    s.ErrorAt("type", absl::StrCat("unknown sink type '", c.type,
                                   "' (expected pagerduty, alertmanager, slack or webhook)"));
  }

  // URLs.
  if (s.Has("urls")) {
    if (!alertmanager && known) {
      s.ErrorAt("urls", "only for type alertmanager (use url)");
    } else if (s.Has("url")) {
      s.ErrorAt("urls", "set either url or urls, not both");
    } else {
      c.urls = s.GetStringList("urls", {});
      if (c.urls.empty() && s.Child("urls").IsSequence()) s.ErrorAt("urls", "must not be empty");
      std::vector<ConfigNode> items = s.Child("urls").Items();
      for (size_t i = 0; i < c.urls.size() && i < items.size(); ++i) {
        ParsedUrl u;
        if (!ParseUrl(c.urls[i], &u))
          items[i].Error("expected an http:// or https:// URL with a host");
      }
    }
  } else if (s.Has("url")) {
    std::string url = s.GetString("url", "");
    CheckUrl(s, "url", url);
    c.urls = {url};
  } else if (pagerduty) {
    c.urls = {kPagerDutyDefaultUrl};
  } else if (known) {
    s.ErrorAt("url",
              alertmanager ? "missing required key (set url or urls)" : "missing required key");
  }

  // Secrets.
  if (pagerduty) {
    c.routing_key = ReadSecret(s, "routing_key", /*required=*/true);
  } else if (HasSecret(s, "routing_key") && known) {
    s.ErrorAt("routing_key", "only for type pagerduty");
  }
  if (webhook) {
    c.hmac_secret = ReadSecret(s, "hmac_secret", /*required=*/false);
  } else if (HasSecret(s, "hmac_secret") && known) {
    s.ErrorAt("hmac_secret", "only for type webhook");
  }

  // Timing.
  c.timeout = s.GetDuration("timeout", c.timeout);
  c.connect_timeout = s.GetDuration("connect_timeout", c.connect_timeout);
  c.retry_initial = s.GetDuration("retry_initial", c.retry_initial);
  c.retry_max = s.GetDuration("retry_max", c.retry_max);
  c.retry_after_max = s.GetDuration("retry_after_max", c.retry_after_max);
  c.resend_interval = s.GetDuration("resend_interval", c.resend_interval);
  c.resolve_resend_for = s.GetDuration("resolve_resend_for", c.resolve_resend_for);
  CheckPositive(s, "timeout", c.timeout);
  CheckPositive(s, "connect_timeout", c.connect_timeout);
  CheckPositive(s, "retry_initial", c.retry_initial);
  CheckPositive(s, "retry_max", c.retry_max);
  CheckPositive(s, "resend_interval", c.resend_interval);
  if (c.retry_max < c.retry_initial) {
    s.ErrorAt(s.Has("retry_max") ? "retry_max" : "retry_initial",
              "retry_max must be at least retry_initial");
  }
  if (!alertmanager && known) {
    for (const char* key : {"resend_interval", "resolve_resend_for"}) {
      if (s.Has(key)) s.ErrorAt(key, "only for type alertmanager");
    }
  }
  *out = std::move(c);
}

}  // namespace

void ParseAlertingConfig(const ConfigNode& node, AlertingConfig* out) {
  AlertingConfig cfg;
  if (!node.ExpectMap(false)) {
    *out = std::move(cfg);
    return;
  }
  node.CheckKeys({"sinks", "connect_timeout", "outbox_max_entries"});
  cfg.connect_timeout = node.GetDuration("connect_timeout", cfg.connect_timeout);
  CheckPositive(node, "connect_timeout", cfg.connect_timeout);
  int64_t max_entries =
      node.GetInt("outbox_max_entries", static_cast<int64_t>(cfg.outbox_max_entries));
  if (max_entries < 1) {
    node.ErrorAt("outbox_max_entries", "must be at least 1");
  } else {
    cfg.outbox_max_entries = static_cast<size_t>(max_entries);
  }
  std::set<std::string> names;
  for (const ConfigNode& item : node.Child("sinks").Items()) {
    SinkConfig sink;
    ParseSink(item, cfg, &sink);
    if (!sink.name.empty() && !names.insert(sink.name).second) {
      item.ErrorAt("name", absl::StrCat("duplicate sink name '", sink.name, "'"));
    }
    cfg.sinks.push_back(std::move(sink));
  }
  *out = std::move(cfg);
}

}  // namespace pgwarden
