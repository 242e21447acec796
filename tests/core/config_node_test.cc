#include "core/config_node.h"

#include <cstdlib>

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

TEST_CASE("ConfigNode reports unknown keys with path and line", "[config]") {
  YAML::Node root = YAML::Load("a: 1\nsection:\n  good: 2\n  bda: 3\n");
  ConfigErrors errors("x.yaml");
  ConfigNode node(root, "", &errors);
  node.Child("section").CheckKeys({"good"});
  REQUIRE(errors.errors().size() == 1);
  CHECK(errors.errors()[0].find("x.yaml:4:") == 0);
  CHECK(errors.errors()[0].find("section.bda: unknown key") != std::string::npos);
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
  CHECK(errors.errors()[0].find("n: expected an integer") != std::string::npos);
  CHECK(errors.errors()[1].find("d: expected a duration") != std::string::npos);
  CHECK(errors.errors()[2].find("b: expected true or false") != std::string::npos);
  CHECK(errors.errors()[3].find("l: expected a list of strings") != std::string::npos);
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
  CHECK(errors.errors()[0].find("c.key: set only one of") != std::string::npos);
  CHECK(errors.errors()[1].find("PGWARDEN_TEST_UNSET_VAR is not set") != std::string::npos);
}

}  // namespace
}  // namespace pgwarden
