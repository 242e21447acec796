#ifndef PGWARDEN_DEVTOOLS_DEMO_H_
#define PGWARDEN_DEVTOOLS_DEMO_H_

#include <string>

#include "absl/time/time.h"

namespace pgwarden {

// DemoOptions are `pgwarden demo`'s flags.
struct DemoOptions {
  absl::Duration duration = absl::Seconds(75);
  std::string listen = "127.0.0.1:9331";
  bool keep = false;  // keep the throwaway cluster's directory
};

// Exit codes RunDemo returns (the same as the pgwarden command's).
inline constexpr int kDemoExitOk = 0;
inline constexpr int kDemoExitFailure = 1;
inline constexpr int kDemoExitUsage = 2;

// RunDemo starts a throwaway PostgreSQL with a shop, normal traffic, the
// agent and a local pager, then runs a cleanup script against the wrong
// database and narrates what pgwarden does.
int RunDemo(const DemoOptions& options);

}  // namespace pgwarden

#endif  // PGWARDEN_DEVTOOLS_DEMO_H_
