// The null sink answers what librdkafka's producer needs, in every version it advertises:
// these tests drive NullSink::handle with request frames encoded by kb_protocol and decode
// its answers the way a client would.
#include "tests/bench/null_sink.h"

#include <catch2/catch.hpp>

#include "protocol/messages/api_keys.h"
#include "protocol/messages/api_versions_request.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/create_topics_request.h"
#include "protocol/messages/create_topics_response.h"
#include "protocol/messages/fetch_request.h"
#include "protocol/messages/fetch_response.h"
#include "protocol/messages/list_offsets_request.h"
#include "protocol/messages/list_offsets_response.h"
#include "protocol/messages/metadata_request.h"
#include "protocol/messages/metadata_response.h"
#include "protocol/messages/produce_request.h"
#include "protocol/messages/produce_response.h"
#include "protocol/messages/request_header.h"
#include "protocol/messages/response_header.h"
#include "protocol/record_batch.h"

using namespace kb;
using namespace kb::msg;

namespace {

template <class Req>
std::vector<uint8_t> frame(const Req& req, int16_t version, int32_t correlation_id = 7) {
  wire::Writer w;
  RequestHeader h;
  h.request_api_key = Req::kApiKey;
  h.request_api_version = version;
  h.correlation_id = correlation_id;
  h.client_id = "test";
  h.encode(w, request_header_version(Req::kApiKey, version));
  req.encode(w, version);
  return w.buffer();
}

// Sends one request; decodes the one answer as `Resp` at `resp_version`. Its records fields
// borrow the answer's bytes: pass `keep` to keep them alive.
template <class Resp, class Req>
Resp ask(kbench::NullSink& sink, const Req& req, int16_t version, int16_t resp_version = -1,
         std::vector<uint8_t>* keep = nullptr) {
  std::vector<uint8_t> out;
  REQUIRE(sink.handle(frame(req, version), out));
  REQUIRE(out.size() >= 8);
  REQUIRE(wire::load_be32(out.data()) == out.size() - 4);
  wire::Reader r(std::span<const uint8_t>(out).subspan(4));
  ResponseHeader h;
  REQUIRE(h.decode(r, response_header_version(Req::kApiKey, version)));
  REQUIRE(h.correlation_id == 7);
  Resp resp;
  REQUIRE(resp.decode(r, resp_version < 0 ? version : resp_version));
  REQUIRE(r.remaining() == 0);
  if (keep) *keep = std::move(out);  // a moved vector keeps its buffer
  return resp;
}

std::vector<uint8_t> v2_batch(int records) {
  RecordBatchBuilder b;
  for (int i = 0; i < records; ++i) b.add(std::nullopt, "value", 1000 + i);
  return b.build();
}

ProduceRequest produce(const std::string& topic, int32_t partition, std::span<const uint8_t> records,
                       int16_t acks = 1) {
  ProduceRequest req;
  req.acks = acks;
  req.timeout_ms = 30000;
  auto& t = req.topic_data.emplace_back();
  t.name = topic;
  auto& p = t.partition_data.emplace_back();
  p.index = partition;
  p.records.bytes = records;
  return req;
}

MetadataRequest metadata_for(const std::string& topic) {
  MetadataRequest req;
  req.topics.emplace();
  req.topics->emplace_back().name = topic;
  return req;
}

}  // namespace

TEST_CASE(
    "null sink advertises Produce 3-9 and Fetch 4-12, so librdkafka sends RecordBatch v2, "
    "Metadata 0-12, ApiVersions 0-3 and CreateTopics") {
  kbench::NullSink sink("127.0.0.1", 9092, 6);
  for (int16_t v = 0; v <= 3; ++v) {
    INFO("ApiVersions v" << v);
    auto resp = ask<ApiVersionsResponse>(sink, ApiVersionsRequest{}, v);
    REQUIRE(resp.error_code == 0);
    std::map<int16_t, std::pair<int16_t, int16_t>> ranges;
    for (const auto& k : resp.api_keys) ranges[k.api_key] = {k.min_version, k.max_version};
    REQUIRE(ranges[0] == std::pair<int16_t, int16_t>{3, 9});
    REQUIRE(ranges[1] == std::pair<int16_t, int16_t>{4, 12});
    REQUIRE(ranges[3] == std::pair<int16_t, int16_t>{0, 12});
    REQUIRE(ranges[18] == std::pair<int16_t, int16_t>{0, 3});
    REQUIRE(ranges.contains(19));
  }
}

TEST_CASE("null sink answers a too-new ApiVersions with UNSUPPORTED_VERSION in v0, as Kafka does") {
  kbench::NullSink sink("127.0.0.1", 9092, 6);
  auto resp = ask<ApiVersionsResponse>(sink, ApiVersionsRequest{}, 4, 0);
  REQUIRE(resp.error_code == static_cast<int16_t>(ErrorCode::UNSUPPORTED_VERSION));
  REQUIRE_FALSE(resp.api_keys.empty());
}

TEST_CASE("null sink metadata names itself as the leader of every partition of a named topic") {
  kbench::NullSink sink("127.0.0.1", 19092, 6);
  for (int16_t v = 0; v <= 12; ++v) {
    INFO("Metadata v" << v);
    auto resp = ask<MetadataResponse>(sink, metadata_for("bench"), v);
    REQUIRE(resp.brokers.size() == 1);
    REQUIRE(resp.brokers[0].host == "127.0.0.1");
    REQUIRE(resp.brokers[0].port == 19092);
    REQUIRE(resp.topics.size() == 1);
    REQUIRE(resp.topics[0].error_code == 0);
    REQUIRE(resp.topics[0].partitions.size() == 6);
    for (const auto& p : resp.topics[0].partitions) {
      REQUIRE(p.leader_id == resp.brokers[0].node_id);
      REQUIRE(p.isr_nodes == std::vector<int32_t>{resp.brokers[0].node_id});
    }
  }
}

TEST_CASE("null sink rejects an illegal topic name in metadata") {
  kbench::NullSink sink("127.0.0.1", 9092, 6);
  auto resp = ask<MetadataResponse>(sink, metadata_for("no spaces allowed"), 9);
  REQUIRE(resp.topics.size() == 1);
  REQUIRE(resp.topics[0].error_code == static_cast<int16_t>(ErrorCode::INVALID_TOPIC_EXCEPTION));
}

TEST_CASE("null sink creates topics with the requested partition count and refuses a second create") {
  kbench::NullSink sink("127.0.0.1", 9092, 6);
  CreateTopicsRequest req;
  auto& t = req.topics.emplace_back();
  t.name = "three";
  t.num_partitions = 3;
  t.replication_factor = -1;
  auto created = ask<CreateTopicsResponse>(sink, req, 5);
  REQUIRE(created.topics.size() == 1);
  REQUIRE(created.topics[0].error_code == 0);
  REQUIRE(created.topics[0].num_partitions == 3);

  auto md = ask<MetadataResponse>(sink, metadata_for("three"), 9);
  REQUIRE(md.topics.at(0).partitions.size() == 3);

  auto again = ask<CreateTopicsResponse>(sink, req, 5);
  REQUIRE(again.topics.at(0).error_code == static_cast<int16_t>(ErrorCode::TOPIC_ALREADY_EXISTS));

  req.topics[0].name = "zero";
  req.topics[0].num_partitions = 0;
  auto zero = ask<CreateTopicsResponse>(sink, req, 4);
  REQUIRE(zero.topics.at(0).error_code == static_cast<int16_t>(ErrorCode::INVALID_PARTITIONS));
}

TEST_CASE("null sink produce answers base offsets that count up per partition") {
  kbench::NullSink sink("127.0.0.1", 9092, 2);
  ask<MetadataResponse>(sink, metadata_for("t"), 9);
  auto five = v2_batch(5), three = v2_batch(3);
  for (int16_t v = 3; v <= 9; ++v) {
    INFO("Produce v" << v);
    kbench::NullSink fresh("127.0.0.1", 9092, 2);
    ask<MetadataResponse>(fresh, metadata_for("t"), 9);
    auto first = ask<ProduceResponse>(fresh, produce("t", 0, five), v);
    auto second = ask<ProduceResponse>(fresh, produce("t", 0, three), v);
    auto other = ask<ProduceResponse>(fresh, produce("t", 1, three), v);
    REQUIRE(first.responses.at(0).partition_responses.at(0).error_code == 0);
    REQUIRE(first.responses[0].partition_responses[0].base_offset == 0);
    REQUIRE(second.responses.at(0).partition_responses.at(0).base_offset == 5);
    REQUIRE(other.responses.at(0).partition_responses.at(0).base_offset == 0);
  }
  // Two batches in one request take the offsets of both.
  std::vector<uint8_t> two(five);
  two.insert(two.end(), three.begin(), three.end());
  ask<ProduceResponse>(sink, produce("t", 1, two), 9);
  auto after = ask<ProduceResponse>(sink, produce("t", 1, five), 9);
  REQUIRE(after.responses.at(0).partition_responses.at(0).base_offset == 8);
}

TEST_CASE("null sink sends no answer to acks=0 produce but still counts its offsets") {
  kbench::NullSink sink("127.0.0.1", 9092, 1);
  ask<MetadataResponse>(sink, metadata_for("t"), 9);
  auto four = v2_batch(4);
  std::vector<uint8_t> out;
  REQUIRE(sink.handle(frame(produce("t", 0, four, 0), 7), out));
  REQUIRE(out.empty());
  auto next = ask<ProduceResponse>(sink, produce("t", 0, four), 7);
  REQUIRE(next.responses.at(0).partition_responses.at(0).base_offset == 0);
}

TEST_CASE("null sink refuses produce to a partition it does not have, and truncated batches") {
  kbench::NullSink sink("127.0.0.1", 9092, 2);
  ask<MetadataResponse>(sink, metadata_for("t"), 9);
  auto b = v2_batch(2);
  auto missing = ask<ProduceResponse>(sink, produce("t", 2, b), 9);
  REQUIRE(missing.responses.at(0).partition_responses.at(0).error_code ==
          static_cast<int16_t>(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
  auto unknown = ask<ProduceResponse>(sink, produce("never-named", 0, b), 9);
  REQUIRE(unknown.responses.at(0).partition_responses.at(0).error_code ==
          static_cast<int16_t>(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
  auto cut = std::span<const uint8_t>(b).first(b.size() - 1);
  auto torn = ask<ProduceResponse>(sink, produce("t", 0, cut), 9);
  REQUIRE(torn.responses.at(0).partition_responses.at(0).error_code ==
          static_cast<int16_t>(ErrorCode::CORRUPT_MESSAGE));
}

TEST_CASE("null sink fetch finds an empty log that ends where produce left it") {
  kbench::NullSink sink("127.0.0.1", 9092, 2);
  ask<MetadataResponse>(sink, metadata_for("t"), 9);
  auto three = v2_batch(3);
  ask<ProduceResponse>(sink, produce("t", 0, three), 9);
  auto fetch = [&](int32_t partition, int64_t offset, int16_t v) {
    FetchRequest req;
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    auto& t = req.topics.emplace_back();
    t.topic = "t";
    auto& p = t.partitions.emplace_back();
    p.partition = partition;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    return ask<FetchResponse>(sink, req, v).responses.at(0).partitions.at(0);
  };
  for (int16_t v = 4; v <= 12; ++v) {
    INFO("Fetch v" << v);
    auto at_end = fetch(0, 3, v);
    REQUIRE(at_end.error_code == 0);
    REQUIRE(at_end.high_watermark == 3);
    REQUIRE(at_end.records.data().empty());
    if (v >= 5) REQUIRE(at_end.log_start_offset == 3);
    REQUIRE(fetch(0, 0, v).error_code == static_cast<int16_t>(ErrorCode::OFFSET_OUT_OF_RANGE));
    REQUIRE(fetch(1, 0, v).error_code == 0);
    REQUIRE(fetch(2, 0, v).error_code == static_cast<int16_t>(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
  }
}

TEST_CASE("null sink closes the connection on an API it does not serve or a garbled request") {
  kbench::NullSink sink("127.0.0.1", 9092, 1);
  std::vector<uint8_t> out;
  auto offset_commit = frame(ApiVersionsRequest{}, 3);
  wire::store_be16(offset_commit.data(), 8);  // OffsetCommit
  REQUIRE_FALSE(sink.handle(offset_commit, out));
  auto produce_v2 = frame(ApiVersionsRequest{}, 3);
  wire::store_be16(produce_v2.data(), 0);
  wire::store_be16(produce_v2.data() + 2, 2);  // below the advertised Produce 3
  REQUIRE_FALSE(sink.handle(produce_v2, out));
  auto md = frame(metadata_for("t"), 9);
  REQUIRE_FALSE(sink.handle(std::span<const uint8_t>(md).first(md.size() - 3), out));
  REQUIRE_FALSE(sink.handle(std::span<const uint8_t>(md).first(3), out));
  REQUIRE(out.empty());
}

TEST_CASE("offsets of a record chain are the sum of each batch's lastOffsetDelta + 1") {
  auto a = v2_batch(1), b = v2_batch(10);
  std::vector<uint8_t> chain(a);
  chain.insert(chain.end(), b.begin(), b.end());
  REQUIRE(kbench::count_offsets(chain) == 11);
  REQUIRE(kbench::count_offsets({}) == 0);
  chain[16] = 1;  // magic 1: not a v2 batch
  REQUIRE(kbench::count_offsets(chain) == -1);
}

// A chain of v2 batch headers: each batch's base offset and record count.
std::vector<std::pair<int64_t, int32_t>> batches_of(std::span<const uint8_t> chain) {
  std::vector<std::pair<int64_t, int32_t>> out;
  for (size_t pos = 0; pos + 61 <= chain.size();) {
    auto base = static_cast<int64_t>(wire::load_be64(chain.data() + pos));
    auto length = static_cast<int32_t>(wire::load_be32(chain.data() + pos + 8));
    auto count = static_cast<int32_t>(wire::load_be32(chain.data() + pos + 57));
    out.emplace_back(base, count);
    pos += 12 + static_cast<size_t>(length);
  }
  return out;
}

TEST_CASE("null source serves whole batches from the one holding the fetch offset, up to max bytes") {
  kbench::NullSink sink("127.0.0.1", 9092, 2, kbench::SourceLog{1000, 1024});
  int32_t k = sink.source_batch_records();
  REQUIRE(k == 64);
  int64_t end = (1000 + k - 1) / k * k;  // rounded up to whole batches
  ask<MetadataResponse>(sink, metadata_for("t"), 9);
  std::vector<uint8_t> answer;  // the last fetch's, which its records point into
  auto fetch = [&](int64_t offset, int32_t max_bytes, int16_t v) {
    FetchRequest req;
    req.max_wait_ms = 500;
    req.min_bytes = 1;
    req.max_bytes = max_bytes;
    auto& t = req.topics.emplace_back();
    t.topic = "t";
    auto& p = t.partitions.emplace_back();
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    return ask<FetchResponse>(sink, req, v, -1, &answer).responses.at(0).partitions.at(0);
  };
  for (int16_t v = 4; v <= 12; ++v) {
    INFO("Fetch v" << v);
    auto first = fetch(0, 200000, v);
    REQUIRE(first.error_code == 0);
    REQUIRE(first.high_watermark == end);
    auto got = batches_of(first.records.data());
    REQUIRE(got.size() == 3);  // a fourth 64 KiB batch would pass 200,000 bytes
    for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == std::pair<int64_t, int32_t>(i * k, k));
    // Mid-batch: the batch holding the offset, as a broker answers.
    auto mid = batches_of(fetch(k + 5, 1, v).records.data());
    REQUIRE(mid == std::vector<std::pair<int64_t, int32_t>>{{k, k}});
    // The last batch, then nothing at the end, then out of range past it.
    REQUIRE(batches_of(fetch(end - 1, 1 << 30, v).records.data()).size() == 1);
    REQUIRE(fetch(end, 1 << 30, v).records.data().empty());
    REQUIRE(fetch(end + 1, 1 << 30, v).error_code == static_cast<int16_t>(ErrorCode::OFFSET_OUT_OF_RANGE));
  }
  // The batch passes a broker's produce validation (CRC included), values of the asked size.
  auto chain = fetch(k, 1, 12).records.data();
  auto valid = validate_batches(chain, 1 << 20);
  REQUIRE(valid.ok());
  REQUIRE(valid.value().records == k);
  int64_t expect = k;
  REQUIRE(for_each_record(chain, [&](const RecordView& r) {
            REQUIRE(r.offset == expect++);
            REQUIRE(r.value->size() == 1024);
          }).ok());
}

TEST_CASE("null source lists earliest 0 and latest its end; the sink lists both at its end") {
  auto list = [](kbench::NullSink& sink, int64_t timestamp) {
    ask<MetadataResponse>(sink, metadata_for("t"), 9);
    ListOffsetsRequest req;
    req.replica_id = -1;
    auto& t = req.topics.emplace_back();
    t.name = "t";
    t.partitions.emplace_back().timestamp = timestamp;
    auto& p = t.partitions.emplace_back();
    p.partition_index = 7;
    p.timestamp = timestamp;
    auto resp = ask<ListOffsetsResponse>(sink, req, 5).topics.at(0);
    REQUIRE(resp.partitions.at(1).error_code == static_cast<int16_t>(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    return resp.partitions.at(0).offset;
  };
  kbench::NullSink source("127.0.0.1", 9092, 1, kbench::SourceLog{100, 100});
  REQUIRE(list(source, -2) == 0);
  REQUIRE(list(source, -1) == source.source_batch_records());  // 100 rounded up to one batch
  kbench::NullSink sink("127.0.0.1", 9092, 1);
  auto three = v2_batch(3);
  ask<MetadataResponse>(sink, metadata_for("t"), 9);
  ask<ProduceResponse>(sink, produce("t", 0, three), 9);
  REQUIRE(list(sink, -2) == 3);
  REQUIRE(list(sink, -1) == 3);
}
