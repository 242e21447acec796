#ifndef PGWARDEN_TESTS_SUPPORT_PRODUCT_EXAMPLE_H_
#define PGWARDEN_TESTS_SUPPORT_PRODUCT_EXAMPLE_H_

namespace pgwarden::testing {

// kProductExample is the configuration example of the product contract,
// verbatim: every config reader must accept it unchanged.
inline constexpr char kProductExample[] = R"(environment: production
listen: 127.0.0.1:9331
interval: 1s
targets:
  - name: shop
    dsn: "host=127.0.0.1 port=5432 dbname=shop user=pgwarden"
    tables:
      include: ["public.*"]
alerting:
  sinks:
    - name: oncall
      type: pagerduty
      url: http://127.0.0.1:9999/v2/enqueue
      routing_key: "R0UTINGKEY0000000000000000000000"
remediation:
  mode: enforce
  actions: [nologin, revoke_writes, terminate]
  protected_roles: [postgres, pgwarden]
)";

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_SUPPORT_PRODUCT_EXAMPLE_H_
