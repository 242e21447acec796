#ifndef PGWARDEN_SIGNALS_CHURN_H_
#define PGWARDEN_SIGNALS_CHURN_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace pgwarden {

// kChurnWindow is the span over which the level's recent high is kept (the
// level_drop detector's default window).
constexpr absl::Duration kChurnWindow = absl::Seconds(120);
// kChurnRateSpan: inserts and deletes are folded into rates over at least this.
constexpr absl::Duration kChurnRateSpan = absl::Seconds(1);
// kChurnRateHalfLife is the half-life of the insert and delete rate EWMAs.
constexpr absl::Duration kChurnRateHalfLife = absl::Minutes(10);
// kChurnPeakHalfLife is the half-life of the usual swing and delete-rate peak.
constexpr absl::Duration kChurnPeakHalfLife = absl::Minutes(30);
// kChurnTurnover: a table churns when it inserts at least this share of its
// level over kChurnWindow (a big, mostly static table never does).
constexpr double kChurnTurnover = 0.5;
// kChurnSwingFactor: a drop up to this many times the usual swing is normal.
constexpr double kChurnSwingFactor = 2.0;
// kChurnLagSeconds: a table inserting I rows/s may swing by I x this.
constexpr double kChurnLagSeconds = 5.0;
// kChurnRateFactor: deletes up to this many times the usual peak are normal.
constexpr double kChurnRateFactor = 4.0;
// kChurnMinSamples: rate samples needed before anything is judged normal.
constexpr int kChurnMinSamples = 5;

// ChurnBaseline is a table's usual churn in fixed memory: EWMAs of inserts/s
// and deletes/s, a decaying peak of deletes/s and of how far the level falls
// below its recent high. Judge tells whether a drop is the table's normal
// churn (a queue consuming what it was given) or a loss.
class ChurnBaseline {
 public:
  // Observe feeds `inserted` and `deleted` rows since the last call and the
  // level at `now` (negative when unknown). Returns the verdict of this
  // interval against what was learned before it, then learns from it.
  bool Observe(absl::Time now, int64_t inserted, int64_t deleted, double level);
  // Normal is the verdict of the last Observe; Reason is "normal churn"
  // with its figures when normal ("churn warmup (...)" for a drop held
  // during the first kChurnMinSamples samples of a table inserting fast
  // enough to churn), empty otherwise.
  bool Normal() const { return normal_; }
  std::string Reason() const;
  void Reset() { *this = ChurnBaseline{}; }

 private:
  bool Judge(double drop, double ins_rate, double del_rate) const;
  // InsertRateSeen is the higher of `ins_rate` and the mean learned so far.
  double InsertRateSeen(double ins_rate) const;
  void Learn(absl::Time now, double drop, double ins_rate, double del_rate, bool anomalous);

  absl::Time last_ = absl::InfinitePast();
  absl::Time acc_start_ = absl::InfinitePast();
  int64_t acc_ins_ = 0;
  int64_t acc_del_ = 0;
  double ins_s_ = 0, del_s_ = 0, weight_ = 0;
  double del_peak_ = 0, swing_peak_ = 0;
  int samples_ = 0;
  int64_t bucket_ = INT64_MIN;
  double cur_max_ = -1, prev_max_ = -1;
  bool normal_ = false;
  bool warming_ = false;  // normal_ only because the baseline is warming up
  double drop_ = 0, del_rate_ = 0, ins_rate_ = 0;
};

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_CHURN_H_
