#ifndef PGWARDEN_AGENT_CONFIG_SECRETS_H_
#define PGWARDEN_AGENT_CONFIG_SECRETS_H_

#include <string>
#include <vector>

#include "agent/config.h"

namespace pgwarden {

// ConfigSecrets lists the secret values `cfg` holds: the passwords of the
// targets' and restore's DSNs, the sinks' routing keys and HMAC secrets, the
// password of a sink URL's user:password@, and the path and query of Slack
// and webhook URLs (a Slack webhook's path is its token).
std::vector<std::string> ConfigSecrets(const AgentConfig& cfg);

// RegisterConfigSecrets registers every ConfigSecrets value with the logger,
// which writes "[redacted]" in its place (LoadConfig calls it).
void RegisterConfigSecrets(const AgentConfig& cfg);

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_CONFIG_SECRETS_H_
