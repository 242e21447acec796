#ifndef PGWARDEN_CORE_CLOCK_H_
#define PGWARDEN_CORE_CLOCK_H_

#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pgwarden {

// Clock is the injected source of time, so that detectors, incidents and
// retries can be tested without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // SleepFor waits `d` (a FakeClock moves forward by `d` instead).
  virtual void SleepFor(absl::Duration d) const = 0;
};

// RealClock reads the system clock.
class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration d) const override { absl::SleepFor(d); }
  // Get returns a process-wide instance.
  static RealClock* Get();
};

// FakeClock only moves when told to.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}
  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void SleepFor(absl::Duration d) const override {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }
  void Advance(absl::Duration d) { SleepFor(d); }
  void Set(absl::Time t) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = t;
  }

 private:
  mutable std::mutex mu_;
  mutable absl::Time now_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_CORE_CLOCK_H_
