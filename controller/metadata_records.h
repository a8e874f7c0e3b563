// The cluster metadata records and their framing on the metadata log.
//
// Each record is one Kafka record of a v2 RecordBatch in `__cluster_metadata-0`: key null,
// value = uvarint frame version (1), uvarint record type (the upstream metadata record
// apiKey), uvarint record version, then the record body as generated from
// controller/records/*.kmsg (field names, types and versions of Kafka's
// metadata/src/main/resources/common/metadata/*.json). The same bytes will travel through
// the Raft quorum, so nothing here knows about logs or images.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "controller/records/access_control_entry_record.h"
#include "controller/records/broker_registration_change_record.h"
#include "controller/records/client_quota_record.h"
#include "controller/records/config_record.h"
#include "controller/records/feature_level_record.h"
#include "controller/records/fence_broker_record.h"
#include "controller/records/no_op_record.h"
#include "controller/records/partition_change_record.h"
#include "controller/records/partition_record.h"
#include "controller/records/producer_ids_record.h"
#include "controller/records/register_broker_record.h"
#include "controller/records/remove_access_control_entry_record.h"
#include "controller/records/remove_topic_record.h"
#include "controller/records/remove_user_scram_credential_record.h"
#include "controller/records/topic_record.h"
#include "controller/records/unfence_broker_record.h"
#include "controller/records/unregister_broker_record.h"
#include "controller/records/user_scram_credential_record.h"
#include "protocol/types.h"

namespace kb::controller {

using MetadataRecord =
    std::variant<metadata::RegisterBrokerRecord, metadata::UnregisterBrokerRecord, metadata::TopicRecord,
                 metadata::PartitionRecord, metadata::ConfigRecord, metadata::PartitionChangeRecord,
                 metadata::FenceBrokerRecord, metadata::UnfenceBrokerRecord, metadata::RemoveTopicRecord,
                 metadata::FeatureLevelRecord, metadata::ProducerIdsRecord,
                 metadata::BrokerRegistrationChangeRecord, metadata::NoOpRecord,
                 // client quotas
                 metadata::ClientQuotaRecord,
                 // Security: SCRAM credentials and ACLs.
                 metadata::UserScramCredentialRecord, metadata::RemoveUserScramCredentialRecord,
                 metadata::AccessControlEntryRecord, metadata::RemoveAccessControlEntryRecord>;

// The frame version KRaft writes in front of every metadata record.
inline constexpr uint32_t kMetadataFrameVersion = 1;

// The record type on the wire: the upstream apiKey (TopicRecord = 2, PartitionRecord = 3...).
int16_t record_type(const MetadataRecord& record);
// "TopicRecord", for logs and error messages.
std::string_view record_name(const MetadataRecord& record);
// The version a record is written in: the lowest that carries every field kbroker sets
// (older readers can still read the log).
int16_t record_write_version(const MetadataRecord& record);

// The framed value of one metadata record (what goes in the Kafka record's value).
std::vector<uint8_t> encode_record(const MetadataRecord& record);
// Parses a framed value. CORRUPT_MESSAGE for a truncated or over-long value, an unknown frame
// version, record type or record version.
Result<MetadataRecord> decode_record(std::span<const uint8_t> value);

}  // namespace kb::controller
