// The one place where detectors are registered (no static initialisers).
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "detectors/change_point.h"
#include "detectors/default_detector.h"
#include "detectors/detector.h"
#include "detectors/ewma.h"
#include "detectors/level_drop.h"
#include "detectors/rate_spike.h"
#include "detectors/ratio.h"
#include "detectors/robust.h"
#include "detectors/seasonal.h"

namespace pgwarden {
namespace {

// OptionsFactory creates detectors of type D from validated options O.
template <typename D, typename O>
class OptionsFactory : public DetectorFactory {
 public:
  explicit OptionsFactory(O options) : options_(std::move(options)) {}
  std::unique_ptr<Detector> Create() const override { return std::make_unique<D>(options_); }

 private:
  O options_;
};

template <typename D, typename O>
absl::StatusOr<std::shared_ptr<const DetectorFactory>> Make(
    absl::StatusOr<O> (*parse)(const DetectorParams&), const DetectorParams& params) {
  absl::StatusOr<O> options = parse(params);
  if (!options.ok()) return options.status();
  return std::shared_ptr<const DetectorFactory>(
      std::make_shared<OptionsFactory<D, O>>(*std::move(options)));
}

struct Entry {
  const char* name;
  absl::StatusOr<std::shared_ptr<const DetectorFactory>> (*make)(const DetectorParams&);
};

absl::StatusOr<ChangePointOptions> ParseCusumOptions(const DetectorParams& p) {
  return ParseChangePointOptions("cusum", p);
}
absl::StatusOr<ChangePointOptions> ParsePageHinkleyOptions(const DetectorParams& p) {
  return ParseChangePointOptions("page_hinkley", p);
}

const Entry kDetectors[] = {
    {"level_drop",
     [](const DetectorParams& p) {
       return Make<LevelDropDetector, LevelDropOptions>(ParseLevelDropOptions, p);
     }},
    {"rate_spike",
     [](const DetectorParams& p) {
       return Make<RateSpikeDetector, RateSpikeOptions>(ParseRateSpikeOptions, p);
     }},
    {"ratio",
     [](const DetectorParams& p) {
       return Make<RatioDetector, RatioOptions>(ParseRatioOptions, p);
     }},
    {"ewma",
     [](const DetectorParams& p) { return Make<EwmaDetector, EwmaOptions>(ParseEwmaOptions, p); }},
    {"robust",
     [](const DetectorParams& p) {
       return Make<RobustDetector, RobustOptions>(ParseRobustOptions, p);
     }},
    {"cusum",
     [](const DetectorParams& p) {
       return Make<CusumDetector, ChangePointOptions>(ParseCusumOptions, p);
     }},
    {"page_hinkley",
     [](const DetectorParams& p) {
       return Make<PageHinkleyDetector, ChangePointOptions>(ParsePageHinkleyOptions, p);
     }},
    {"seasonal",
     [](const DetectorParams& p) {
       return Make<SeasonalDetector, SeasonalOptions>(ParseSeasonalOptions, p);
     }},
    {kDefaultDetector,
     [](const DetectorParams& p) {
       return Make<DefaultDetector, DefaultOptions>(ParseDefaultOptions, p);
     }},
};

}  // namespace

absl::StatusOr<std::shared_ptr<const DetectorFactory>> MakeDetectorFactory(
    const std::string& name, const DetectorParams& params) {
  for (const Entry& e : kDetectors) {
    if (name == e.name) return e.make(params);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown detector \"", name, "\" (known: ", absl::StrJoin(DetectorNames(), ", "), ")"));
}

std::vector<std::string> DetectorNames() {
  std::vector<std::string> names;
  for (const Entry& e : kDetectors) names.push_back(e.name);
  return names;
}

}  // namespace pgwarden
