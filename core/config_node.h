#ifndef PGWARDEN_CORE_CONFIG_NODE_H_
#define PGWARDEN_CORE_CONFIG_NODE_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "yaml-cpp/yaml.h"

namespace pgwarden {

// ConfigErrors collects every problem found while reading a config file, so
// that the user sees all of them at once, each as "FILE:LINE:COL: PATH: what".
class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file) : file_(std::move(file)) {}
  void Add(const YAML::Mark& mark, absl::string_view path, absl::string_view message);
  bool empty() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  // ToStatus returns OK when there were no errors, else InvalidArgument with
  // one line per error.
  absl::Status ToStatus() const;
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

// ConfigNode is a read-only view of one YAML node with its dotted path
// ("targets[0].tables.include"). Getters record a named error in the shared
// ConfigErrors and return the default when the value is missing or wrong, so
// a parse function reads like a declaration of its section.
class ConfigNode {
 public:
  ConfigNode(const YAML::Node& node, std::string path, ConfigErrors* errors);

  const std::string& path() const { return path_; }
  bool IsDefined() const { return node_.IsDefined() && !node_.IsNull(); }
  // (yaml-cpp throws on the type of a missing node; these do not.)
  bool IsMap() const { return node_.IsDefined() && node_.IsMap(); }
  bool IsSequence() const { return node_.IsDefined() && node_.IsSequence(); }
  bool IsScalar() const { return node_.IsDefined() && node_.IsScalar(); }
  const YAML::Node& raw() const { return node_; }
  ConfigErrors* errors() const { return errors_; }

  // Has reports whether `key` is present (and not null) in this map.
  bool Has(absl::string_view key) const;
  // Child returns the node under `key`; undefined if absent.
  ConfigNode Child(absl::string_view key) const;
  // Items returns the elements of a sequence (records an error if this node
  // is defined but not a sequence).
  std::vector<ConfigNode> Items() const;

  // ExpectMap records an error unless the node is a map (or absent and
  // !required). Returns whether it is a usable map.
  bool ExpectMap(bool required = false) const;
  // CheckKeys records one error per key not in `allowed`.
  void CheckKeys(std::initializer_list<absl::string_view> allowed) const;
  void CheckKeys(absl::Span<const std::string> allowed) const;

  std::string GetString(absl::string_view key, const std::string& def) const;
  // GetRequiredString records "missing required key" when absent.
  std::string GetRequiredString(absl::string_view key) const;
  double GetDouble(absl::string_view key, double def) const;
  int64_t GetInt(absl::string_view key, int64_t def) const;
  bool GetBool(absl::string_view key, bool def) const;
  // GetDuration accepts "300ms", "1s", "2m", "1h30m" (absl::ParseDuration).
  absl::Duration GetDuration(absl::string_view key, absl::Duration def) const;
  std::vector<std::string> GetStringList(absl::string_view key,
                                         const std::vector<std::string>& def) const;

  // Value accessors for this node itself (used for list items).
  std::string AsString() const;

  // Error records an error at this node.
  void Error(absl::string_view message) const;
  // ErrorAt records an error at `key` under this node.
  void ErrorAt(absl::string_view key, absl::string_view message) const;

 private:
  std::string ChildPath(absl::string_view key) const;
  YAML::Mark MarkOf(absl::string_view key) const;

  YAML::Node node_;
  std::string path_;
  ConfigErrors* errors_;
};

// ReadSecret resolves a secret given inline (`key`), from an environment
// variable (`key`_env) or from a file (`key`_file); exactly one may be set.
// Returns "" (and records an error) when `required` and none is set.
std::string ReadSecret(const ConfigNode& node, absl::string_view key, bool required);

}  // namespace pgwarden

#endif  // PGWARDEN_CORE_CONFIG_NODE_H_
