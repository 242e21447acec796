#include "exporters/exposition.h"

#include <zlib.h>

#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "prometheus/text_serializer.h"

namespace pgwarden {
namespace {

struct FamilyHeader {
  const char* name;
  const char* type;
  const char* help;
};

// The families whose per-table samples come from TableLines (their other
// samples, if any, from the registry).
constexpr FamilyHeader kTableHeaders[kTableFamilies] = {
    {"pgwarden_table_rows", "gauge",
     "Live rows of a watched table at the last sample (n_live_tup)."},
    {"pgwarden_table_rows_deleted_total", "counter",
     "Rows deleted from a watched table, from pg_stat counters."},
    {"pgwarden_table_rows_inserted_total", "counter",
     "Rows inserted into a watched table, from pg_stat counters."},
    {"pgwarden_anomaly_score", "gauge",
     "Anomaly score in [0,1] of a watched series at the last sample."},
};

int TableFamilyOf(const std::string& name) {
  for (int i = 0; i < kTableFamilies; ++i) {
    if (name == kTableHeaders[i].name) return i;
  }
  return -1;
}

void AppendEscaped(std::string* out, absl::string_view v) {
  for (const char c : v) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
}

}  // namespace

std::string SeriesPrefix(const prometheus::Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    absl::StrAppend(&out, first ? "" : ",", k, "=\"");
    AppendEscaped(&out, v);
    out.push_back('"');
    first = false;
  }
  return out;
}

const char* TableFamilyName(TableFamily f) { return kTableHeaders[static_cast<int>(f)].name; }

void AppendSample(std::string* out, TableFamily f, const std::string& prefix,
                  absl::string_view extra, double value) {
  absl::StrAppend(out, TableFamilyName(f), prefix, extra, "} ");
  if (std::isnan(value)) {
    out->append("NaN");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
  } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
    absl::StrAppend(out, static_cast<int64_t>(value));
  } else {
    absl::StrAppendFormat(out, "%.6g", value);
  }
  out->push_back('\n');
}

Exposition::Exposition(std::shared_ptr<prometheus::Registry> registry, absl::Duration max_age)
    : registry_(std::move(registry)), max_age_(max_age) {}

void Exposition::Publish(const std::string& id, std::shared_ptr<const TableLines> lines) {
  absl::MutexLock lock(&mu_);
  if (lines == nullptr) {
    lines_.erase(id);
  } else {
    lines_[id] = std::move(lines);
  }
  ++generation_;
}

std::shared_ptr<const std::string> Exposition::Text(bool gzip) {
  absl::MutexLock render(&render_mu_);
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    generation = generation_;
  }
  const absl::Time now = absl::Now();
  if (text_ == nullptr || generation != rendered_generation_ || now - rendered_at_ >= max_age_) {
    rendered_generation_ = generation;
    rendered_at_ = now;
    RenderLocked();
  }
  if (!gzip) return text_;
  if (gzipped_ == nullptr) gzipped_ = std::make_shared<const std::string>(Gzip(*text_));
  return gzipped_;
}

void Exposition::RenderLocked() {
  std::vector<std::shared_ptr<const TableLines>> lines;
  {
    absl::MutexLock lock(&mu_);
    lines.reserve(lines_.size());
    for (const auto& [id, l] : lines_) lines.push_back(l);
  }
  std::string out;
  out.reserve(text_ != nullptr ? text_->size() + 4096 : 1 << 16);
  const prometheus::TextSerializer serializer;
  bool seen[kTableFamilies] = {};
  for (prometheus::MetricFamily& family : registry_->Collect()) {
    const int table_family = TableFamilyOf(family.name);
    std::vector<prometheus::MetricFamily> one;
    one.push_back(std::move(family));
    out.append(serializer.Serialize(one));
    if (table_family < 0) continue;
    seen[table_family] = true;
    for (const auto& l : lines) out.append(l->text[table_family]);
  }
  for (int i = 0; i < kTableFamilies; ++i) {
    if (seen[i]) continue;
    absl::StrAppend(&out, "# HELP ", kTableHeaders[i].name, " ", kTableHeaders[i].help, "\n# TYPE ",
                    kTableHeaders[i].name, " ", kTableHeaders[i].type, "\n");
    for (const auto& l : lines) out.append(l->text[i]);
  }
  text_ = std::make_shared<const std::string>(std::move(out));
  gzipped_.reset();
}

std::string Gzip(absl::string_view data) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer; level 1: a scrape is
  // compressed in a few milliseconds.
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return "";
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : "";
}

}  // namespace pgwarden
