// nab_replay drives detectors::Replay with the same command line as
// `pgwarden replay`, so bench/nab/run.sh can iterate before (or without) the
// agent binary:
//   nab_replay replay [--detector NAME] [--set KEY=VALUE ...] --input F [--output F]
#include <iostream>
#include <string>

#include "detectors/replay.h"

int main(int argc, char** argv) {
  pgwarden::ReplayOptions options;
  int i = 1;
  if (i < argc && std::string(argv[i]) == "replay") ++i;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "nab_replay: " << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--detector") {
      options.detector = next();
    } else if (arg == "--set") {
      std::string kv = next();
      auto eq = kv.find('=');
      if (eq == std::string::npos) {
        std::cerr << "nab_replay: --set expects KEY=VALUE, got " << kv << "\n";
        return 2;
      }
      options.params[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (arg == "--input") {
      options.input = next();
    } else if (arg == "--output") {
      options.output = next();
    } else {
      std::cerr << "nab_replay: unknown argument " << arg << "\n";
      return 2;
    }
  }
  absl::Status s = pgwarden::Replay(options);
  if (!s.ok()) {
    std::cerr << "nab_replay: " << s << "\n";
    return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
