#ifndef PGWARDEN_TESTS_INTEGRATION_RUN_PGWARDEN_H_
#define PGWARDEN_TESTS_INTEGRATION_RUN_PGWARDEN_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "catch2/catch.hpp"
#include "devtools/process.h"

namespace pgwarden::testing {

// CommandResult is a pgwarden command's exit code and its output.
struct CommandResult {
  int code;
  std::string output;
};

// Run runs the real pgwarden binary with `args` to completion (at most 60 s).
inline CommandResult Run(const std::vector<std::string>& args) {
  ProcessOptions p;
  p.argv = {PGWARDEN_BINARY};
  p.argv.insert(p.argv.end(), args.begin(), args.end());
  std::string out;
  auto code = RunCommand(p, absl::Seconds(60), &out);
  REQUIRE(code.ok());
  return {*code, out};
}

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_INTEGRATION_RUN_PGWARDEN_H_
