#include "signals/churn.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace pgwarden {

namespace {
double Decay(double dt, absl::Duration half_life) {
  return std::exp2(-dt / absl::ToDoubleSeconds(half_life));
}
}  // namespace

bool ChurnBaseline::Judge(double drop, double ins_rate, double del_rate) const {
  if (samples_ < kChurnMinSamples || weight_ <= 0) return false;
  const double ins = ins_s_ / weight_;
  const double del = del_s_ / weight_;
  const double high = std::max(cur_max_, prev_max_);
  if (ins * absl::ToDoubleSeconds(kChurnWindow) < kChurnTurnover * std::max(high, 1.0)) {
    return false;
  }
  const double swing_allow = kChurnSwingFactor * std::max(swing_peak_, ins * kChurnLagSeconds);
  const double rate_allow = kChurnRateFactor * std::max({del_peak_, del, ins});
  (void)ins_rate;
  return drop <= swing_allow && del_rate <= rate_allow;
}

double ChurnBaseline::InsertRateSeen(double ins_rate) const {
  return std::max(ins_rate, weight_ > 0 ? ins_s_ / weight_ : 0.0);
}

void ChurnBaseline::Learn(absl::Time now, double drop, double ins_rate, double del_rate,
                          bool anomalous) {
  const double dt = last_ == absl::InfinitePast() ? 1.0 : absl::ToDoubleSeconds(now - last_);
  const double d = Decay(std::max(dt, 1e-3), kChurnRateHalfLife);
  const double w = anomalous ? 0.02 : 1.0;
  ins_s_ = d * ins_s_ + w * (1 - d) * ins_rate;
  del_s_ = d * del_s_ + w * (1 - d) * del_rate;
  weight_ = d * weight_ + w * (1 - d);
  const double p = Decay(std::max(dt, 1e-3), kChurnPeakHalfLife);
  del_peak_ *= p;
  swing_peak_ *= p;
  // A drop held during warm-up is learned as usual only when the table's
  // inserts explain it: otherwise it may be a loss.
  const double ins = InsertRateSeen(ins_rate);
  const bool explained = drop <= kChurnSwingFactor * ins * kChurnLagSeconds;
  if (!anomalous && (!warming_ || explained)) {
    del_peak_ = std::max(del_peak_, del_rate);
    swing_peak_ = std::max(swing_peak_, drop);
  }
  ++samples_;
  last_ = now;
}

bool ChurnBaseline::Observe(absl::Time now, int64_t inserted, int64_t deleted, double level) {
  if (acc_start_ == absl::InfinitePast()) acc_start_ = last_ == absl::InfinitePast() ? now : last_;
  acc_ins_ += inserted;
  acc_del_ += deleted;
  const double elapsed = absl::ToDoubleSeconds(now - acc_start_);
  const double span = std::max(elapsed, absl::ToDoubleSeconds(kChurnRateSpan));
  const double ins_rate = static_cast<double>(acc_ins_) / span;
  const double del_rate = static_cast<double>(acc_del_) / span;
  // The level's recent high: two half-window buckets.
  double drop = 0;
  if (level >= 0) {
    absl::Duration rem;
    const int64_t b = absl::IDivDuration(now - absl::UnixEpoch(), kChurnWindow / 2, &rem);
    if (b != bucket_) {
      prev_max_ = b == bucket_ + 1 ? cur_max_ : -1;
      cur_max_ = -1;
      bucket_ = b;
    }
    drop = std::max(0.0, std::max(cur_max_, prev_max_) - level);
    cur_max_ = std::max(cur_max_, level);
  }
  normal_ = Judge(drop, ins_rate, del_rate);
  // Warming up (too few samples to judge), a drop on a table inserting fast
  // enough to churn is held, not paged: its detector keeps alerting while the
  // level stays down, and the warm baseline judges it a few samples later.
  warming_ = false;
  // (The first samples may have no high of their own yet: the detector
  // judges against its own; the level stands in.)
  // The insert rate is the higher of this interval's and the mean learned so
  // far: statistics arrive in bursts (a backend flushes its counts at most
  // once a second), so an interval may count none of a busy queue's inserts.
  const double ins_seen = InsertRateSeen(ins_rate);
  if (samples_ < kChurnMinSamples) {
    const double high = std::max({cur_max_, prev_max_, level, 1.0});
    warming_ = ins_seen * absl::ToDoubleSeconds(kChurnWindow) >= kChurnTurnover * high;
    normal_ = normal_ || warming_;
  }
  ins_rate_ = warming_ ? ins_seen : ins_rate;
  drop_ = drop;
  del_rate_ = del_rate;
  if (samples_ == 0 && acc_ins_ == 0 && acc_del_ == 0) {
    // Nothing counted yet (a source just started): learning zero rates
    // would bias the first estimates low.
    acc_start_ = now;
    return normal_;
  }
  if (now - acc_start_ >= kChurnRateSpan || last_ == absl::InfinitePast()) {
    Learn(now, drop, ins_rate, del_rate, !normal_ && samples_ >= kChurnMinSamples);
    acc_ins_ = acc_del_ = 0;
    acc_start_ = now;
  }
  return normal_;
}

std::string ChurnBaseline::Reason() const {
  if (!normal_) return "";
  if (warming_) {
    return absl::StrFormat("churn warmup (inserting %.0f rows/s; judged after %d samples)",
                           ins_rate_, kChurnMinSamples);
  }
  return absl::StrFormat(
      "normal churn (drop %.0f rows, usual swing %.0f; deletes %.0f/s, usual peak %.0f/s)", drop_,
      swing_peak_, del_rate_, del_peak_);
}

}  // namespace pgwarden
