#ifndef PGWARDEN_TESTS_AGENT_PARSE_CONFIG_H_
#define PGWARDEN_TESTS_AGENT_PARSE_CONFIG_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "agent/config.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace testing {

// ParseOk parses `yaml` as pgwarden.yaml and requires it to load.
inline AgentConfig ParseOk(const std::string& yaml) {
  absl::StatusOr<AgentConfig> c = ParseConfig(yaml, "pgwarden.yaml");
  INFO(c.status().message());
  REQUIRE(c.ok());
  return *std::move(c);
}

// ParseError parses `yaml` as pgwarden.yaml, requires it to be refused as
// invalid and returns the error.
inline std::string ParseError(const std::string& yaml) {
  absl::StatusOr<AgentConfig> c = ParseConfig(yaml, "pgwarden.yaml");
  REQUIRE_FALSE(c.ok());
  CHECK(absl::IsInvalidArgument(c.status()));
  return std::string(c.status().message());
}

}  // namespace testing
}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_AGENT_PARSE_CONFIG_H_
