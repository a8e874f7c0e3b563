// meta.properties: the file Kafka keeps in every log directory to say which cluster and which
// node the directory belongs to (format v1: version, cluster.id, node.id, directory.id).
// It is what keeps the cluster id across restarts and stops a broker from starting on a
// directory of another node or another cluster.
//
// Called once at start-up, before the metadata log opens; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/types.h"

namespace kb::controller {

struct MetaProperties {
  int32_t node_id = -1;
  std::string cluster_id;
  Uuid directory_id;  // this directory's own id (Kafka 3.7+ JBOD)
};

// Reads `<dir>/meta.properties`. NONE with an empty cluster_id when the file does not exist;
// KAFKA_STORAGE_ERROR when it cannot be read or a required key is missing or malformed.
Result<MetaProperties> read_meta_properties(const std::string& dir);
// Writes `<dir>/meta.properties` atomically (temporary file, fsync, rename, fsync of the dir).
Status write_meta_properties(const std::string& dir, const MetaProperties& props);

// Checks every log dir's meta.properties against `node_id` and against each other, writes the
// missing ones, and returns the cluster id: the one already stored, or a new random one on the
// very first start. INCONSISTENT_CLUSTER_ID when two directories name different clusters or a
// directory belongs to another node.id. `new_cluster_id`, when not empty, is the id a first
// start writes instead of a random one (the nodes of a quorum derive the same one).
Result<std::string> ensure_meta_properties(const std::vector<std::string>& log_dirs, int32_t node_id,
                                           const std::string& new_cluster_id = "");

}  // namespace kb::controller
