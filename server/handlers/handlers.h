// One handler per Kafka API. Each handler file starts with the line
// "Handler for api <Name> (key N), versions A..B" and the table in handlers.cc is the one
// place that lists them; ApiVersions advertises exactly that table.
#pragma once

#include <spdlog/spdlog.h>

#include <set>

#include "controller/metadata_image.h"
#include "coordinator/group/group_coordinator.h"
#include "protocol/messages/fetch_request.h"
#include "server/request.h"

namespace kb::server {

void handle_api_versions(RequestContext& ctx, Respond respond);
void handle_sasl_handshake(RequestContext& ctx, Respond respond);
void handle_sasl_authenticate(RequestContext& ctx, Respond respond);
// Counts a SASL authentication (kbroker_successful/failed_authentication_total) and logs a
// failure in one line with `why` (never a secret).
void report_authentication(const RequestContext& ctx, const std::string& mechanism, bool ok, const std::string& why);
void handle_metadata(RequestContext& ctx, Respond respond);
void handle_produce(RequestContext& ctx, Respond respond);
void handle_fetch(RequestContext& ctx, Respond respond);
void handle_list_offsets(RequestContext& ctx, Respond respond);
void handle_create_topics(RequestContext& ctx, Respond respond);
void handle_delete_topics(RequestContext& ctx, Respond respond);
void handle_describe_cluster(RequestContext& ctx, Respond respond);
void handle_find_coordinator(RequestContext& ctx, Respond respond);
void handle_join_group(RequestContext& ctx, Respond respond);
void handle_sync_group(RequestContext& ctx, Respond respond);
void handle_heartbeat(RequestContext& ctx, Respond respond);
void handle_leave_group(RequestContext& ctx, Respond respond);
void handle_offset_commit(RequestContext& ctx, Respond respond);
void handle_offset_fetch(RequestContext& ctx, Respond respond);
void handle_describe_groups(RequestContext& ctx, Respond respond);
void handle_list_groups(RequestContext& ctx, Respond respond);
void handle_delete_groups(RequestContext& ctx, Respond respond);
void handle_offset_delete(RequestContext& ctx, Respond respond);
void handle_describe_configs(RequestContext& ctx, Respond respond);
void handle_alter_configs(RequestContext& ctx, Respond respond);
void handle_incremental_alter_configs(RequestContext& ctx, Respond respond);
void handle_describe_log_dirs(RequestContext& ctx, Respond respond);
void handle_delete_records(RequestContext& ctx, Respond respond);
void handle_offset_for_leader_epoch(RequestContext& ctx, Respond respond);
void handle_create_partitions(RequestContext& ctx, Respond respond);
void handle_vote(RequestContext& ctx, Respond respond);
void handle_begin_quorum_epoch(RequestContext& ctx, Respond respond);
void handle_fetch_snapshot(RequestContext& ctx, Respond respond);
void handle_broker_registration(RequestContext& ctx, Respond respond);
void handle_broker_heartbeat(RequestContext& ctx, Respond respond);
void handle_init_producer_id(RequestContext& ctx, Respond respond);
void handle_write_txn_markers(RequestContext& ctx, Respond respond);
void handle_add_partitions_to_txn(RequestContext& ctx, Respond respond);
void handle_add_offsets_to_txn(RequestContext& ctx, Respond respond);
void handle_end_txn(RequestContext& ctx, Respond respond);
void handle_describe_transactions(RequestContext& ctx, Respond respond);
void handle_list_transactions(RequestContext& ctx, Respond respond);
void handle_txn_offset_commit(RequestContext& ctx, Respond respond);
void handle_describe_producers(RequestContext& ctx, Respond respond);
void handle_allocate_producer_ids(RequestContext& ctx, Respond respond);
void handle_alter_partition(RequestContext& ctx, Respond respond);
void handle_assign_replicas_to_dirs(RequestContext& ctx, Respond respond);
void handle_envelope(RequestContext& ctx, Respond respond);
void handle_elect_leaders(RequestContext& ctx, Respond respond);
void handle_alter_partition_reassignments(RequestContext& ctx, Respond respond);
void handle_list_partition_reassignments(RequestContext& ctx, Respond respond);
void handle_describe_client_quotas(RequestContext& ctx, Respond respond);
void handle_alter_client_quotas(RequestContext& ctx, Respond respond);
void handle_describe_acls(RequestContext& ctx, Respond respond);
void handle_create_acls(RequestContext& ctx, Respond respond);
void handle_delete_acls(RequestContext& ctx, Respond respond);
void handle_describe_user_scram_credentials(RequestContext& ctx, Respond respond);
void handle_alter_user_scram_credentials(RequestContext& ctx, Respond respond);
// A voter's Fetch of the metadata partition goes to the quorum: true when it was taken (and
// will be answered), false for every other fetch.
bool serve_quorum_fetch(RequestContext& ctx, const msg::FetchRequest& req, Respond& respond);

// The request came in on a listener named in controller.listener.names: the one the other
// voters and the brokers use to reach this node's controller.
bool on_controller_listener(const RequestContext& ctx);

// Decodes the request body; a body that does not parse closes the connection, as Kafka does
// for an InvalidRequestException. Returns false (and has answered) in that case.
template <class Request>
bool decode_request(RequestContext& ctx, Request& req, Respond& respond) {
  wire::Reader r(std::span<const uint8_t>(ctx.body.data(), ctx.body.size()));
  if (req.decode(r, ctx.api_version)) return true;
  spdlog::warn("closing connection from {} (client {}): malformed {} v{} request body", ctx.peer,
               ctx.client_id, find_handler(ctx.api_key)->name, ctx.api_version);
  Response out;
  out.send = false;
  out.close_after = true;
  respond(std::move(out));
  return false;
}

// Logs a response whose strings the encoder had to cut to Kafka's 32767-byte limit (at most
// one line every 10 s, so a client repeating the request cannot flood the log): an error for a
// name or id (a bug: such strings are refused on the way in), a warning for free text.
void report_cut_strings(int16_t api_key, int16_t api_version, const wire::Writer& body);

template <class Message>
Response encode_response(int16_t api_version, const Message& msg) {
  Response out;
  msg.encode(out.body, api_version);
  if (out.body.truncated_text() || out.body.oversized_names())
    report_cut_strings(Message::kApiKey, api_version, out.body);
  return out;
}
template <class Message>
void send_response(int16_t api_version, Respond& respond, const Message& msg) {
  respond(encode_response(api_version, msg));
}
template <class Message>
void send_response(RequestContext& ctx, Respond& respond, const Message& msg) {
  send_response(ctx.api_version, respond, msg);
}

// A Respond for answers built later on another thread (the quorum's, say), in the request's
// version.
template <class Message>
std::function<void(Message)> respond_later(const RequestContext& ctx, Respond respond) {
  int16_t version = ctx.api_version;
  return [version, respond = std::move(respond)](Message m) mutable { send_response(version, respond, m); };
}

// Who sent a group request, as the coordinator records it (Kafka shows the host as
// "/127.0.0.1").
inline coordinator::ClientInfo client_info(const RequestContext& ctx) {
  std::string host = ctx.peer.substr(0, ctx.peer.rfind(':'));
  return coordinator::ClientInfo{ctx.client_id, "/" + host, ctx.api_version};
}

// The partitions of an OffsetCommit or TxnOffsetCommit request that `image` does not have.
template <class Topics>
std::set<TopicPartition> unknown_partitions(const controller::MetadataImage& image, const Topics& topics) {
  std::set<TopicPartition> out;
  for (const auto& t : topics) {
    const controller::TopicInfo* info = image.topic(t.name);
    for (const auto& p : t.partitions)
      if (!info || p.partition_index < 0 || p.partition_index >= static_cast<int32_t>(info->partitions.size()))
        out.insert(TopicPartition{t.name, p.partition_index});
  }
  return out;
}

}  // namespace kb::server
