#include "signals/update_spike.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "signals/table_watch.h"

namespace pgwarden {

UpdateSpikeTracker::UpdateSpikeTracker(std::unique_ptr<Detector> detector, UpdateGate gate,
                                       absl::Duration window)
    : detector_(std::move(detector)), gate_(gate), window_(window) {}

void UpdateSpikeTracker::Reset() {
  if (detector_) detector_->Reset();
  recent_.clear();
  recent_sum_ = 0;
  score_ = 0;
  burst_rows_ = 0;
  burst_start_ = last_hot_ = absl::InfinitePast();
  rows_by_role_.clear();
}

UpdateVerdict UpdateSpikeTracker::Observe(absl::Time now, int64_t updated, double dt,
                                          int64_t live_rows,
                                          const std::map<std::string, int64_t>& roles) {
  UpdateVerdict v;
  dt = std::max(1e-3, dt);
  v.rate = static_cast<double>(updated) / dt;
  if (window_ > absl::ZeroDuration()) {
    if (updated > 0) {
      recent_.emplace_back(now, updated);
      recent_sum_ += updated;
    }
    while (!recent_.empty() && now - recent_.front().first >= window_) {
      recent_sum_ -= recent_.front().second;
      recent_.erase(recent_.begin());
    }
    v.rate = static_cast<double>(recent_sum_) / std::max(dt, absl::ToDoubleSeconds(window_));
  }
  if (!detector_) return v;
  const DetectorResult r = detector_->Update(now, v.rate);
  score_ = v.score = r.score;
  v.baseline = std::isfinite(r.baseline) ? std::max(0.0, r.baseline) : 0.0;
  v.hot = r.alert && (v.baseline <= 0 || v.rate >= gate_.min_ratio * v.baseline);
  const bool in_burst = last_hot_ != absl::InfinitePast() && now - last_hot_ <= kBurstGap;
  if (v.hot) {
    if (!in_burst) {
      // A burst starts with what the rate window already holds.
      burst_rows_ = window_ > absl::ZeroDuration() ? recent_sum_ - updated : 0;
      burst_start_ = now - absl::Seconds(window_ > absl::ZeroDuration()
                                             ? std::max(dt, absl::ToDoubleSeconds(window_))
                                             : dt);
      rows_by_role_.clear();
    }
    last_hot_ = now;
    burst_rows_ += updated;
    for (const auto& [role, rows] : roles) rows_by_role_[role] += rows;
  } else if (!in_burst && last_hot_ != absl::InfinitePast()) {
    burst_rows_ = 0;
    last_hot_ = burst_start_ = absl::InfinitePast();
    rows_by_role_.clear();
  }
  if (last_hot_ == absl::InfinitePast()) return v;
  v.burst_rows = burst_rows_;
  v.burst_seconds = absl::ToDoubleSeconds(now - burst_start_);
  v.live_rows = live_rows;
  v.share = live_rows > 0 ? static_cast<double>(burst_rows_) / static_cast<double>(live_rows) : 1.0;
  v.fire = v.hot && burst_rows_ >= gate_.min_rows &&
           static_cast<double>(burst_rows_) >= gate_.min_share * static_cast<double>(live_rows);
  return v;
}

SignalEvent UpdateSpikeEvent(const std::string& schema, const std::string& table, int64_t oid,
                             const UpdateVerdict& v, const std::string& source, absl::Time now) {
  SignalEvent ev;
  ev.kind = SignalKind::kUpdateSpike;
  ev.schema = schema;
  ev.table = table;
  ev.oid = oid;
  ev.severity = Severity::kError;
  ev.score = v.score;
  ev.time = now;
  ev.description = absl::StrFormat(
      "table %s.%s: %s rows updated in %.1f s (%s rows/s; normal %s rows/s), %.1f%% of its %s "
      "rows%s",
      schema, table, FormatCount(v.burst_rows), v.burst_seconds, FormatCount(std::llround(v.rate)),
      FormatCount(std::llround(v.baseline)), 100.0 * v.share, FormatCount(v.live_rows),
      source.empty() ? "" : absl::StrCat("; committed, ", source));
  ev.figures = {{"update_rate_per_s", v.rate},
                {"update_rate_baseline", v.baseline},
                {"updated_in_burst", v.burst_rows},
                {"burst_seconds", v.burst_seconds},
                {"live_rows", v.live_rows},
                {"share", v.share},
                {"score", v.score}};
  return ev;
}

}  // namespace pgwarden
