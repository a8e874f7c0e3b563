#include "controller/meta_properties.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

namespace kb::controller {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFileName = "meta.properties";

Status storage_error(const std::string& what) { return Status(ErrorCode::KAFKA_STORAGE_ERROR, what); }

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Kafka's base64url Uuid text (22 characters, no padding) back to bytes.
bool parse_uuid(const std::string& text, Uuid& out) {
  if (text.size() != 22) return false;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (char c : text) {
    int v = value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n < 16) out.bytes[n++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  return n == 16;
}

Status fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return storage_error("cannot open " + path + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return storage_error("cannot fsync " + path + ": " + std::strerror(err));
  return {};
}

}  // namespace

Result<MetaProperties> read_meta_properties(const std::string& dir) {
  fs::path path = fs::path(dir) / kFileName;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (ec) return storage_error("cannot look for " + path.string() + ": " + ec.message()).error();
    return MetaProperties{};
  }
  std::ifstream in(path);
  if (!in) return storage_error("cannot read " + path.string()).error();
  std::map<std::string, std::string> props;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    auto eq = line.find_first_of("=:");
    if (eq == std::string::npos) continue;
    props[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  if (in.bad()) return storage_error("cannot read " + path.string()).error();

  auto bad = [&](const std::string& why) { return storage_error(path.string() + ": " + why).error(); };
  MetaProperties mp;
  // v0 (ZooKeeper-era) names the node broker.id; v1 (KRaft) node.id.
  const std::string version = props.count("version") ? props["version"] : "";
  const char* id_key = version == "0" ? "broker.id" : "node.id";
  if (version != "0" && version != "1") return bad("unsupported version '" + version + "'");
  const std::string id_text = props.count(id_key) ? props[id_key] : "";
  auto [p, err] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), mp.node_id);
  if (err != std::errc() || p != id_text.data() + id_text.size() || mp.node_id < 0)
    return bad(std::string(id_key) + " is missing or not a node id");
  mp.cluster_id = props.count("cluster.id") ? props["cluster.id"] : "";
  if (mp.cluster_id.empty()) return bad("cluster.id is missing");
  if (props.count("directory.id") && !parse_uuid(props["directory.id"], mp.directory_id))
    return bad("directory.id '" + props["directory.id"] + "' is not a Uuid");
  return mp;
}

Status write_meta_properties(const std::string& dir, const MetaProperties& props) {
  fs::path path = fs::path(dir) / kFileName;
  fs::path tmp = fs::path(dir) / (std::string(kFileName) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "#\n#Written by kbroker\ncluster.id=" << props.cluster_id << "\ndirectory.id="
        << props.directory_id.to_string() << "\nnode.id=" << props.node_id << "\nversion=1\n";
    out.flush();
    if (!out) return storage_error("cannot write " + tmp.string());
  }
  if (auto s = fsync_path(tmp.string(), O_RDONLY); !s.ok()) return s;
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return storage_error("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
  return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

Result<std::string> ensure_meta_properties(const std::vector<std::string>& log_dirs, int32_t node_id,
                                           const std::string& new_cluster_id) {
  std::string cluster_id, cluster_dir;
  std::vector<std::string> missing;
  for (const auto& dir : log_dirs) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return storage_error("cannot create log dir " + dir + ": " + ec.message()).error();
    auto mp = read_meta_properties(dir);
    if (!mp.ok()) return mp.error();
    if (mp->cluster_id.empty()) {
      missing.push_back(dir);
      continue;
    }
    if (mp->node_id != node_id)
      return Error{ErrorCode::INCONSISTENT_CLUSTER_ID,
                   (fs::path(dir) / kFileName).string() + " belongs to node.id " + std::to_string(mp->node_id) +
                       ", but this broker's node.id is " + std::to_string(node_id)};
    if (mp->directory_id.is_zero()) {
      // Written before directory ids (Kafka 3.7, KIP-858): the dir gets one now, kept from then on.
      MetaProperties with_id = mp.value();
      with_id.directory_id = Uuid::random();
      if (auto s = write_meta_properties(dir, with_id); !s.ok()) return s.error();
    }
    if (cluster_id.empty()) {
      cluster_id = mp->cluster_id;
      cluster_dir = dir;
    } else if (mp->cluster_id != cluster_id) {
      return Error{ErrorCode::INCONSISTENT_CLUSTER_ID, "log dir " + dir + " belongs to cluster " + mp->cluster_id +
                                                           ", but " + cluster_dir + " to cluster " + cluster_id};
    }
  }
  // The first start of a new cluster: kbroker formats its own storage (Kafka's
  // `kafka-storage format` step) with a fresh cluster id, 22 characters like Kafka's.
  if (cluster_id.empty()) cluster_id = new_cluster_id.empty() ? Uuid::random().to_string() : new_cluster_id;
  for (const auto& dir : missing) {
    MetaProperties mp;
    mp.node_id = node_id;
    mp.cluster_id = cluster_id;
    mp.directory_id = Uuid::random();
    if (auto s = write_meta_properties(dir, mp); !s.ok()) return s.error();
  }
  return cluster_id;
}

}  // namespace kb::controller
