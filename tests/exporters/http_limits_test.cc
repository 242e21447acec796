// ConnectionTable: who may open a connection, and which connections have
// held their request headers back too long (no sockets involved).

#include "exporters/http_limits.h"

#include <vector>

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

HttpLimits Limits(int total, int per_client) {
  HttpLimits l;
  l.max_connections = total;
  l.max_connections_per_client = per_client;
  l.read_header_timeout = absl::Seconds(10);
  return l;
}

std::vector<int> Overdue(ConnectionTable& t, absl::Time now) {
  std::vector<int> fds;
  t.CloseOverdue(now, [&](int fd) { fds.push_back(fd); });
  return fds;
}

}  // namespace

TEST_CASE("ConnectionTable: one client past its share is refused - the others are not",
          "[exporters]") {
  ConnectionTable t(Limits(100, 2));
  const absl::Time now = absl::FromUnixSeconds(1000);
  int ids[4];
  CHECK_FALSE(t.Admit("10.0.0.1").has_value());
  t.Opened(&ids[0], "10.0.0.1", 10, now);
  t.Opened(&ids[1], "10.0.0.1", 11, now);
  REQUIRE(t.Admit("10.0.0.1") == DropReason::kPerClient);
  CHECK_FALSE(t.Admit("10.0.0.2").has_value());
  t.Closed(&ids[0]);
  CHECK_FALSE(t.Admit("10.0.0.1").has_value());
  CHECK(t.open() == 1);
}

TEST_CASE("ConnectionTable: max_connections refuses every client once reached", "[exporters]") {
  ConnectionTable t(Limits(3, 10));
  const absl::Time now = absl::FromUnixSeconds(1000);
  int ids[3];
  for (int i = 0; i < 3; ++i) t.Opened(&ids[i], "10.0.0." + std::to_string(i), i, now);
  CHECK(t.Admit("10.0.0.9") == DropReason::kMaxConnections);
  t.Closed(&ids[1]);
  CHECK_FALSE(t.Admit("10.0.0.9").has_value());
  CHECK(std::string(DropReasonName(DropReason::kHeaderTimeout)) == "header_timeout");
}

TEST_CASE("ConnectionTable: headers overdue are closed once - served and fresh ones are not",
          "[exporters]") {
  ConnectionTable t(Limits(100, 10));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  int silent = 0;
  int served = 0;
  int late = 0;
  t.Opened(&silent, "10.0.0.1", 7, t0);
  t.Opened(&served, "10.0.0.2", 8, t0);
  t.Opened(&late, "10.0.0.3", 9, t0 + absl::Seconds(5));
  t.HeadersDone(&served);
  CHECK(Overdue(t, t0 + absl::Seconds(9)).empty());
  CHECK(Overdue(t, t0 + absl::Seconds(10)) == std::vector<int>{7});
  // Reported once, even while the server has not closed it yet.
  CHECK(Overdue(t, t0 + absl::Seconds(11)).empty());
  CHECK(Overdue(t, t0 + absl::Seconds(15)) == std::vector<int>{9});
  // A keep-alive connection's next request has its own deadline, from the
  // end of the previous response.
  t.ResponseDone(&served, t0 + absl::Seconds(20));
  CHECK(Overdue(t, t0 + absl::Seconds(29)).empty());
  CHECK(Overdue(t, t0 + absl::Seconds(30)) == std::vector<int>{8});
  // A closed connection is forgotten, its socket never reported.
  t.Closed(&served);
  t.Closed(&silent);
  t.Closed(&late);
  CHECK(t.open() == 0);
  CHECK(Overdue(t, t0 + absl::Hours(1)).empty());
}
}  // namespace pgwarden
