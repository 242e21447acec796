#include "detectors/default_detector.h"

#include <algorithm>
#include <random>

#include "catch2/catch.hpp"
#include "tests/detectors/test_util.h"

namespace pgwarden {
namespace {

// Scores of the default detector over noise (5-minute samples) with spikes.
std::vector<double> Scores(double scale, double offset, const std::vector<int>& spikes,
                           const DetectorParams& params = {}) {
  auto d = MakeDetector("default", params);
  std::mt19937_64 rng(99);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> out;
  for (int i = 0; i < 3000; ++i) {
    double x = noise(rng);
    for (int s : spikes) x += (i == s) ? 25.0 : 0.0;
    out.push_back(d->Update(TimeAt(i, absl::Minutes(5)), offset + scale * x).score);
  }
  return out;
}

TEST_CASE("default: scores do not depend on the series' unit or offset") {
  std::vector<double> a = Scores(1.0, 0.0, {2000});
  std::vector<double> b = Scores(1000.0, 5e6, {2000});
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(i);
    REQUIRE(a[i] == Approx(b[i]).margin(1e-6));
  }
  // And the spike is the top score after warm-up.
  double top = 0;
  for (size_t i = 100; i < a.size(); ++i) {
    if (i != 2000) top = std::max(top, a[i]);
  }
  CHECK(a[2000] > top);
}

TEST_CASE("default: one event, one peak - echoes within the suppression span are damped") {
  std::vector<double> one = Scores(1.0, 0.0, {2000});
  std::vector<double> two = Scores(1.0, 0.0, {2000, 2010});  // an echo 10 samples later
  auto severity = [](double score) { return score / (1.0 - score); };
  CHECK(severity(two[2010]) < 0.5 * severity(two[2000]));
  CHECK(two[2000] == Approx(one[2000]));
  // Without suppression the echo scores higher.
  std::vector<double> raw = Scores(1.0, 0.0, {2000, 2010}, {{"suppress", "0"}});
  CHECK(raw[2010] > two[2010]);
  // The damped echo keeps about damp (0.2) of its undamped severity.
  CHECK(severity(two[2010]) < 0.3 * severity(raw[2010]));
  CHECK(severity(two[2010]) > 0.1 * severity(raw[2010]));
}

TEST_CASE("default: an event that recurs daily scores lower than the first time") {
  auto d = MakeDetector("default");
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(100.0, 1.0);
  const absl::Time midnight = absl::FromUnixSeconds(1699920000);
  const int kPerDay = 288;  // 5-minute samples
  std::vector<double> spike_scores;
  for (int i = 0; i < 8 * kPerDay; ++i) {
    bool spike = i % kPerDay == 40;  // every day at 03:20
    DetectorResult r = d->Update(midnight + absl::Minutes(5 * i), noise(rng) + (spike ? 30 : 0));
    if (spike) spike_scores.push_back(r.score);
  }
  REQUIRE(spike_scores.size() == 8);
  CHECK(spike_scores.back() < 0.5 * spike_scores.front());
  CHECK(spike_scores.back() < 0.5);
}

// Scores of the default detector over noise with `len` samples from 2000 on
// shifted by `shift` (noise stddev 1).
std::vector<double> ShiftScores(double shift, int len, const DetectorParams& params = {}) {
  auto d = MakeDetector("default", params);
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> out;
  for (int i = 0; i < 3000; ++i) {
    double x = noise(rng);
    if (i >= 2000 && i < 2000 + len) x = shift + 0.3 * noise(rng);
    out.push_back(d->Update(TimeAt(i), x).score);  // 1s apart: no daily profile
  }
  return out;
}

TEST_CASE("default: a sustained shift outscores its largest single sample") {
  // Eight samples at 3.4 stddevs: no single one is unusual for noise (which
  // reaches about 3.5 in 3000 samples), but the mean of four is. Suppression
  // off, so each sample's own score shows.
  std::vector<double> s = ShiftScores(3.4, 8, {{"suppress", "0"}});
  double noise_top = 0, shift_top = 0;
  for (size_t i = 300; i < s.size(); ++i) {
    if (i >= 2000 && i < 2012) {
      shift_top = std::max(shift_top, s[i]);
    } else {
      noise_top = std::max(noise_top, s[i]);
    }
  }
  CHECK(shift_top > noise_top);
  std::vector<double> off = ShiftScores(3.4, 8, {{"suppress", "0"}, {"shift_k", "0"}});
  // Once four shifted samples are in, the mean-of-four deviation is the top
  // score of the event; without it (shift_k 0) that sample scores lower.
  CHECK(s[2003] == Approx(shift_top));
  CHECK(s[2003] > 1.1 * off[2003]);
}

// Scores of a spike of 25 at 2000 and one of `second` at 2010 over noise.
std::vector<double> EchoScores(double second, const DetectorParams& params) {
  auto d = MakeDetector("default", params);
  std::mt19937_64 rng(99);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> out;
  for (int i = 0; i < 2011; ++i) {
    double x = noise(rng);
    if (i == 2000) x = 25.0;
    if (i == 2010) x = second;
    out.push_back(d->Update(TimeAt(i, absl::Minutes(5)), x).score);
  }
  return out;
}

TEST_CASE("default: within the suppression span a slightly larger event is still damped") {
  auto severity = [](double score) { return score / (1.0 - score); };
  // Find a second spike whose undamped severity is 1-15% above the first's.
  double second = 0;
  for (double m = 25; m < 2000 && second == 0; m *= 1.02) {
    std::vector<double> raw = EchoScores(m, {{"suppress", "0"}});
    double q = severity(raw[2010]) / severity(raw[2000]);
    if (q > 1.01 && q < 1.15) second = m;
  }
  REQUIRE(second > 0);
  // rise 1 (any new peak scores in full) lets it through; the default 1.2
  // damps it below the first spike.
  std::vector<double> any_peak = EchoScores(second, {{"rise", "1"}});
  CHECK(any_peak[2010] > any_peak[2000]);
  std::vector<double> gated = EchoScores(second, {});
  CHECK(gated[2000] == Approx(any_peak[2000]));
  CHECK(gated[2010] < gated[2000]);
}

// Scores over noise whose spread shrinks to a tenth from 2000 to 2300: no
// sample leaves the usual range and the mean does not move, but the
// distribution of recent values is unlike the past.
std::vector<double> SqueezeScores(const DetectorParams& params) {
  auto d = MakeDetector("default", params);
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> out;
  for (int i = 0; i < 3000; ++i) {
    double x = noise(rng) * ((i >= 2000 && i < 2300) ? 0.1 : 1.0);
    out.push_back(d->Update(TimeAt(i), 50.0 + x).score);  // 1s apart: no daily profile
  }
  return out;
}

TEST_CASE("default: a change of distribution inside the usual range scores (relative entropy)") {
  std::vector<double> on = SqueezeScores({});
  std::vector<double> off = SqueezeScores({{"re_weight", "0"}});
  auto top = [](const std::vector<double>& s, size_t from, size_t to) {
    return *std::max_element(s.begin() + static_cast<long>(from),
                             s.begin() + static_cast<long>(to));
  };
  double squeeze_on = top(on, 2000, 2300);
  // With the histogram test the squeeze crosses the severity-1 line (score
  // 0.5; about as high as the top noise record of the same run, since the
  // divergence grows over the window and its record follows); without it the
  // squeeze does not score at all.
  CHECK(squeeze_on > 0.5);
  CHECK(top(off, 2000, 2300) < 0.1);
}

TEST_CASE(
    "default: in a burst of steps a larger later step is measured against the pre-burst record") {
  // Noise, then at 2000 a step of +20 and at 2001 one of -60: without the
  // lag the second step meets a record the first one doubled and is damped
  // as an echo; with it (lag 8, steps) it rises above the first.
  auto run = [](const DetectorParams& params) {
    auto d = MakeDetector("default", params);
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(0.0, 1.0);
    std::vector<double> out;
    for (int i = 0; i < 2010; ++i) {
      double x = noise(rng);
      if (i == 2000) x += 20.0;
      if (i == 2001) x -= 40.0;
      out.push_back(d->Update(TimeAt(i, absl::Minutes(5)), x).score);
    }
    return out;
  };
  std::vector<double> lagged = run({});
  std::vector<double> plain = run({{"lag", "0"}});
  CHECK(lagged[2000] == Approx(plain[2000]));
  CHECK(lagged[2001] > lagged[2000]);
  CHECK(lagged[2001] > plain[2001] + 0.2);
}

TEST_CASE("default: a deviation far beyond its record scores high even at thousands of sigmas") {
  // Noise of 1e-3 with bursts of +5 (5000 robust stddevs) every 200 samples,
  // then one spike of +50: ten times the bursts' deviation. A clipped
  // deviation (clip 1000) would equal its clipped record and not stand out.
  auto run = [](const DetectorParams& params) {
    auto d = MakeDetector("default", params);
    std::mt19937_64 rng(3);
    std::normal_distribution<double> noise(0.5, 1e-3);
    double top_burst = 0.0, spike = 0.0;
    for (int i = 0; i < 2000; ++i) {
      double x = noise(rng);
      if (i < 1900 && i % 200 >= 50 && i % 200 < 70) x += 5.0;
      if (i == 1950) x += 50.0;
      double s = d->Update(TimeAt(i, absl::Minutes(5)), x).score;
      if (i > 1500 && i < 1900) top_burst = std::max(top_burst, s);
      if (i == 1950) spike = s;
    }
    return std::make_pair(top_burst, spike);
  };
  auto [burst, spike] = run({});
  CHECK(burst < 0.6);
  CHECK(spike > 0.8);
  CHECK(run({{"clip", "1000"}}).second < 0.6);
}

}  // namespace
}  // namespace pgwarden
