// A byte range of an open file, sent to a socket with sendfile(2) instead of being copied
// through user space (Fetch responses). `owner` keeps the file descriptor open until the
// bytes are on the wire, even if the segment is deleted or closed meanwhile.
#pragma once

#include <cstdint>
#include <memory>

namespace kb {

struct FileSlice {
  std::shared_ptr<const void> owner;  // keeps `fd` open while the slice lives
  int fd = -1;
  int64_t position = 0;  // byte position in the file
  int64_t size = 0;      // bytes
};

}  // namespace kb
