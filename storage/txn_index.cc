#include "storage/txn_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "protocol/wire.h"
#include "storage/files.h"

namespace kb::storage {

void encode_txn_entry(const AbortedTxn& t, uint8_t out[kTxnEntrySize]) {
  wire::store_be16(out, static_cast<uint16_t>(kTxnEntryVersion));
  wire::store_be64(out + 2, static_cast<uint64_t>(t.producer_id));
  wire::store_be64(out + 10, static_cast<uint64_t>(t.first_offset));
  wire::store_be64(out + 18, static_cast<uint64_t>(t.last_offset));
  wire::store_be64(out + 26, static_cast<uint64_t>(t.last_stable_offset));
}

std::optional<AbortedTxn> decode_txn_entry(std::span<const uint8_t, kTxnEntrySize> in) {
  if (static_cast<int16_t>(wire::load_be16(in.data())) != kTxnEntryVersion) return std::nullopt;
  AbortedTxn t;
  t.producer_id = static_cast<int64_t>(wire::load_be64(in.data() + 2));
  t.first_offset = static_cast<int64_t>(wire::load_be64(in.data() + 10));
  t.last_offset = static_cast<int64_t>(wire::load_be64(in.data() + 18));
  t.last_stable_offset = static_cast<int64_t>(wire::load_be64(in.data() + 26));
  return t;
}

Result<std::vector<AbortedTxn>> read_txn_index(const std::filesystem::path& path) {
  std::vector<AbortedTxn> out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return out;
    return io_error("cannot open", path, errno);
  }
  auto f = std::make_shared<FileHandle>(fd);
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 14];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", path, errno);
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buf, buf + n);
  }
  // A partial last entry is what a crash in the middle of an append leaves.
  for (size_t pos = 0; pos + kTxnEntrySize <= bytes.size(); pos += kTxnEntrySize) {
    auto t = decode_txn_entry(std::span<const uint8_t, kTxnEntrySize>(bytes.data() + pos, kTxnEntrySize));
    if (!t)
      return Error{ErrorCode::KAFKA_STORAGE_ERROR,
                   path.string() + ": unknown entry version at byte " + std::to_string(pos)};
    out.push_back(*t);
  }
  return out;
}

Status append_txn_index(const std::filesystem::path& path, const AbortedTxn& txn) {
  auto f = open_file(path, O_WRONLY | O_CREAT | O_APPEND);
  if (!f.ok()) return f.error();
  uint8_t e[kTxnEntrySize];
  encode_txn_entry(txn, e);
  // A partial entry left by an earlier failed write would shift every later one: start at a
  // whole entry (O_APPEND writes at the end, so the length is cut first).
  off_t end = ::lseek((*f)->fd(), 0, SEEK_END);
  if (end < 0) return io_error("cannot seek", path, errno);
  if (end % static_cast<off_t>(kTxnEntrySize) != 0 &&
      ::ftruncate((*f)->fd(), end - end % static_cast<off_t>(kTxnEntrySize)) != 0)
    return io_error("cannot truncate", path, errno);
  size_t done = 0;
  while (done < kTxnEntrySize) {
    ssize_t n = ::write((*f)->fd(), e + done, kTxnEntrySize - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Status write_txn_index(const std::filesystem::path& path, const std::vector<AbortedTxn>& entries) {
  if (entries.empty()) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    if (ec) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot remove " + path.string() + ": " + ec.message()};
    return {};
  }
  std::string bytes(entries.size() * kTxnEntrySize, '\0');
  for (size_t i = 0; i < entries.size(); ++i)
    encode_txn_entry(entries[i], reinterpret_cast<uint8_t*>(bytes.data()) + i * kTxnEntrySize);
  return write_file_atomically(path, bytes);
}

bool collect_aborted_txns(const std::vector<AbortedTxn>& entries, int64_t fetch_offset, int64_t upper_bound,
                          std::vector<AbortedTxn>& out) {
  for (const AbortedTxn& t : entries) {
    if (t.last_offset >= fetch_offset && t.first_offset < upper_bound) out.push_back(t);
    if (t.last_stable_offset >= upper_bound) return true;
  }
  return false;
}

}  // namespace kb::storage
