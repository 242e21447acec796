#include "core/config_node.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

TEST_CASE("ConfigNode reports unknown keys with path and line", "[config]") {
  YAML::Node root = YAML::Load("a: 1\nsection:\n  good: 2\n  bda: 3\n");
  ConfigErrors errors("x.yaml");
  ConfigNode node(root, "", &errors);
  node.Child("section").CheckKeys({"good"});
  REQUIRE(errors.errors().size() == 1);
  CHECK(absl::StartsWith(errors.errors()[0], "x.yaml:4:"));
  CHECK(absl::StrContains(errors.errors()[0], "section.bda: unknown key"));
}

TEST_CASE("ConfigNode typed getters reject wrong types and keep defaults", "[config]") {
  YAML::Node root = YAML::Load("n: abc\nd: 5 parsecs\nb: maybe\nl: scalar\nok: 250ms\n");
  ConfigErrors errors("c.yaml");
  ConfigNode node(root, "", &errors);
  CHECK(node.GetInt("n", 7) == 7);
  CHECK(node.GetDuration("d", absl::Seconds(1)) == absl::Seconds(1));
  CHECK(node.GetBool("b", true));
  CHECK(node.GetStringList("l", {"x"}) == std::vector<std::string>{"x"});
  CHECK(node.GetDuration("ok", absl::Seconds(1)) == absl::Milliseconds(250));
  REQUIRE(errors.errors().size() == 4);
  CHECK(absl::StrContains(errors.errors()[0], "n: expected an integer"));
  CHECK(absl::StrContains(errors.errors()[1], "d: expected a duration"));
  CHECK(absl::StrContains(errors.errors()[2], "b: expected true or false"));
  CHECK(absl::StrContains(errors.errors()[3], "l: expected a list of strings"));
  CHECK_FALSE(errors.ToStatus().ok());
}

TEST_CASE("ReadSecret takes inline, env or file, never two", "[config]") {
  ::setenv("PGWARDEN_TEST_SECRET", "s3cret", 1);
  YAML::Node root = YAML::Load(
      "a: {key: inline}\nb: {key_env: PGWARDEN_TEST_SECRET}\n"
      "c: {key: x, key_env: Y}\nd: {key_env: PGWARDEN_TEST_UNSET_VAR}\n");
  ConfigErrors errors("s.yaml");
  ConfigNode node(root, "", &errors);
  CHECK(ReadSecret(node.Child("a"), "key", true) == "inline");
  CHECK(ReadSecret(node.Child("b"), "key", true) == "s3cret");
  CHECK(errors.empty());
  CHECK(ReadSecret(node.Child("c"), "key", true).empty());
  CHECK(ReadSecret(node.Child("d"), "key", true).empty());
  REQUIRE(errors.errors().size() == 2);
  CHECK(absl::StrContains(errors.errors()[0], "c.key: set only one of"));
  CHECK(absl::StrContains(errors.errors()[1], "PGWARDEN_TEST_UNSET_VAR is not set"));
}

}  // namespace
}  // namespace pgwarden
