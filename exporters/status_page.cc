#include "exporters/status_page.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace pgwarden {

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

nlohmann::json AuditTail(const std::string& path, size_t max_lines, size_t max_bytes) {
  nlohmann::json out = {{"file", path}, {"lines", nlohmann::json::array()}};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) out["error"] = std::strerror(errno);
    return out;
  }
  struct stat st {};
  std::string buf;
  if (::fstat(fd, &st) == 0) {
    const auto size = static_cast<size_t>(st.st_size);
    const size_t from = size > max_bytes ? size - max_bytes : 0;
    buf.resize(size - from);
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(from));
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    // A read that starts mid-file starts mid-line: that line is dropped.
    if (from > 0) {
      const size_t nl = buf.find('\n');
      buf.erase(0, nl == std::string::npos ? buf.size() : nl + 1);
    }
  } else {
    out["error"] = std::strerror(errno);
  }
  ::close(fd);
  std::vector<absl::string_view> lines = absl::StrSplit(buf, '\n', absl::SkipWhitespace());
  const size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
  for (size_t i = first; i < lines.size(); ++i) {
    nlohmann::json j = nlohmann::json::parse(lines[i], nullptr, false);
    out["lines"].push_back(j.is_discarded() ? nlohmann::json(std::string(lines[i])) : j);
  }
  return out;
}

namespace {

// Str is j[key] as text: a string as it is, "" when absent or null, any
// other value as JSON.
std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const nlohmann::json& v = j.at(key);
  if (v.is_null()) return "";
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// E is Str escaped for HTML.
std::string E(const nlohmann::json& j, const char* key) { return HtmlEscape(Str(j, key)); }

const nlohmann::json& Arr(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_array()) return kEmpty;
  return j.at(key);
}

int64_t Int(const nlohmann::json& j, const char* key, int64_t fallback) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_number()) return fallback;
  return j.at(key).get<int64_t>();
}

std::string Rows(int64_t n) { return n < 0 ? "?" : absl::StrCat(n); }

constexpr char kStyle[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1c1c1c;background:#fafafa}"
    "h1{font-size:1.5em;margin:0}h1 small{font-weight:normal;color:#666;font-size:.6em}"
    "h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:.3em 0}"
    "td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#eee}code{font:12px monospace;background:#f0f0f0;padding:1px 3px;"
    "word-break:break-all}.inc{border-left:6px solid #c0392b;background:#fff;"
    "padding:.5em 1em;margin:.8em 0}.inc.warning{border-color:#e67e22}"
    ".inc.info{border-color:#2980b9}.up{color:#1e8449;font-weight:bold}"
    ".down{color:#c0392b;font-weight:bold}.err{color:#c0392b}.muted{color:#777}";

// Sparkline draws [[unix_ms, rows], ...] as an inline SVG polyline over the
// span the points cover.
std::string Sparkline(const nlohmann::json& points) {
  constexpr double kW = 240;
  constexpr double kH = 40;
  std::vector<std::pair<double, double>> xy;
  for (const nlohmann::json& p : points) {
    if (p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_number()) {
      xy.emplace_back(p[0].get<double>(), p[1].get<double>());
    }
  }
  if (xy.empty()) return "<span class=\"muted\">no history yet</span>";
  if (xy.size() == 1) xy.emplace_back(xy[0].first + 1, xy[0].second);
  double t0 = xy.front().first;
  double t1 = xy.front().first;
  double lo = xy.front().second;
  double hi = xy.front().second;
  for (const auto& [t, v] : xy) {
    t0 = std::min(t0, t);
    t1 = std::max(t1, t);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  std::string pts;
  for (const auto& [t, v] : xy) {
    const double x = t1 > t0 ? (t - t0) / (t1 - t0) * kW : 0;
    const double y = hi > lo ? 2 + (hi - v) / (hi - lo) * (kH - 4) : kH / 2;
    absl::StrAppendFormat(&pts, "%s%.1f,%.1f", pts.empty() ? "" : " ", x, y);
  }
  return absl::StrFormat(
      "<svg width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\" role=\"img\"><title>%.0f to %.0f rows over %.0f s</title>"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"#f4f6f8\"/>"
      "<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.5\" points=\"%s\"/></svg>",
      kW, kH, kW, kH, lo, hi, (t1 - t0) / 1000, pts);
}

void Targets(const nlohmann::json& status, std::string* out) {
  absl::StrAppend(out,
                  "<h2>Targets</h2><table><tr><th>target</th><th>up</th><th>tables</th>"
                  "<th>last sample</th><th>last error</th></tr>");
  for (const nlohmann::json& t : Arr(status, "targets")) {
    const bool up = t.is_object() && t.value("up", false) == true;
    absl::StrAppend(out, "<tr><td>", E(t, "name"), "</td><td class=\"",
                    up ? "up\">up" : "down\">down", "</td><td>", E(t, "tables_watched"),
                    "</td><td>", E(t, "last_sample"), "</td><td class=\"err\">", E(t, "last_error"),
                    "</td></tr>");
  }
  absl::StrAppend(out, "</table>");
}

// History finds the row history of `object` on target `target`.
const nlohmann::json& History(const nlohmann::json& status, const std::string& target,
                              const std::string& object) {
  static const nlohmann::json kNone = nlohmann::json::array();
  for (const nlohmann::json& t : Arr(status, "targets")) {
    if (Str(t, "name") != target || !t.contains("row_history")) continue;
    const nlohmann::json& h = t.at("row_history");
    if (h.is_object() && h.contains(object)) return h.at(object);
  }
  return kNone;
}

void Actions(const nlohmann::json& inc, std::string* out) {
  const nlohmann::json* actions = nullptr;
  if (inc.contains("details") && inc.at("details").is_object() &&
      inc.at("details").contains("remediation") && inc.at("details").at("remediation").is_array()) {
    actions = &inc.at("details").at("remediation");
  }
  if (actions == nullptr || actions->empty()) {
    absl::StrAppend(out, "<p class=\"muted\">No remediation action.</p>");
    return;
  }
  absl::StrAppend(out,
                  "<table><tr><th>action</th><th>role</th><th>result</th><th>SQL run</th>"
                  "<th>undo</th></tr>");
  for (const nlohmann::json& a : *actions) {
    const std::string table = Str(a, "table");
    std::string undo = "<span class=\"muted\">none</span>";
    if (!Str(a, "undo_sql").empty()) {
      undo = absl::StrCat("<code>", E(a, "undo_sql"), "</code>");
      if (Int(a, "id", 0) > 0) {
        absl::StrAppend(&undo, "<br>or <code>pgwarden undo ", Int(a, "id", 0), "</code>");
      }
    }
    absl::StrAppend(
        out, "<tr><td>", E(a, "action"),
        table.empty() ? "" : absl::StrCat(" on ", E(a, "schema"), ".", HtmlEscape(table)),
        "</td><td>", E(a, "role"), "</td><td>", E(a, "result"),
        Str(a, "reason").empty() ? "" : absl::StrCat(" (", E(a, "reason"), ")"), "</td><td><code>",
        E(a, "sql"), "</code></td><td>", undo, "</td></tr>");
  }
  absl::StrAppend(out, "</table>");
}

void IncidentBlock(const nlohmann::json& status, const nlohmann::json& inc, std::string* out) {
  const std::string target = Str(inc, "target");
  const std::string role = Str(inc, "role");
  absl::StrAppend(out, "<div class=\"inc ", E(inc, "severity"), "\"><h3>#", E(inc, "id"), " ",
                  E(inc, "kind"), " on ", HtmlEscape(target), " &middot; ", E(inc, "severity"),
                  "</h3><p>", E(inc, "summary"), "</p><p>Culprit role: <b>",
                  role.empty() ? "not known yet" : HtmlEscape(role), "</b> &middot; opened ",
                  E(inc, "opened"), " &middot; last fired ", E(inc, "last_fired"), "</p>");
  const nlohmann::json& tables = Arr(inc, "tables");
  if (!tables.empty()) {
    absl::StrAppend(out,
                    "<table><tr><th>table</th><th>rows before</th><th>rows now</th>"
                    "<th>rows lost</th><th>row count, last 15 min</th></tr>");
    for (const nlohmann::json& t : tables) {
      absl::StrAppend(out, "<tr><td>", E(t, "object"), "</td><td>", Rows(Int(t, "rows_before", -1)),
                      "</td><td>", Rows(Int(t, "rows_now", -1)), "</td><td>",
                      Int(t, "rows_lost", 0), "</td><td>",
                      Sparkline(History(status, target, Str(t, "object"))), "</td></tr>");
    }
    absl::StrAppend(out, "</table>");
  }
  Actions(inc, out);
  absl::StrAppend(out, "</div>");
}

void Audit(const nlohmann::json& status, std::string* out) {
  if (!status.contains("audit") || !status.at("audit").is_object()) return;
  const nlohmann::json& audit = status.at("audit");
  const nlohmann::json& lines = Arr(audit, "lines");
  absl::StrAppend(out, "<h2>Audit: last ", lines.size(), " lines of <code>", E(audit, "file"),
                  "</code></h2>");
  if (!Str(audit, "error").empty())
    absl::StrAppend(out, "<p class=\"err\">", E(audit, "error"), "</p>");
  if (lines.empty()) return;
  absl::StrAppend(out,
                  "<table><tr><th>id</th><th>time</th><th>mode</th><th>action</th><th>role</th>"
                  "<th>table</th><th>result</th><th>SQL</th><th>undo SQL</th></tr>");
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    const nlohmann::json& l = *it;
    if (!l.is_object()) {
      absl::StrAppend(out, "<tr><td colspan=\"9\"><code>", HtmlEscape(l.dump()),
                      "</code></td></tr>");
      continue;
    }
    const std::string table = Str(l, "table");
    absl::StrAppend(
        out, "<tr><td>", E(l, "id"), "</td><td>", E(l, "time"), "</td><td>", E(l, "mode"),
        "</td><td>", E(l, "action"), "</td><td>", E(l, "role"), "</td><td>",
        table.empty() ? "" : absl::StrCat(E(l, "schema"), ".", HtmlEscape(table)), "</td><td>",
        E(l, "result"), Str(l, "reason").empty() ? "" : absl::StrCat(" (", E(l, "reason"), ")"),
        "</td><td><code>", E(l, "sql"), "</code></td><td>",
        Str(l, "undo_sql").empty() ? "<span class=\"muted\">none</span>"
                                   : absl::StrCat("<code>", E(l, "undo_sql"), "</code>"),
        "</td></tr>");
  }
  absl::StrAppend(out, "</table>");
}

std::string Render(const nlohmann::json& status) {
  std::string out = absl::StrCat(
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"5\"><title>pgwarden ",
      E(status, "environment"), "</title><style>", kStyle,
      "</style></head><body><h1>pgwarden <small>", E(status, "version"), " &middot; ",
      E(status, "environment"), " &middot; ", E(status, "instance"),
      "</small></h1><p><a href=\"/metrics\">/metrics</a> &middot; <a href=\"/healthz\">/healthz</a>"
      " &middot; <a href=\"/status\">/status</a> (this page as JSON)</p>");
  Targets(status, &out);
  const nlohmann::json& incidents =
      status.contains("incidents") ? status.at("incidents") : nlohmann::json::object();
  const nlohmann::json& open = Arr(incidents, "open");
  absl::StrAppend(&out, "<h2>Open incidents (", open.size(), ")</h2>");
  if (open.empty()) absl::StrAppend(&out, "<p class=\"muted\">None.</p>");
  for (const nlohmann::json& inc : open) IncidentBlock(status, inc, &out);
  const nlohmann::json& resolved = Arr(incidents, "resolved");
  if (!resolved.empty()) {
    absl::StrAppend(&out,
                    "<h2>Recently resolved</h2><table><tr><th>id</th><th>resolved</th>"
                    "<th>role</th><th>summary</th></tr>");
    for (size_t i = 0; i < resolved.size() && i < 10; ++i) {
      const nlohmann::json& inc = resolved[i];
      absl::StrAppend(&out, "<tr><td>#", E(inc, "id"), "</td><td>", E(inc, "resolved"), "</td><td>",
                      E(inc, "role"), "</td><td>", E(inc, "summary"), "</td></tr>");
    }
    absl::StrAppend(&out, "</table>");
  }
  Audit(status, &out);
  absl::StrAppend(&out, "</body></html>\n");
  return out;
}

}  // namespace

std::string RenderStatusPage(const nlohmann::json& status) {
  try {
    if (status.is_object()) return Render(status);
  } catch (const nlohmann::json::exception&) {
    // Falls through to the raw document.
  }
  return absl::StrCat(
      "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
      "content=\"5\"><title>pgwarden</title></head><body><h1>pgwarden</h1><pre>",
      HtmlEscape(status.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)),
      "</pre></body></html>\n");
}

}  // namespace pgwarden
