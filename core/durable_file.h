#ifndef PGWARDEN_CORE_DURABLE_FILE_H_
#define PGWARDEN_CORE_DURABLE_FILE_H_

#include <sys/types.h>

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pgwarden {

// WriteFileDurably replaces `path` with `contents` so that a crash leaves
// either the old file or the new one, never a mix: it writes a temporary file
// in the same directory ("<path>.tmp.<pid>.<n>", created with `mode` as
// open(2) does, so the umask applies), syncs it, renames it over `path` and
// syncs the directory. On any error before the rename the temporary file is
// removed and `path` is left as it was; an error syncing the directory after
// the rename means `path` already holds `contents` but may not survive a
// crash. Errors name the file (or directory) and the errno text; their code
// follows errno (absl::ErrnoToStatus).
absl::Status WriteFileDurably(const std::string& path, absl::string_view contents, mode_t mode);

// AppendDurably writes all of `data` to `fd` (retrying short writes and
// EINTR) and syncs it before returning, so that the bytes survive a crash
// once it returns OK. `fd` is typically opened with O_APPEND. Errors name
// `path_for_errors` and the errno text.
absl::Status AppendDurably(int fd, absl::string_view data, const std::string& path_for_errors);

// SyncDirectoryOf syncs the directory holding `path` (after a create, rename
// or unlink in it). Errors name the directory.
absl::Status SyncDirectoryOf(const std::string& path);

namespace internal {

// FsyncFunction stands in for the sync system calls of durable_file.cc:
// given a file descriptor, it returns 0 or -1 with errno set.
using FsyncFunction = std::function<int(int fd)>;

// SetFsyncForTesting makes every sync done by durable_file.cc (fdatasync(2)
// of files, fsync(2) of directories) call `fn` instead, process-wide, and
// returns the function set before (empty: the real system calls). An empty
// `fn` restores the system calls. For tests only.
FsyncFunction SetFsyncForTesting(FsyncFunction fn);

}  // namespace internal
}  // namespace pgwarden

#endif  // PGWARDEN_CORE_DURABLE_FILE_H_
