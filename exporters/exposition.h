#ifndef PGWARDEN_EXPORTERS_EXPOSITION_H_
#define PGWARDEN_EXPORTERS_EXPOSITION_H_

#include <array>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"

namespace pgwarden {

// TableFamily names the per-table families pgwarden renders itself: 25,000
// series of 5,000 tables cost prometheus-cpp a label map, a metric object
// and a copy of both on every scrape; rendered here they cost one line of
// text per series, written once per tick.
enum class TableFamily { kRows = 0, kDeleted, kInserted, kScore };
inline constexpr int kTableFamilies = 4;

// TableLines is one target's per-table samples as exposition text, one
// string per TableFamily, rendered by its loop once per tick.
struct TableLines {
  std::array<std::string, kTableFamilies> text;
};

// SeriesPrefix renders `labels` as `name{k="v",...` (values escaped as the
// text format asks, no closing brace): a table's series share it.
std::string SeriesPrefix(const prometheus::Labels& labels);

// TableFamilyName is the metric name of `f`.
const char* TableFamilyName(TableFamily f);

// AppendSample appends `<family name><prefix><extra>} <value>\n` to
// `out` (extra: "" or `,signal="rows"`): integers exactly, other values
// with 6 significant digits.
void AppendSample(std::string* out, TableFamily f, const std::string& prefix,
                  absl::string_view extra, double value);

// Exposition is the /metrics document: the registry's families in the
// Prometheus text format, with each target's TableLines appended to their
// family. It is rendered at most once per change of any target's lines (a
// tick) and at most `max_age` apart, and kept gzip-compressed as well.
class Exposition {
 public:
  Exposition(std::shared_ptr<prometheus::Registry> registry, absl::Duration max_age);

  // Publish replaces target `id`'s lines; null removes them.
  void Publish(const std::string& id, std::shared_ptr<const TableLines> lines);
  // Text is the current document, gzip-compressed when `gzip`.
  std::shared_ptr<const std::string> Text(bool gzip);

 private:
  void RenderLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(render_mu_);

  std::shared_ptr<prometheus::Registry> registry_;
  const absl::Duration max_age_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const TableLines>> lines_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  // render_mu_ serializes rendering (one scrape renders, the others wait
  // for its result); taken before mu_.
  absl::Mutex render_mu_;
  uint64_t rendered_generation_ ABSL_GUARDED_BY(render_mu_) = 0;
  absl::Time rendered_at_ ABSL_GUARDED_BY(render_mu_) = absl::InfinitePast();
  std::shared_ptr<const std::string> text_ ABSL_GUARDED_BY(render_mu_);
  std::shared_ptr<const std::string> gzipped_ ABSL_GUARDED_BY(render_mu_);
};

// Gzip compresses `data` (gzip container, fast level).
std::string Gzip(absl::string_view data);

}  // namespace pgwarden

#endif  // PGWARDEN_EXPORTERS_EXPOSITION_H_
