#include "agent/config_secrets.h"

#include "absl/strings/string_view.h"
#include "core/log.h"
#include "pg/connect.h"

namespace pgwarden {
namespace {

// AddUrlSecrets adds the password of `url`'s user:password@ and, when
// `path_is_secret`, everything from the path on.
void AddUrlSecrets(absl::string_view url, bool path_is_secret, std::vector<std::string>* out) {
  const size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return;
  const absl::string_view rest = url.substr(scheme + 3);
  const size_t path = rest.find_first_of("/?#");
  const absl::string_view authority = rest.substr(0, path);
  if (const size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    const absl::string_view userinfo = authority.substr(0, at);
    if (const size_t colon = userinfo.find(':'); colon != absl::string_view::npos) {
      out->emplace_back(userinfo.substr(colon + 1));
    }
  }
  if (path_is_secret && path != absl::string_view::npos) out->emplace_back(rest.substr(path));
}

}  // namespace

std::vector<std::string> ConfigSecrets(const AgentConfig& cfg) {
  std::vector<std::string> out;
  auto add_dsn = [&out](const std::string& dsn) {
    std::string password = pg::DsnPassword(dsn);
    if (!password.empty()) out.push_back(std::move(password));
  };
  for (const TargetConfig& t : cfg.targets) add_dsn(t.dsn);
  add_dsn(cfg.restore_dsn);
  for (const SinkConfig& sink : cfg.alerting.sinks) {
    if (!sink.routing_key.empty()) out.push_back(sink.routing_key);
    if (!sink.hmac_secret.empty()) out.push_back(sink.hmac_secret);
    const bool path_is_secret = sink.type == "slack" || sink.type == "webhook";
    for (const std::string& url : sink.urls) AddUrlSecrets(url, path_is_secret, &out);
  }
  return out;
}

void RegisterConfigSecrets(const AgentConfig& cfg) {
  for (const std::string& secret : ConfigSecrets(cfg)) RegisterLogSecret(secret);
}

}  // namespace pgwarden
