#include "exporters/status_page.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

constexpr char kHostileTable[] = "<script>alert(\"t\")</script>&'x";
constexpr char kHostileRole[] = "<img src=x onerror=alert(1)>";

// Status is a status document with one open incident on public.customers
// by cleanup_job (or, hostile, on a table and role named to break out of
// the page), a revoke with its undo SQL, and a row history.
nlohmann::json Status(bool hostile) {
  const std::string table = hostile ? kHostileTable : "customers";
  const std::string object = "public." + table;
  const std::string role = hostile ? kHostileRole : "cleanup_job";
  nlohmann::json history = nlohmann::json::array();
  for (int i = 0; i < 10; ++i) {
    history.push_back(
        {int64_t{1700000000000} + int64_t{i} * 1000, i < 4 ? 100000 : 100000 - i * 5000});
  }
  nlohmann::json action = {
      {"id", 7},
      {"action", "revoke_writes"},
      {"role", role},
      {"schema", "public"},
      {"table", table},
      {"result", "done"},
      {"reason", ""},
      {"sql", "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.customers FROM cleanup_job"},
      {"undo_sql", "GRANT DELETE ON public.customers TO cleanup_job"}};
  nlohmann::json incident = {{"id", 3},
                             {"target", "shop"},
                             {"object", object},
                             {"role", role},
                             {"kind", "row_loss"},
                             {"severity", "critical"},
                             {"opened", "2023-11-14T22:13:20Z"},
                             {"last_fired", "2023-11-14T22:13:29Z"},
                             {"summary", "rows lost on " + object},
                             {"tables",
                              {{{"object", object},
                                {"schema", "public"},
                                {"table", table},
                                {"rows_before", 100000},
                                {"rows_now", 55000},
                                {"rows_lost", 45000}}}},
                             {"details", {{"remediation", {action}}}}};
  nlohmann::json audit_line = action;
  audit_line["time"] = "2023-11-14T22:13:25Z";
  audit_line["mode"] = "enforce";
  return {{"version", "1.2.3"},
          {"environment", "production"},
          {"instance", "host-a"},
          {"targets",
           {{{"name", "shop"},
             {"up", true},
             {"tables_watched", 4},
             {"last_sample", "2023-11-14T22:13:29Z"},
             {"row_history", {{object, history}}}}}},
          {"incidents", {{"open", {incident}}, {"resolved", nlohmann::json::array()}}},
          {"audit", {{"file", "/var/lib/pgwarden/audit.log"}, {"lines", {audit_line}}}}};
}

TEST_CASE("The status page shows an incident's table, role, undo and row history",
          "[status_page]") {
  const auto start = std::chrono::steady_clock::now();
  const std::string html = RenderStatusPage(Status(false));
  const auto took = std::chrono::steady_clock::now() - start;
  std::cout << "[figure] status page: " << html.size() << " bytes rendered in "
            << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us\n";
  INFO(html);
  CHECK(absl::StrContains(html, "<meta http-equiv=\"refresh\" content=\"5\">"));
  CHECK(absl::StrContains(html, "public.customers"));
  CHECK(absl::StrContains(html, "cleanup_job"));
  CHECK(absl::StrContains(html, "GRANT DELETE ON public.customers TO cleanup_job"));
  CHECK(absl::StrContains(html, "pgwarden undo 7"));
  CHECK(absl::StrContains(html, "45000"));
  CHECK(absl::StrContains(html, "<svg"));
  CHECK(absl::StrContains(html, "<polyline"));
  // Ten history points: ten x,y pairs in the polyline.
  const size_t points = html.find("points=\"");
  REQUIRE(points != std::string::npos);
  const std::string list = html.substr(points + 8, html.find('"', points + 8) - points - 8);
  CHECK(std::count(list.begin(), list.end(), ',') == 10);
  CHECK(absl::StrContains(html, "/var/lib/pgwarden/audit.log"));
  CHECK_FALSE(absl::StrContains(html, "http://"));
  CHECK_FALSE(absl::StrContains(html, "https://"));
  CHECK_FALSE(absl::StrContains(html, "<script"));
}

TEST_CASE("The status page escapes hostile table and role names", "[status_page]") {
  const std::string html = RenderStatusPage(Status(true));
  INFO(html);
  CHECK_FALSE(absl::StrContains(html, "<script"));
  CHECK_FALSE(absl::StrContains(html, "<img"));
  CHECK(absl::StrContains(html, "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;&amp;&#39;x"));
  CHECK(absl::StrContains(html, "&lt;img src=x onerror=alert(1)&gt;"));
  // The sparkline still finds the hostile table's history.
  CHECK(absl::StrContains(html, "<polyline"));
  CHECK(HtmlEscape("a&b<c>\"'") == "a&amp;b&lt;c&gt;&quot;&#39;");
}

TEST_CASE("The status page shows a document it cannot read as escaped JSON", "[status_page]") {
  nlohmann::json odd = {{"targets", "not a list"}, {"incidents", {{"open", {{{"id", "<b>"}}}}}}};
  const std::string html = RenderStatusPage(odd);
  CHECK(absl::StrContains(html, "#&lt;b&gt;"));
  CHECK_FALSE(absl::StrContains(html, "#<b>"));
  const std::string raw = RenderStatusPage(nlohmann::json("<i>"));
  CHECK(absl::StrContains(raw, "&lt;i&gt;"));
}

TEST_CASE("AuditTail reads the last lines from a bounded tail", "[status_page]") {
  const std::string dir = absl::StrCat("/tmp/pgwarden-audit-tail-", ::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/audit.log";
  CHECK(AuditTail(path)["lines"].empty());
  {
    std::ofstream out(path);
    for (int i = 1; i <= 5000; ++i)
      out << nlohmann::json{{"id", i}, {"pad", std::string(40, 'x')}} << "\n";
    out << "not json\n";
  }
  const nlohmann::json tail = AuditTail(path, 20, 4096);
  REQUIRE(tail["lines"].size() == 20);
  CHECK(tail["lines"][18]["id"] == 5000);
  CHECK(tail["lines"][19] == "not json");
  CHECK(tail["lines"][0]["id"] == 4982);
  // A tail smaller than the lines asked for: only whole lines.
  const nlohmann::json small = AuditTail(path, 20, 200);
  CHECK(small["lines"].size() < 20);
  for (const nlohmann::json& l : small["lines"]) {
    CHECK((l.is_string() || l.contains("pad")));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pgwarden
