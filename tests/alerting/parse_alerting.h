#ifndef PGWARDEN_TESTS_ALERTING_PARSE_ALERTING_H_
#define PGWARDEN_TESTS_ALERTING_PARSE_ALERTING_H_

#include <string>
#include <vector>

#include "alerting/config.h"
#include "core/config_node.h"
#include "yaml-cpp/yaml.h"

namespace pgwarden {
namespace testing {

// ParseAlerting parses the `alerting:` section of `yaml` into `out` and
// returns the errors.
inline std::vector<std::string> ParseAlerting(const std::string& yaml, AlertingConfig* out) {
  YAML::Node root = YAML::Load(yaml);
  ConfigErrors errors("pgwarden.yaml");
  ConfigNode node(root, "", &errors);
  ParseAlertingConfig(node.Child("alerting"), out);
  return errors.errors();
}

}  // namespace testing
}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_ALERTING_PARSE_ALERTING_H_
