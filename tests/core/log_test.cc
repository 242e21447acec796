// The log line in each format: its shape, the escaping that keeps one event
// on one line, the component from the source path and the target from the
// thread's scope.
#include "core/log.h"

#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "core/log_format.h"
#include "nlohmann/json.hpp"
#include "tests/core/stderr_capture.h"

namespace pgwarden {
namespace {

using testing::StderrCapture;

// FormatScope sets the log format and puts text back at the end.
struct FormatScope {
  explicit FormatScope(LogFormat f) { SetLogFormat(f); }
  ~FormatScope() { SetLogFormat(LogFormat::kText); }
};

const char kTime[] = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)";

bool Matches(const std::string& line, const std::string& pattern) {
  return std::regex_match(line, std::regex(pattern));
}

std::string LogfmtValue(const std::string& s) {
  std::string out;
  internal::AppendLogfmtValue(s, &out);
  return out;
}

TEST_CASE("Log text: time level component target and caller on one line", "[core][log]") {
  FormatScope format(LogFormat::kText);
  StderrCapture capture;
  PGW_LOG(Info) << "plain " << 42;
  {
    const ScopedLogTarget target("shop");
    PGW_LOG(Warning) << "two\nlines\r";
  }
  PGW_LOG(Error) << "after";
  const std::vector<std::string> lines = capture.TakeLines();
  REQUIRE(lines.size() == 3);
  CHECK(Matches(lines[0], absl::StrCat(kTime, R"( INFO core log_test\.cc:\d+\] plain 42)")));
  CHECK(Matches(lines[1],
                absl::StrCat(kTime, R"( WARN core\[shop\] log_test\.cc:\d+\] two\\nlines\\r)")));
  CHECK(Matches(lines[2], absl::StrCat(kTime, R"( ERROR core log_test\.cc:\d+\] after)")));
}

TEST_CASE("Log logfmt: go-kit keys and quoting", "[core][log]") {
  FormatScope format(LogFormat::kLogfmt);
  StderrCapture capture;
  PGW_LOG(Info) << "ready";
  {
    const ScopedLogTarget target("main/app 1");
    PGW_LOG(Warning) << R"(say "hi" a=b c\d)"
                     << "\nnext";
  }
  const std::vector<std::string> lines = capture.TakeLines();
  REQUIRE(lines.size() == 2);
  CHECK(Matches(lines[0],
                absl::StrCat("ts=", kTime,
                             R"( level=info component=core caller=log_test\.cc:\d+ msg=ready)")));
  CHECK(Matches(lines[1],
                absl::StrCat("ts=", kTime, R"( level=warn component=core target="main/app 1" )",
                             R"(caller=log_test\.cc:\d+ msg="say \\"hi\\" a=b c\\\\d\\nnext")")));
}

TEST_CASE("Log logfmt values: bare or quoted and escaped", "[core][log]") {
  CHECK(LogfmtValue("plain") == "plain");
  CHECK(LogfmtValue("a\\b") == "a\\b");  // a backslash alone needs no quotes
  CHECK(LogfmtValue("") == R"("")");
  CHECK(LogfmtValue("a b") == R"("a b")");
  CHECK(LogfmtValue("k=v") == R"("k=v")");
  CHECK(LogfmtValue(R"(say "hi")") == R"("say \"hi\"")");
  CHECK(LogfmtValue("tab\there") == R"("tab\there")");
  CHECK(LogfmtValue("a\nb\\c") == R"("a\nb\\c")");
  CHECK(LogfmtValue(std::string("nul\0x", 5)) == R"("nul\u0000x")");
  CHECK(LogfmtValue("caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(LogfmtValue("bad\xFF") == "\"bad\xEF\xBF\xBD\"");
}

TEST_CASE("Log JSON: one object per line whatever the message holds", "[core][log]") {
  const std::string kControls = std::string("ctl \x01\x1f\x7f nul ") + '\0' + " end";
  FormatScope format(LogFormat::kJson);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plain", "plain"},
      {"quote \" backslash \\ slash /", "quote \" backslash \\ slash /"},
      {"new\nline\r\ttab", "new\nline\r\ttab"},
      {kControls, kControls},
      {"caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80"},
      {"stray \xFF\xFE end", "stray \xEF\xBF\xBD\xEF\xBF\xBD end"},
      {"cut \xC3", "cut \xEF\xBF\xBD"},
      {"overlong \xC0\xAF", "overlong \xEF\xBF\xBD\xEF\xBF\xBD"},
      {"surrogate \xED\xA0\x80", "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
  };
  StderrCapture capture;
  {
    const ScopedLogTarget target("shop");
    for (const auto& c : cases) PGW_LOG(Info) << c.first;
  }
  PGW_LOG(Error) << "no target";
  const std::vector<std::string> lines = capture.TakeLines();
  REQUIRE(lines.size() == cases.size() + 1);
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(lines[i]);
    nlohmann::json j = nlohmann::json::parse(lines[i]);  // throws if not JSON
    CHECK(std::regex_match(j.at("ts").get<std::string>(), std::regex(kTime)));
    CHECK(j.at("level") == "info");
    CHECK(j.at("component") == "core");
    CHECK(j.at("target") == "shop");
    CHECK(absl::StartsWith(j.at("caller").get<std::string>(), "log_test.cc:"));
    CHECK(j.at("msg") == cases[i].second);
  }
  nlohmann::json last = nlohmann::json::parse(lines.back());
  CHECK(last.at("level") == "error");
  CHECK_FALSE(last.contains("target"));
}

TEST_CASE("Log component: the source file's directory or the one named", "[core][log]") {
  CHECK(internal::LogComponent("/src/pgwarden/agent/target_loop.cc") == "agent");
  CHECK(internal::LogComponent("alerting/sink_worker.cc") == "alerting");
  CHECK(internal::LogComponent("/remediation/x.cc") == "remediation");
  CHECK(internal::LogComponent("main.cc") == "pgwarden");
  CHECK(internal::LogComponent("/main.cc") == "pgwarden");
  FormatScope format(LogFormat::kJson);
  StderrCapture capture;
  PGW_LOG(Info) << "from the path";
  PGW_LOG_AS(Info, "http") << "named";
  const std::vector<std::string> lines = capture.TakeLines();
  REQUIRE(lines.size() == 2);
  CHECK(nlohmann::json::parse(lines[0]).at("component") == "core");
  CHECK(nlohmann::json::parse(lines[1]).at("component") == "http");
}

TEST_CASE("Log target: the scope's thread only and cleared after it", "[core][log]") {
  CHECK(CurrentLogTarget().empty());
  {
    const ScopedLogTarget outer("main");
    CHECK(CurrentLogTarget() == "main");
    {
      const ScopedLogTarget inner("main/app1");
      CHECK(CurrentLogTarget() == "main/app1");
      std::string other = "unset";
      std::thread t([&other] { other = std::string(CurrentLogTarget()); });
      t.join();
      CHECK(other.empty());
    }
    CHECK(CurrentLogTarget() == "main");
  }
  CHECK(CurrentLogTarget().empty());
}

int g_evaluated = 0;
int Expensive() { return ++g_evaluated; }

TEST_CASE("Log level: a disabled level does not evaluate its message", "[core][log]") {
  SetLogLevel(LogLevel::kWarning);
  StderrCapture capture;
  PGW_LOG(Info) << Expensive();
  PGW_LOG(Debug) << Expensive();
  PGW_LOG(Warning) << "kept";
  SetLogLevel(LogLevel::kInfo);
  CHECK(g_evaluated == 0);
  CHECK(capture.TakeLines().size() == 1);
}

TEST_CASE("Log lines from threads never interleave", "[core][log]") {
  FormatScope format(LogFormat::kJson);
  constexpr int kThreads = 4;
  constexpr int kLines = 500;
  const std::string filler(300, 'x');
  StderrCapture capture;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &filler] {
      const ScopedLogTarget target(absl::StrCat("t", t));
      for (int i = 0; i < kLines; ++i) PGW_LOG(Info) << "line " << i << " " << filler;
    });
  }
  for (std::thread& th : threads) th.join();
  const absl::Duration took = absl::Now() - start;
  const std::vector<std::string> lines = capture.TakeLines();
  REQUIRE(lines.size() == static_cast<size_t>(kThreads) * kLines);
  for (const std::string& line : lines) {
    const nlohmann::json j = nlohmann::json::parse(line);
    REQUIRE(absl::EndsWith(j.at("msg").get<std::string>(), filler));
  }
  WARN(absl::StrCat(kThreads * kLines, " JSON lines from ", kThreads, " threads in ",
                    absl::FormatDuration(took), " (",
                    absl::ToDoubleMicroseconds(took) / (kThreads * kLines), " us a line)"));
}

}  // namespace
}  // namespace pgwarden
