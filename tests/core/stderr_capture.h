#ifndef PGWARDEN_TESTS_CORE_STDERR_CAPTURE_H_
#define PGWARDEN_TESTS_CORE_STDERR_CAPTURE_H_

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"

namespace pgwarden::testing {

// StderrCapture points fd 2 at a temporary file until Take() (or the end of
// the scope) puts the real stderr back.
class StderrCapture {
 public:
  StderrCapture() {
    char tmpl[] = "/tmp/pgw_log_XXXXXX";
    const int fd = ::mkstemp(tmpl);
    path_ = tmpl;
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() {
    Restore();
    ::unlink(path_.c_str());
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Take restores stderr and returns what was written meanwhile.
  std::string Take() {
    Restore();
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // TakeLines is Take split at '\n' (the text ends with one).
  std::vector<std::string> TakeLines() {
    const std::string text = Take();
    std::vector<std::string> lines = absl::StrSplit(text, '\n');
    if (!lines.empty() && lines.back().empty()) lines.pop_back();
    return lines;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }

  std::string path_;
  int saved_ = -1;
};

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_CORE_STDERR_CAPTURE_H_
