#include "core/config_node.h"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pgwarden {

void ConfigErrors::Add(const YAML::Mark& mark, absl::string_view path, absl::string_view message) {
  std::string where = file_;
  if (!mark.is_null()) {
    absl::StrAppend(&where, ":", mark.line + 1, ":", mark.column + 1);
  }
  errors_.push_back(absl::StrCat(where, ": ", path.empty() ? "(top level)" : path, ": ", message));
}

absl::Status ConfigErrors::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
}

ConfigNode::ConfigNode(const YAML::Node& node, std::string path, ConfigErrors* errors)
    : node_(node), path_(std::move(path)), errors_(errors) {}

std::string ConfigNode::ChildPath(absl::string_view key) const {
  if (path_.empty()) return std::string(key);
  return absl::StrCat(path_, ".", key);
}

YAML::Mark ConfigNode::MarkOf(absl::string_view key) const {
  if (IsMap()) {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) {
        return it->second.IsDefined() && !it->second.Mark().is_null() ? it->second.Mark()
                                                                      : it->first.Mark();
      }
    }
  }
  return node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark();
}

bool ConfigNode::Has(absl::string_view key) const {
  if (!IsMap()) return false;
  YAML::Node child = node_[std::string(key)];
  return child.IsDefined() && !child.IsNull();
}

ConfigNode ConfigNode::Child(absl::string_view key) const {
  if (!IsMap()) return ConfigNode(YAML::Node(YAML::NodeType::Undefined), ChildPath(key), errors_);
  // const access never inserts.
  const YAML::Node& n = node_;
  return ConfigNode(n[std::string(key)], ChildPath(key), errors_);
}

std::vector<ConfigNode> ConfigNode::Items() const {
  std::vector<ConfigNode> items;
  if (!IsDefined()) return items;
  if (!IsSequence()) {
    Error("expected a list");
    return items;
  }
  for (size_t i = 0; i < node_.size(); ++i) {
    items.emplace_back(node_[i], absl::StrCat(path_, "[", i, "]"), errors_);
  }
  return items;
}

bool ConfigNode::ExpectMap(bool required) const {
  if (!IsDefined()) {
    if (required) Error("missing required section");
    return false;
  }
  if (!IsMap()) {
    Error("expected a mapping (key: value pairs)");
    return false;
  }
  return true;
}

namespace {

// CheckKeysIn is CheckKeys over any list of key names.
template <typename List>
void CheckKeysIn(const YAML::Node& node, const std::string& path, ConfigErrors* errors,
                 const List& allowed, const std::function<std::string(const std::string&)>& child) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) {
      errors->Add(it->first.Mark(), path, "keys must be plain strings");
      continue;
    }
    const std::string& key = it->first.Scalar();
    bool ok = false;
    for (absl::string_view a : allowed) {
      if (a == key) ok = true;
    }
    if (!ok) {
      errors->Add(it->first.Mark(), child(key),
                  absl::StrCat("unknown key (allowed here: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
}

}  // namespace

void ConfigNode::CheckKeys(std::initializer_list<absl::string_view> allowed) const {
  if (!IsMap()) return;
  CheckKeysIn(node_, path_, errors_, allowed,
              [this](const std::string& k) { return ChildPath(k); });
}

void ConfigNode::CheckKeys(absl::Span<const std::string> allowed) const {
  if (!IsMap()) return;
  CheckKeysIn(node_, path_, errors_, allowed,
              [this](const std::string& k) { return ChildPath(k); });
}

void ConfigNode::Error(absl::string_view message) const {
  errors_->Add(node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark(), path_, message);
}

void ConfigNode::ErrorAt(absl::string_view key, absl::string_view message) const {
  errors_->Add(MarkOf(key), ChildPath(key), message);
}

std::string ConfigNode::AsString() const {
  if (!IsScalar()) {
    Error("expected a string");
    return "";
  }
  return node_.Scalar();
}

std::string ConfigNode::GetString(absl::string_view key, const std::string& def) const {
  if (!Has(key)) return def;
  ConfigNode c = Child(key);
  if (!c.IsScalar()) {
    ErrorAt(key, "expected a string");
    return def;
  }
  return c.raw().Scalar();
}

std::string ConfigNode::GetRequiredString(absl::string_view key) const {
  if (!Has(key)) {
    ErrorAt(key, "missing required key");
    return "";
  }
  std::string v = GetString(key, "");
  if (v.empty() && Child(key).IsScalar()) ErrorAt(key, "must not be empty");
  return v;
}

double ConfigNode::GetDouble(absl::string_view key, double def) const {
  if (!Has(key)) return def;
  ConfigNode c = Child(key);
  double v = 0;
  if (!c.IsScalar() || !absl::SimpleAtod(c.raw().Scalar(), &v)) {
    ErrorAt(key, "expected a number");
    return def;
  }
  return v;
}

int64_t ConfigNode::GetInt(absl::string_view key, int64_t def) const {
  if (!Has(key)) return def;
  ConfigNode c = Child(key);
  int64_t v = 0;
  if (!c.IsScalar() || !absl::SimpleAtoi(c.raw().Scalar(), &v)) {
    ErrorAt(key, "expected an integer");
    return def;
  }
  return v;
}

bool ConfigNode::GetBool(absl::string_view key, bool def) const {
  if (!Has(key)) return def;
  ConfigNode c = Child(key);
  if (c.IsScalar()) {
    const std::string v = absl::AsciiStrToLower(c.raw().Scalar());
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
  }
  ErrorAt(key, "expected true or false");
  return def;
}

absl::Duration ConfigNode::GetDuration(absl::string_view key, absl::Duration def) const {
  if (!Has(key)) return def;
  ConfigNode c = Child(key);
  absl::Duration d;
  if (!c.IsScalar() || !absl::ParseDuration(c.raw().Scalar(), &d)) {
    ErrorAt(key, "expected a duration such as 500ms, 1s, 5m or 1h");
    return def;
  }
  if (d < absl::ZeroDuration()) {
    ErrorAt(key, "must not be negative");
    return def;
  }
  return d;
}

std::vector<std::string> ConfigNode::GetStringList(absl::string_view key,
                                                   const std::vector<std::string>& def) const {
  if (!Has(key)) return def;
  ConfigNode c = Child(key);
  if (!c.IsSequence()) {
    ErrorAt(key, "expected a list of strings");
    return def;
  }
  std::vector<std::string> out;
  for (const ConfigNode& item : c.Items()) {
    if (!item.IsScalar()) {
      item.Error("expected a string");
      continue;
    }
    out.push_back(item.raw().Scalar());
  }
  return out;
}

std::string ReadSecret(const ConfigNode& node, absl::string_view key, bool required) {
  const std::string env_key = absl::StrCat(key, "_env");
  const std::string file_key = absl::StrCat(key, "_file");
  const int given = node.Has(key) + node.Has(env_key) + node.Has(file_key);
  if (given > 1) {
    node.ErrorAt(key, absl::StrCat("set only one of ", key, ", ", env_key, ", ", file_key));
    return "";
  }
  if (node.Has(key)) return node.GetString(key, "");
  if (node.Has(env_key)) {
    const std::string var = node.GetString(env_key, "");
    const char* value = std::getenv(var.c_str());
    if (value == nullptr || *value == '\0') {
      node.ErrorAt(env_key, absl::StrCat("environment variable ", var, " is not set or empty"));
      return "";
    }
    return value;
  }
  if (node.Has(file_key)) {
    const std::string path = node.GetString(file_key, "");
    std::ifstream in(path);
    if (!in) {
      node.ErrorAt(file_key, absl::StrCat("cannot read file ", path));
      return "";
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string value = ss.str();
    while (!value.empty() &&
           (value.back() == '\n' || value.back() == '\r' || value.back() == ' ')) {
      value.pop_back();
    }
    if (value.empty()) node.ErrorAt(file_key, absl::StrCat("file ", path, " is empty"));
    return value;
  }
  if (required)
    node.ErrorAt(key, absl::StrCat("missing: set ", key, ", ", env_key, " or ", file_key));
  return "";
}

}  // namespace pgwarden
