// Secrets in log messages: registered values and passwords found by pattern
// come out as [redacted] in every format.
#include "core/log_redact.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "core/log.h"
#include "nlohmann/json.hpp"
#include "tests/core/stderr_capture.h"

namespace pgwarden {
namespace {

using testing::StderrCapture;

// Logged writes `message` once in `format` and returns the line.
std::string Logged(LogFormat format, const std::string& message) {
  SetLogFormat(format);
  StderrCapture capture;
  PGW_LOG(Warning) << message;
  SetLogFormat(LogFormat::kText);
  return capture.Take();
}

const std::vector<LogFormat> kFormats = {LogFormat::kText, LogFormat::kLogfmt, LogFormat::kJson};

TEST_CASE("Log redaction: a registered secret never appears in any format", "[core][log]") {
  ClearLogSecrets();
  RegisterLogSecret("R0UTINGKEY0000000000000000000000");
  // Quotes and a backslash: JSON and logfmt escape them, so the secret is
  // replaced before the line is formatted.
  RegisterLogSecret(R"(pa"ss\word)");
  RegisterLogSecret("abc");  // too short to register
  for (LogFormat f : kFormats) {
    const std::string line =
        Logged(f, R"(sink oncall: key R0UTINGKEY0000000000000000000000 and pa"ss\word, abc)");
    INFO(line);
    CHECK_FALSE(absl::StrContains(line, "R0UTINGKEY"));
    CHECK_FALSE(absl::StrContains(line, "ss\\word"));
    CHECK_FALSE(absl::StrContains(line, "ss\\\\word"));
    CHECK(absl::StrContains(line, "key [redacted] and [redacted], abc"));
  }
  const std::string json = Logged(LogFormat::kJson, "again pa\"ss\\word");
  CHECK(nlohmann::json::parse(json).at("msg") == "again [redacted]");
  ClearLogSecrets();
  CHECK(absl::StrContains(Logged(LogFormat::kText, "R0UTINGKEY0000000000000000000000"),
                          "R0UTINGKEY0000000000000000000000"));
}

TEST_CASE("Log redaction: passwords in DSNs and URLs by pattern, unregistered", "[core][log]") {
  ClearLogSecrets();
  struct Case {
    std::string message, expected;
  };
  const std::vector<Case> cases = {
      {"cannot connect to host=db password=hunter22 user=x",
       "cannot connect to host=db password=[redacted] user=x"},
      {"dsn host=db PASSWORD = 'a b\\' c' user=x", "dsn host=db PASSWORD = [redacted] user=x"},
      {"cannot connect to postgresql://u:hunter22@db:5432/shop: refused",
       "cannot connect to postgresql://u:[redacted]@db:5432/shop: refused"},
      {"posting to https://bot:t0ken99@hooks.example.com/x failed",
       "posting to https://bot:[redacted]@hooks.example.com/x failed"},
      {"no secret in postgresql://u@db/shop", "no secret in postgresql://u@db/shop"},
      {"password authentication failed for user \"x\"",
       "password authentication failed for user \"x\""},
  };
  for (const Case& c : cases) {
    for (LogFormat f : kFormats) {
      const std::string line = Logged(f, c.message);
      INFO(line);
      CHECK_FALSE(absl::StrContains(line, "hunter22"));
      CHECK_FALSE(absl::StrContains(line, "t0ken99"));
      CHECK_FALSE(absl::StrContains(line, "a b"));
      if (f == LogFormat::kJson) CHECK(nlohmann::json::parse(line).at("msg") == c.expected);
      if (f == LogFormat::kText) CHECK(absl::EndsWith(line, "] " + c.expected + "\n"));
    }
  }
}

TEST_CASE("RedactPasswordPatterns takes the replacement it is given", "[core][log]") {
  CHECK(RedactPasswordPatterns("host=db password=s3cret user=x", "***") ==
        "host=db password=*** user=x");
  CHECK(RedactPasswordPatterns("postgresql://u:s3cret@db/shop", "***") ==
        "postgresql://u:***@db/shop");
}

}  // namespace
}  // namespace pgwarden
