#include "core/target_id.h"

#include "catch2/catch.hpp"

namespace pgwarden {

TEST_CASE("TargetId: a plain target is its name - a server target's database name/database",
          "[core]") {
  CHECK(TargetId("shop", "") == "shop");
  CHECK(TargetId("main", "app1") == "main/app1");
  using L = std::map<std::string, std::string>;
  CHECK(TargetLabels("shop") == L{{"target", "shop"}});
  CHECK(TargetLabels("main/app1") == L{{"target", "main"}, {"database", "app1"}});
  // A database name may hold '/': only the first one separates.
  CHECK(TargetLabels("main/a/b") == L{{"target", "main"}, {"database", "a/b"}});
  CHECK(TargetLabels("main/app1", "reason", "connect") ==
        L{{"target", "main"}, {"database", "app1"}, {"reason", "connect"}});
}

TEST_CASE("TargetFileName: one safe path component whatever the database name", "[core]") {
  CHECK(TargetFileName("shop") == "shop");
  CHECK(TargetFileName("main/app1") == "main%2Fapp1");
  CHECK(TargetFileName("main/../x") == "main%2F..%2Fx");
  CHECK(TargetFileName("main/é") == "main%2F%C3%A9");
  CHECK(TargetFileName(".hidden") == "%2Ehidden");
}

}  // namespace pgwarden
