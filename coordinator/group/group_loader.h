// Rebuilding the groups of one __consumer_offsets partition from its log when this broker
// becomes its leader (Kafka's GroupMetadataManager.doLoadGroupsAndOffsets): the last group
// metadata record of each group (generation, members, assignments), its committed offsets,
// and the offsets of transactions — held by producer id until that producer's marker: a
// COMMIT makes them committed unless a later plain commit of the partition was read, an ABORT
// drops them, and what has no marker yet stays pending.
//
// A record that cannot be read (an unknown key version, a value that does not decode) is
// skipped and counted, as are batches the log could not read (GroupLog::replay): the rest of
// the partition still loads.
//
// Threads: a plain function, called on the coordinator's loop.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "coordinator/group/group.h"
#include "coordinator/group/group_log.h"

namespace kb::coordinator {

struct LoadedGroups {
  // In their restored state: Empty, or Stable when the last generation has members. Groups
  // the log holds nothing of (every offset and the metadata deleted) are left out.
  std::map<std::string, std::unique_ptr<Group>> groups;
  int64_t records = 0;  // read and applied
  SkippedRecords skipped;
};

// `now`: when groups whose metadata says nothing about their state time are taken to start.
Result<LoadedGroups> load_groups(GroupLog& log, int32_t partition, int64_t now);

}  // namespace kb::coordinator
