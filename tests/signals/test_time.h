#ifndef PGWARDEN_TESTS_SIGNALS_TEST_TIME_H_
#define PGWARDEN_TESTS_SIGNALS_TEST_TIME_H_

#include "absl/time/time.h"

namespace pgwarden {
namespace testing {

// kT0 is the start of the signals tests' clocks.
inline const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

}  // namespace testing
}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_SIGNALS_TEST_TIME_H_
