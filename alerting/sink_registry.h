#ifndef PGWARDEN_ALERTING_SINK_REGISTRY_H_
#define PGWARDEN_ALERTING_SINK_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "alerting/config.h"
#include "alerting/sinks.h"
#include "core/clock.h"

namespace pgwarden {

// SinkSecret is a secret key of a sink section, given inline (`key`), from
// an environment variable (`key`_env) or from a file (`key`_file).
struct SinkSecret {
  const char* key;
  // required: a section of this type must set it (MakeSink: "no <key>").
  bool required;
  // field is where the value goes.
  std::string SinkConfig::*field;
};

// SinkType is one row of the sink registry: the `type:` value, the keys only
// this type accepts and how to build the sink. ParseAlertingConfig derives
// the allowed keys, the "only for type ..." errors and the list of known
// types from these rows; MakeSink derives its checks from them.
struct SinkType {
  // name is the value of `type:`.
  const char* name;
  // default_url is used when a section sets neither url nor urls; nullptr:
  // url is required.
  const char* default_url;
  // multi_url: the type accepts `urls` (one URL per instance).
  bool multi_url;
  // resends: the type re-sends state (accepts resend_interval and
  // resolve_resend_for).
  bool resends;
  // secrets are the secret keys this type reads.
  absl::Span<const SinkSecret> secrets;
  // make builds the sink from a config MakeSink has checked.
  std::unique_ptr<Sink> (*make)(const SinkConfig& config, Clock* clock);
};

// SinkTypes is every registered sink type, in the order they are listed to
// users.
absl::Span<const SinkType> SinkTypes();

// FindSinkType returns the row for `name`, or nullptr.
const SinkType* FindSinkType(absl::string_view name);

// SinkTypeList is the known types for an error message:
// "pagerduty, alertmanager, slack or webhook".
std::string SinkTypeList();

// SinkTypesWhere names the types for which `pred` holds, joined with " or "
// (for "only for type ..." errors).
std::string SinkTypesWhere(absl::FunctionRef<bool(const SinkType&)> pred);

// FindSecret returns the secret `key` of `type`, or nullptr if it has none.
const SinkSecret* FindSecret(const SinkType& type, absl::string_view key);

}  // namespace pgwarden

#endif  // PGWARDEN_ALERTING_SINK_REGISTRY_H_
