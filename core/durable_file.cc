#include "core/durable_file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace pgwarden {
namespace {

// SyncHook holds the function set by internal::SetFsyncForTesting.
struct SyncHook {
  absl::Mutex mu;
  internal::FsyncFunction fn ABSL_GUARDED_BY(mu);
};

SyncHook& Hook() {
  static SyncHook* hook = new SyncHook();
  return *hook;
}

// Sync syncs `fd`: fdatasync(2) for a file (data and the metadata needed to
// read it back, such as its size), fsync(2) for a directory; or the test hook.
int Sync(int fd, bool directory) {
  internal::FsyncFunction fn;
  {
    SyncHook& hook = Hook();
    absl::MutexLock lock(&hook.mu);
    fn = hook.fn;
  }
  if (fn) return fn(fd);
  return directory ? ::fsync(fd) : ::fdatasync(fd);
}

// ErrnoError is "<what> <path>: <errno text>" with a code that follows errno.
absl::Status ErrnoError(int error, absl::string_view what, absl::string_view path) {
  return absl::ErrnoToStatus(error, absl::StrCat(what, " ", path));
}

absl::Status WriteAll(int fd, absl::string_view data, absl::string_view path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path);
    }
    if (n == 0) return ErrnoError(EIO, "write (no progress)", path);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// TempPathFor is a name next to `path` that no other writer in this process
// (or a live process) uses at the same time.
std::string TempPathFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
}

// WriteTemp creates `tmp` with `mode`, writes `contents` and syncs it; on
// error `tmp` is removed.
absl::Status WriteTemp(const std::string& tmp, absl::string_view contents, mode_t mode) {
  ::unlink(tmp.c_str());  // a leftover of a crashed process with our pid
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError(errno, "open", tmp);
  absl::Status s = WriteAll(fd, contents, tmp);
  if (s.ok() && Sync(fd, /*directory=*/false) != 0) s = ErrnoError(errno, "fdatasync", tmp);
  if (::close(fd) != 0 && s.ok()) s = ErrnoError(errno, "close", tmp);
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

}  // namespace

absl::Status WriteFileDurably(const std::string& path, absl::string_view contents, mode_t mode) {
  const std::string tmp = TempPathFor(path);
  absl::Status s = WriteTemp(tmp, contents, mode);
  if (!s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    return ErrnoError(error, "rename to", path);
  }
  return SyncDirectoryOf(path);
}

absl::Status AppendDurably(int fd, absl::string_view data, const std::string& path_for_errors) {
  absl::Status s = WriteAll(fd, data, path_for_errors);
  if (!s.ok()) return s;
  if (Sync(fd, /*directory=*/false) != 0) return ErrnoError(errno, "fdatasync", path_for_errors);
  return absl::OkStatus();
}

absl::Status SyncDirectoryOf(const std::string& path) {
  const std::string dir = DirectoryOf(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ErrnoError(errno, "open directory", dir);
  const int rc = Sync(dfd, /*directory=*/true);
  const int error = errno;
  ::close(dfd);
  if (rc != 0) return ErrnoError(error, "fsync directory", dir);
  return absl::OkStatus();
}

namespace internal {

FsyncFunction SetFsyncForTesting(FsyncFunction fn) {
  SyncHook& hook = Hook();
  absl::MutexLock lock(&hook.mu);
  std::swap(hook.fn, fn);
  return fn;
}

}  // namespace internal
}  // namespace pgwarden
