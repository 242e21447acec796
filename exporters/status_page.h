#ifndef PGWARDEN_EXPORTERS_STATUS_PAGE_H_
#define PGWARDEN_EXPORTERS_STATUS_PAGE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace pgwarden {

// HtmlEscape escapes & < > " ' for HTML text and attribute values.
std::string HtmlEscape(absl::string_view text);

// AuditTail is the status document's "audit" part: {"file": path, "lines":
// [...]}, the last `max_lines` lines of the remediation audit file (JSON
// lines, each parsed; a line that does not parse is kept as a string),
// read from at most its last `max_bytes` bytes. A missing file has no
// lines; one that cannot be read adds "error".
nlohmann::json AuditTail(const std::string& path, size_t max_lines = 20,
                         size_t max_bytes = size_t{64} * 1024);

// RenderStatusPage is the status page served at /: the status document
// (Agent::StatusJson) as plain HTML with inline SVG sparklines, no scripts
// and no external references, refreshing itself every 5 s. Every string of
// the document is escaped. A document it cannot read is shown as escaped
// JSON.
std::string RenderStatusPage(const nlohmann::json& status);

}  // namespace pgwarden

#endif  // PGWARDEN_EXPORTERS_STATUS_PAGE_H_
