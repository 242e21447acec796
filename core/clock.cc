#include "core/clock.h"

namespace pgwarden {

RealClock* RealClock::Get() {
  static RealClock* clock = new RealClock();
  return clock;
}

}  // namespace pgwarden
