// The status page end to end: real PostgreSQL 15, the real pgwarden binary
// in enforce mode stopping the cleanup script, and headless Chromium loading
// http://127.0.0.1:PORT/ (screenshot and DOM).

#include <httplib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "devtools/process.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {
namespace {

constexpr char kChromium[] = "/usr/bin/chromium";

nlohmann::json Status(int port) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(2, 0);
  auto res = cli.Get("/status");
  if (!res || res->status != 200) return nullptr;
  return nlohmann::json::parse(res->body, nullptr, false);
}

// Remediated is the open incident of `role` once its remediation carries an
// undo SQL and the row history of its table has points (null until then).
nlohmann::json Remediated(const nlohmann::json& status, const std::string& role) {
  if (!status.is_object()) return nullptr;
  for (const nlohmann::json& inc : status["incidents"]["open"]) {
    if (inc.value("role", "") != role || !inc["details"].contains("remediation")) continue;
    for (const nlohmann::json& a : inc["details"]["remediation"]) {
      if (a.value("result", "") == "done" && !a.value("undo_sql", "").empty()) return inc;
    }
  }
  return nullptr;
}

// ChromiumArgs are a headless run confined to 127.0.0.1 with its own
// profile directory.
std::vector<std::string> ChromiumArgs(const std::string& profile) {
  return {kChromium,
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--no-default-browser-check",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--disable-extensions",
          "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
          absl::StrCat("--user-data-dir=", profile)};
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("Headless Chromium shows the incident's table, role and undo on the status page",
          "[integration][status_page_e2e]") {
  REQUIRE(std::filesystem::exists(kChromium));  // CI installs it: never skipped
  Scenario sc(20000);
  sc.StartAgent(sc.Yaml("enforce", "  actions: [nologin, revoke_writes, terminate]\n"));
  auto job =
      StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 15, 1000, absl::Milliseconds(300)));
  REQUIRE(job.ok());
  nlohmann::json inc;
  const bool remediated = WaitUntil(
      [&] {
        inc = Remediated(Status(sc.agent->port()), kCleanupRole);
        return !inc.is_null();
      },
      absl::Seconds(20));
  if (!WaitProcess(*job, absl::Seconds(5)).ok()) StopProcess(*job, absl::Seconds(2));
  INFO(sc.agent->Log());
  REQUIRE(remediated);
  std::string undo;
  for (const nlohmann::json& a : inc["details"]["remediation"]) {
    if (undo.empty() && a.value("result", "") == "done") undo = a.value("undo_sql", "");
  }
  // A few more samples into the row history.
  absl::SleepFor(absl::Seconds(2));

  const std::string dir = absl::StrCat(sc.pg->dir(), "/chromium");
  std::filesystem::create_directories(dir);
  const std::string url = absl::StrCat("http://127.0.0.1:", sc.agent->port(), "/");
  const char* size = std::getenv("PGWARDEN_SCREENSHOT_WINDOW");
  const std::string screenshot = std::string(PGWARDEN_TEST_OUTPUT_DIR) + "/status-page.png";
  std::filesystem::remove(screenshot);
  ProcessOptions shot;
  shot.argv = ChromiumArgs(dir + "/profile-shot");
  shot.argv.push_back(absl::StrCat("--screenshot=", screenshot));
  shot.argv.push_back(absl::StrCat("--window-size=", size != nullptr ? size : "1280,1600"));
  shot.argv.push_back(url);
  shot.stdout_path = dir + "/shot.log";
  shot.stderr_path = dir + "/shot.log";
  ProcessOptions dom;
  dom.argv = ChromiumArgs(dir + "/profile-dom");
  dom.argv.push_back("--dump-dom");
  dom.argv.push_back(url);
  dom.stdout_path = dir + "/dom.html";
  dom.stderr_path = dir + "/dom.log";
  // Both at once, each bounded and killed by pid if it hangs.
  const absl::Time started = absl::Now();
  absl::StatusOr<pid_t> shot_pid = SpawnProcess(shot);
  absl::StatusOr<pid_t> dom_pid = SpawnProcess(dom);
  REQUIRE(shot_pid.ok());
  REQUIRE(dom_pid.ok());
  absl::StatusOr<int> dom_exit = WaitProcess(*dom_pid, absl::Seconds(20));
  if (!dom_exit.ok()) StopProcess(*dom_pid, absl::Seconds(2));
  absl::StatusOr<int> shot_exit =
      WaitProcess(*shot_pid, absl::Seconds(20) - (absl::Now() - started));
  if (!shot_exit.ok()) StopProcess(*shot_pid, absl::Seconds(2));
  std::cout << "[figure] status page in chromium: " << absl::ToDoubleSeconds(absl::Now() - started)
            << " s; screenshot " << screenshot << "\n";
  INFO(ReadFile(dir + "/dom.log"));
  INFO(ReadFile(dir + "/shot.log"));
  REQUIRE(dom_exit.ok());
  REQUIRE(shot_exit.ok());
  CHECK(*dom_exit == 0);
  CHECK(*shot_exit == 0);
  const std::string html = ReadFile(dir + "/dom.html");
  INFO(html);
  CHECK(absl::StrContains(html, "public.customers"));
  CHECK(absl::StrContains(html, kCleanupRole));
  REQUIRE_FALSE(undo.empty());
  CHECK(absl::StrContains(html, undo));
  CHECK(absl::StrContains(html, "<polyline"));
  CHECK(absl::StrContains(html, "Audit: last"));
  REQUIRE(std::filesystem::exists(screenshot));
  CHECK(std::filesystem::file_size(screenshot) > 10000);
}

}  // namespace
}  // namespace pgwarden::testing
