// detector_bench: updates per second of each registered detector on a noisy
// series, and StateBytes() per series as a counter.
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "detectors/detector.h"

namespace pgwarden {
namespace {

void BM_Update(benchmark::State& state, const std::string& name) {
  auto factory = MakeDetectorFactory(name, {});
  if (!factory.ok()) {
    state.SkipWithError(std::string(factory.status().message()).c_str());
    return;
  }
  std::unique_ptr<Detector> d = (*factory)->Create();
  // 4096 pre-generated samples (noise with a spike now and then), replayed.
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(1000.0, 30.0);
  std::vector<double> values(4096);
  for (size_t i = 0; i < values.size(); ++i) values[i] = noise(rng) + (i % 997 == 0 ? 5000 : 0);
  absl::Time t = absl::FromUnixSeconds(1700000000);
  size_t i = 0;
  double sink = 0;
  for (auto _ : state) {
    DetectorResult r = d->Update(t, values[i & 4095], 100.0);
    sink += r.score;
    t += absl::Seconds(1);
    ++i;
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["updates_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["state_bytes"] = static_cast<double>(d->StateBytes());
}

int RegisterAll() {
  for (const std::string& name : DetectorNames()) {
    benchmark::RegisterBenchmark(("BM_Update/" + name).c_str(), BM_Update, name);
  }
  return 0;
}

}  // namespace
}  // namespace pgwarden

int main(int argc, char** argv) {
  pgwarden::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
