// alerting_notify_helper: a small process for the SIGKILL durability test.
// Usage: alerting_notify_helper STATE_DIR PAGERDUTY_URL COUNT PREFIX
// Creates a dispatcher with one pagerduty sink, Notifies COUNT triggers
// (dedup keys PREFIX0..PREFIX<COUNT-1>), prints "notified" and waits to be
// killed.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "alerting/dispatcher.h"

namespace {

int Run(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s STATE_DIR URL COUNT PREFIX\n", argv[0]);
    return 2;
  }
  pgwarden::AlertingConfig cfg;
  pgwarden::SinkConfig s;
  s.name = "oncall";
  s.type = "pagerduty";
  s.urls = {argv[2]};
  s.routing_key = "R0UTINGKEY0000000000000000000000";
  s.retry_initial = absl::Milliseconds(100);
  s.retry_max = absl::Milliseconds(300);
  cfg.sinks = {s};
  prometheus::Registry registry;
  auto d =
      pgwarden::AlertDispatcher::Create(cfg, argv[1], registry, {}, pgwarden::RealClock::Get());
  if (!d.ok()) {
    std::fprintf(stderr, "%s\n", d.status().ToString().c_str());
    return 1;
  }
  (*d)->Start();
  const int count = std::atoi(argv[3]);
  for (int i = 0; i < count; ++i) {
    pgwarden::Alert a;
    a.dedup_key = std::string(argv[4]) + std::to_string(i);
    a.summary = "helper alert " + a.dedup_key;
    a.source = "notify-helper";
    a.timestamp = absl::Now();
    (*d)->Notify(a);
  }
  std::printf("notified\n");
  std::fflush(stdout);
  for (int i = 0; i < 600; ++i) ::sleep(1);  // killed long before
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "notify helper: %s\n", e.what());
    return 1;
  }
}
