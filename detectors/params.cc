#include "detectors/params.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pgwarden {
namespace {

bool ParseNumber(const std::string& text, double* out) {
  std::string s(absl::StripAsciiWhitespace(text));
  return absl::SimpleAtod(s, out) && std::isfinite(*out);
}

bool LooksLikeBareNumber(const std::string& text) {
  double d;
  return ParseNumber(text, &d);
}

}  // namespace

const std::string* ParamReader::Find(const std::string& key) {
  known_.insert(key);
  auto it = params_.find(key);
  return it == params_.end() ? nullptr : &it->second;
}

void ParamReader::Fail(const std::string& key, const std::string& what) {
  if (!error_.ok()) return;
  error_ = absl::InvalidArgumentError(
      absl::StrCat("detector ", detector_, ": parameter \"", key, "\": ", what));
}

double ParamReader::Double(const std::string& key, double def, double min, double max) {
  const std::string* v = Find(key);
  if (v == nullptr) return def;
  double d;
  if (!ParseNumber(*v, &d)) {
    Fail(key, absl::StrCat("expected a number, got \"", *v, "\""));
    return def;
  }
  if (d < min || d > max) {
    Fail(key, absl::StrCat("must be in [", min, ", ", max, "], got ", *v));
    return def;
  }
  return d;
}

int64_t ParamReader::Int(const std::string& key, int64_t def, int64_t min, int64_t max) {
  const std::string* v = Find(key);
  if (v == nullptr) return def;
  int64_t i;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*v), &i)) {
    Fail(key, absl::StrCat("expected an integer, got \"", *v, "\""));
    return def;
  }
  if (i < min || i > max) {
    Fail(key, absl::StrCat("must be in [", min, ", ", max, "], got ", *v));
    return def;
  }
  return i;
}

absl::Duration ParamReader::Duration(const std::string& key, absl::Duration def) {
  const std::string* v = Find(key);
  if (v == nullptr) return def;
  std::string s(absl::StripAsciiWhitespace(*v));
  absl::Duration d;
  double secs;
  if (ParseNumber(s, &secs)) {
    d = absl::Seconds(secs);
  } else if (!absl::ParseDuration(s, &d)) {
    Fail(key, absl::StrCat("expected a duration like 120s or 5m, got \"", *v, "\""));
    return def;
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    Fail(key, absl::StrCat("must be a positive duration, got ", *v));
    return def;
  }
  return d;
}

HalfLife ParamReader::HalfLifeParam(const std::string& key, const HalfLife& def) {
  const std::string* v = Find(key);
  if (v == nullptr) return def;
  std::string s(absl::StripAsciiWhitespace(*v));
  HalfLife h;
  if (LooksLikeBareNumber(s)) {
    double n;
    ParseNumber(s, &n);
    if (!(n > 0.0)) {
      Fail(key, absl::StrCat("must be a positive number of samples or a duration, got ", *v));
      return def;
    }
    h.time_based = false;
    h.samples = n;
    return h;
  }
  absl::Duration d;
  if (!absl::ParseDuration(s, &d) || d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    Fail(key,
         absl::StrCat("expected a number of samples (300) or a duration (5m), got \"", *v, "\""));
    return def;
  }
  h.time_based = true;
  h.duration = d;
  return h;
}

std::string ParamReader::Enum(const std::string& key, const std::string& def,
                              std::initializer_list<const char*> allowed) {
  const std::string* v = Find(key);
  if (v == nullptr) return def;
  std::string s(absl::StripAsciiWhitespace(*v));
  for (const char* a : allowed) {
    if (s == a) return s;
  }
  Fail(key, absl::StrCat("must be one of ", absl::StrJoin(allowed, ", "), ", got \"", *v, "\""));
  return def;
}

absl::Status ParamReader::Finish() const {
  if (!error_.ok()) return error_;
  for (const auto& [key, value] : params_) {
    if (known_.count(key) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("detector ", detector_, ": unknown parameter \"", key,
                       "\" (known: ", absl::StrJoin(known_, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace pgwarden
