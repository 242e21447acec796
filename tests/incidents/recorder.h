#ifndef PGWARDEN_TESTS_INCIDENTS_RECORDER_H_
#define PGWARDEN_TESTS_INCIDENTS_RECORDER_H_

#include <vector>

#include "alerting/alert.h"

namespace pgwarden {

// Recorder is a Notifier that keeps every alert handed to it, in order.
class Recorder : public Notifier {
 public:
  void Notify(const Alert& a) override { alerts.push_back(a); }
  // Triggers are the recorded pages and updates, without the resolves.
  std::vector<Alert> Triggers() const {
    std::vector<Alert> out;
    for (const Alert& a : alerts) {
      if (a.action == AlertAction::kTrigger) out.push_back(a);
    }
    return out;
  }
  std::vector<Alert> alerts;
};

}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_INCIDENTS_RECORDER_H_
