// Partition offsets asked of each partition's leader (ListOffsets), shared by topic describe,
// group describe / seek and consume.
#pragma once

#include <map>
#include <vector>

#include "protocol/messages/metadata_response.h"
#include "protocol/types.h"
#include "tools/kbctl/client.h"

namespace kb::kbctl {

constexpr int64_t kEarliest = -2;  // ListOffsets' special timestamps
constexpr int64_t kLatest = -1;    // the high watermark (read_uncommitted)

struct OffsetLookup {
  std::map<TopicPartition, int64_t> offsets;  // -1 for a timestamp after every record
  std::map<TopicPartition, Error> errors;     // partitions whose leader refused or is unknown
};

// The offset of each partition at `timestamp` (kEarliest, kLatest, or milliseconds since the
// epoch: the first record at or after it), one request per leader named in `md`.
OffsetLookup list_offsets(Client& client, const msg::MetadataResponse& md,
                          const std::vector<TopicPartition>& tps, int64_t timestamp);

// Commits `offsets` for `group` at its coordinator without being a member (generation -1, as
// kafka-consumer-groups.sh does: the group must have no active members). A refusal is a Failure.
void commit_offsets(Client& client, int32_t coordinator, const std::string& group,
                    const std::map<TopicPartition, int64_t>& offsets);

// The leader of tp in `md`; -1 when the topic or partition is not there or has none.
int32_t leader_of(const msg::MetadataResponse& md, const TopicPartition& tp);
// The topic in `md`, or a Failure: exit 4 "topic X does not exist" / the broker's error.
const msg::MetadataResponse::MetadataResponseTopic& topic_or_fail(Client& client,
                                                                  const msg::MetadataResponse& md,
                                                                  const std::string& name);

}  // namespace kb::kbctl
