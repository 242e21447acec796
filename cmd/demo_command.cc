// `pgwarden demo [--duration 90s] [--listen ADDR] [--keep]`.

#include <iostream>

#include "cmd/cli.h"
#include "devtools/demo.h"

namespace pgwarden {

int DemoCommand(const ParsedArgs& args) {
  DemoOptions options;
  if (args.Has("duration") && !absl::ParseDuration(args.Get("duration"), &options.duration)) {
    std::cerr << "pgwarden demo: --duration: expected a duration such as 90s\n";
    return kExitUsage;
  }
  options.listen = args.Get("listen", options.listen);
  options.keep = args.Has("keep");
  return RunDemo(options);
}

}  // namespace pgwarden
