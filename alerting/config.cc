#include "alerting/config.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "alerting/sink_registry.h"

namespace pgwarden {

std::string ParsedUrl::SchemeHostPort() const {
  const bool v6 = absl::StrContains(host, ':');
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
  if (absl::StrContains(authority, '@')) return false;  // no userinfo
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

// kTimingKeys are read for every sink type; kResendKeys too, but they are
// rejected for types that do not re-send.
constexpr const char* kTimingKeys[] = {"timeout", "connect_timeout", "retry_initial", "retry_max",
                                       "retry_after_max"};
constexpr const char* kResendKeys[] = {"resend_interval", "resolve_resend_for"};

bool MultiUrl(const SinkType& t) { return t.multi_url; }
bool Resends(const SinkType& t) { return t.resends; }

// SecretKeys are the secret keys of all sink types, in registry order.
std::vector<absl::string_view> SecretKeys() {
  std::vector<absl::string_view> keys;
  for (const SinkType& t : SinkTypes()) {
    for (const SinkSecret& secret : t.secrets) {
      if (std::find(keys.begin(), keys.end(), secret.key) == keys.end()) keys.push_back(secret.key);
    }
  }
  return keys;
}

// SinkKeys is every key a sink section may have, derived from the registry:
// the common keys, then the type-specific ones.
std::vector<std::string> SinkKeys() {
  std::vector<std::string> keys = {"name", "type", "url"};
  if (!SinkTypesWhere(MultiUrl).empty()) keys.push_back("urls");
  for (absl::string_view key : SecretKeys()) {
    keys.emplace_back(key);
    keys.push_back(absl::StrCat(key, "_env"));
    keys.push_back(absl::StrCat(key, "_file"));
  }
  keys.insert(keys.end(), std::begin(kTimingKeys), std::end(kTimingKeys));
  if (!SinkTypesWhere(Resends).empty()) {
    keys.insert(keys.end(), std::begin(kResendKeys), std::end(kResendKeys));
  }
  return keys;
}

// CheckSinkKeys records one error per key of `s` not in SinkKeys().
void CheckSinkKeys(const ConfigNode& s) {
  static const std::vector<std::string>* const allowed = new std::vector<std::string>(SinkKeys());
  s.CheckKeys(*allowed);
}

// ParseSinkUrls reads url or urls; `type` is null for an unknown type.
void ParseSinkUrls(const ConfigNode& s, const SinkType* type, SinkConfig* c) {
  if (s.Has("urls")) {
    if (type != nullptr && !type->multi_url) {
      s.ErrorAt("urls", absl::StrCat("only for type ", SinkTypesWhere(MultiUrl), " (use url)"));
    } else if (s.Has("url")) {
      s.ErrorAt("urls", "set either url or urls, not both");
    } else {
      c->urls = s.GetStringList("urls", {});
      if (c->urls.empty() && s.Child("urls").IsSequence()) s.ErrorAt("urls", "must not be empty");
      std::vector<ConfigNode> items = s.Child("urls").Items();
      for (size_t i = 0; i < c->urls.size() && i < items.size(); ++i) {
        ParsedUrl u;
        if (!ParseUrl(c->urls[i], &u))
          items[i].Error("expected an http:// or https:// URL with a host");
      }
    }
  } else if (s.Has("url")) {
    std::string url = s.GetString("url", "");
    CheckUrl(s, "url", url);
    c->urls = {url};
  } else if (type != nullptr && type->default_url != nullptr) {
    c->urls = {type->default_url};
  } else if (type != nullptr) {
    s.ErrorAt("url",
              type->multi_url ? "missing required key (set url or urls)" : "missing required key");
  }
}

// ParseSinkSecrets reads the secrets of `type` and rejects those of other
// types.
void ParseSinkSecrets(const ConfigNode& s, const SinkType* type, SinkConfig* c) {
  if (type == nullptr) return;
  for (absl::string_view key : SecretKeys()) {
    if (const SinkSecret* own = FindSecret(*type, key)) {
      c->*(own->field) = ReadSecret(s, key, own->required);
    } else if (HasSecret(s, key)) {
      s.ErrorAt(key, absl::StrCat("only for type ", SinkTypesWhere([key](const SinkType& t) {
                                    return FindSecret(t, key) != nullptr;
                                  })));
    }
  }
}

// ParseSinkTiming reads the timeouts, retry delays and re-send intervals.
void ParseSinkTiming(const ConfigNode& s, const SinkType* type, SinkConfig* c) {
  c->timeout = s.GetDuration("timeout", c->timeout);
  c->connect_timeout = s.GetDuration("connect_timeout", c->connect_timeout);
  c->retry_initial = s.GetDuration("retry_initial", c->retry_initial);
  c->retry_max = s.GetDuration("retry_max", c->retry_max);
  c->retry_after_max = s.GetDuration("retry_after_max", c->retry_after_max);
  c->resend_interval = s.GetDuration("resend_interval", c->resend_interval);
  c->resolve_resend_for = s.GetDuration("resolve_resend_for", c->resolve_resend_for);
  CheckPositive(s, "timeout", c->timeout);
  CheckPositive(s, "connect_timeout", c->connect_timeout);
  CheckPositive(s, "retry_initial", c->retry_initial);
  CheckPositive(s, "retry_max", c->retry_max);
  CheckPositive(s, "resend_interval", c->resend_interval);
  if (c->retry_max < c->retry_initial) {
    s.ErrorAt(s.Has("retry_max") ? "retry_max" : "retry_initial",
              "retry_max must be at least retry_initial");
  }
  if (type != nullptr && !type->resends) {
    for (const char* key : kResendKeys) {
      if (s.Has(key)) s.ErrorAt(key, absl::StrCat("only for type ", SinkTypesWhere(Resends)));
    }
  }
}

void ParseSink(const ConfigNode& s, const AlertingConfig& global, SinkConfig* out) {
  if (!s.ExpectMap(true)) return;
  CheckSinkKeys(s);
  SinkConfig c;
  c.connect_timeout = global.connect_timeout;
  c.name = s.GetRequiredString("name");
  c.type = s.GetRequiredString("type");
  const SinkType* type = FindSinkType(c.type);
  if (!c.type.empty() && type == nullptr) {
    s.ErrorAt("type",
              absl::StrCat("unknown sink type '", c.type, "' (expected ", SinkTypeList(), ")"));
  }
  ParseSinkUrls(s, type, &c);
  ParseSinkSecrets(s, type, &c);
  ParseSinkTiming(s, type, &c);
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
