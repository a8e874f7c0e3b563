#include <catch2/catch.hpp>

#include "protocol/crc32c.h"
#include "protocol/messages/api_keys.h"
#include "protocol/messages/api_versions_request.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/create_topics_request.h"
#include "protocol/messages/create_topics_response.h"
#include "protocol/messages/delete_topics_request.h"
#include "protocol/messages/delete_topics_response.h"
#include "protocol/messages/describe_cluster_request.h"
#include "protocol/messages/describe_cluster_response.h"
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
#include "tests/unit/protocol/codec_test_util.h"

using namespace kb;
using namespace kb::msg;
using kb::test::encode;
using kb::test::round_trip_all_versions;

TEST_CASE("varints and zigzag varints round-trip their edge values") {
  wire::Writer w;
  const int64_t longs[] = {0, 1, -1, 63, -64, 64, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
  for (auto x : longs) w.write_varlong(x);
  w.write_uvarint(0);
  w.write_uvarint(127);
  w.write_uvarint(128);
  w.write_uvarint(UINT32_MAX);
  wire::Reader r(w.buffer());
  for (auto x : longs) REQUIRE(r.read_varlong() == x);
  REQUIRE(r.read_uvarint() == 0);
  REQUIRE(r.read_uvarint() == 127);
  REQUIRE(r.read_uvarint() == 128);
  REQUIRE(r.read_uvarint() == UINT32_MAX);
  REQUIRE(r.ok());
  REQUIRE(r.remaining() == 0);
}

TEST_CASE("truncated input and lying lengths make the reader fail, not crash") {
  const uint8_t bytes[] = {0x00, 0x05, 'a', 'b'};
  wire::Reader r(bytes);
  REQUIRE(r.read_string().empty());
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.read_int64() == 0);

  const uint8_t huge_array[] = {0x7f, 0xff, 0xff, 0xff, 0x00};
  wire::Reader ra(huge_array);
  REQUIRE(ra.read_array_length() == -1);
  REQUIRE_FALSE(ra.ok());

  const uint8_t endless_varint[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  wire::Reader rv(endless_varint);
  rv.read_uvarint();
  REQUIRE_FALSE(rv.ok());
}

TEST_CASE("request header v1 and ApiVersions v3 encode byte-exactly") {
  RequestHeader h;
  h.request_api_key = 18;
  h.request_api_version = 0;
  h.correlation_id = 7;
  h.client_id = "ab";
  REQUIRE(encode(h, 1) == std::vector<uint8_t>{0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x02, 'a', 'b'});
  // v2: client id stays a classic string, then an empty tagged-field section.
  REQUIRE(encode(h, 2) == std::vector<uint8_t>{0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x02, 'a', 'b', 0x00});
  ApiVersionsRequest a;
  a.client_software_name = "a";
  a.client_software_version = "1";
  REQUIRE(encode(a, 3) == std::vector<uint8_t>{0x02, 'a', 0x02, '1', 0x00});
  REQUIRE(response_header_version(18, 3) == 0);
  REQUIRE(request_header_version(18, 3) == 2);
  REQUIRE(request_header_version(0, 8) == 1);
  REQUIRE(response_header_version(3, 9) == 1);
}

TEST_CASE("every version of the served messages round-trips") {
  ProduceRequest pr;
  pr.transactional_id = "tx";
  pr.acks = -1;
  pr.timeout_ms = 3000;
  auto& td = pr.topic_data.emplace_back();
  td.name = "orders";
  auto& pd = td.partition_data.emplace_back();
  pd.index = 2;
  auto batch = RecordBatchBuilder().add("k", "v", 5).build();
  pd.records.bytes = batch;
  round_trip_all_versions(pr);

  ProduceResponse ps;
  auto& tr = ps.responses.emplace_back();
  tr.name = "orders";
  auto& pp = tr.partition_responses.emplace_back();
  pp.index = 1;
  pp.base_offset = 42;
  pp.error_message = "boom";
  pp.current_leader.leader_id = 3;  // tagged in v10+
  ps.throttle_time_ms = 9;
  round_trip_all_versions(ps);

  FetchRequest fr;
  fr.max_wait_ms = 500;
  fr.min_bytes = 1;
  fr.session_epoch = -1;
  auto& ft = fr.topics.emplace_back();
  ft.topic = "orders";
  ft.topic_id = Uuid::random();
  auto& fp = ft.partitions.emplace_back();
  fp.partition = 4;
  fp.fetch_offset = 100;
  fp.partition_max_bytes = 1 << 20;
  fr.rack_id = "r1";
  round_trip_all_versions(fr);

  FetchResponse fs;
  auto& fresp = fs.responses.emplace_back();
  fresp.topic = "orders";
  auto& fpd = fresp.partitions.emplace_back();
  fpd.high_watermark = 10;
  fpd.aborted_transactions.emplace().push_back({7, 3, {}});
  fpd.records.bytes = batch;
  round_trip_all_versions(fs);

  MetadataRequest mr;
  mr.topics.emplace().push_back({Uuid{}, std::string("orders"), {}});
  round_trip_all_versions(mr);

  MetadataResponse ms;
  ms.brokers.push_back({1, "h", 9092, std::string("rack"), {}});
  ms.cluster_id = "c";
  ms.controller_id = 1;
  auto& mt = ms.topics.emplace_back();
  mt.name = "orders";
  auto& mp = mt.partitions.emplace_back();
  mp.leader_id = 1;
  mp.replica_nodes = {1};
  mp.isr_nodes = {1};
  round_trip_all_versions(ms);

  ApiVersionsResponse av;
  av.api_keys.push_back({0, 3, 9, {}});
  av.finalized_features_epoch = 5;  // tagged
  round_trip_all_versions(av);

  ListOffsetsRequest lr;
  auto& lt = lr.topics.emplace_back();
  lt.name = "orders";
  lt.partitions.push_back({0, -1, -2, 1, {}});
  round_trip_all_versions(lr);
  ListOffsetsResponse ls;
  auto& lst = ls.topics.emplace_back();
  lst.name = "orders";
  auto& lsp = lst.partitions.emplace_back();
  lsp.offset = 17;
  lsp.old_style_offsets = {17};
  round_trip_all_versions(ls);

  CreateTopicsRequest cr;
  auto& ct = cr.topics.emplace_back();
  ct.name = "new";
  ct.num_partitions = 3;
  ct.replication_factor = 1;
  ct.configs.push_back({"retention.ms", std::string("1000"), {}});
  round_trip_all_versions(cr);
  CreateTopicsResponse cs;
  auto& cst = cs.topics.emplace_back();
  cst.name = "new";
  cst.error_message = "fine";
  cst.configs.emplace().push_back({"retention.ms", std::string("1000"), false, 1, false, {}});
  round_trip_all_versions(cs);

  DeleteTopicsRequest dr;
  dr.topic_names = {"a", "b"};
  dr.topics.push_back({std::string("a"), Uuid::random(), {}});
  round_trip_all_versions(dr);
  DeleteTopicsResponse ds;
  ds.responses.push_back({std::string("a"), Uuid{}, 3, std::string("gone"), {}});
  round_trip_all_versions(ds);

  DescribeClusterRequest dcr;
  dcr.include_cluster_authorized_operations = true;
  round_trip_all_versions(dcr);
  DescribeClusterResponse dcs;
  dcs.cluster_id = "c";
  dcs.brokers.push_back({1, "h", 9092, std::nullopt, {}});
  round_trip_all_versions(dcs);
}

TEST_CASE("unknown tagged fields survive a decode and encode") {
  // A flexible MetadataRequest v9 with null topics and a tagged field 7 the broker does not know.
  std::vector<uint8_t> bytes = {0x00, 0x01, 0x00, 0x01, 0x01, 0x07, 0x02, 0xAB, 0xCD};
  MetadataRequest m;
  wire::Reader r(bytes);
  REQUIRE(m.decode(r, 9));
  REQUIRE(m.unknown_tags.size() == 1);
  REQUIRE(m.unknown_tags[0].tag == 7);
  REQUIRE(encode(m, 9) == bytes);
}

TEST_CASE("CRC-32C matches the standard check value in hardware and software") {
  const std::string s = "123456789";
  auto p = reinterpret_cast<const uint8_t*>(s.data());
  REQUIRE(crc32c_portable(p, s.size()) == 0xE3069283u);
  REQUIRE(crc32c(p, s.size()) == 0xE3069283u);
  std::vector<uint8_t> data(100003);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
  for (size_t n : {0ul, 1ul, 7ul, 8ul, 9ul, 4095ul, data.size()}) REQUIRE(crc32c(data.data(), n) == crc32c_portable(data.data(), n));
  REQUIRE(crc32c(data.data() + 10, 500, crc32c(data.data(), 10)) == crc32c(data.data(), 510));
}

TEST_CASE("record batch validation accepts good batches and refuses corrupt ones") {
  auto good = RecordBatchBuilder().add("k1", "v1", 100, {{"h", std::string("x")}}).add(std::nullopt, "v2", 101).build();
  auto ok = validate_batches(good, 1 << 20);
  REQUIRE(ok.ok());
  REQUIRE(ok->records == 2);
  REQUIRE(ok->max_timestamp == 101);

  auto flipped = good;
  flipped[flipped.size() - 2] ^= 0x10;
  REQUIRE(validate_batches(flipped, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);

  auto wrong_count = good;
  wire::store_be32(wrong_count.data() + batch::kRecordsCount, 3);
  wire::store_be32(wrong_count.data() + batch::kCrc,
                   crc32c(wrong_count.data() + batch::kAttributes, wrong_count.size() - batch::kAttributes));
  REQUIRE(validate_batches(wrong_count, 1 << 20).code() == ErrorCode::CORRUPT_MESSAGE);

  REQUIRE(validate_batches(good, 20).code() == ErrorCode::MESSAGE_TOO_LARGE);
  REQUIRE(validate_batches(std::span<const uint8_t>(good.data(), good.size() - 1), 1 << 20).code() ==
          ErrorCode::CORRUPT_MESSAGE);

  auto patched = good;
  patch_base_offset(patched.data(), 1000);
  patch_leader_epoch(patched.data(), 7);
  REQUIRE(validate_batches(patched, 1 << 20).ok());
  std::vector<int64_t> offsets;
  std::vector<std::string> headers;
  REQUIRE(for_each_record(patched, [&](const RecordView& r) {
            offsets.push_back(r.offset);
            for (auto& h : r.headers) headers.push_back(std::string(h.key) + "=" + std::string(h.value.value_or("")));
          }).ok());
  REQUIRE(offsets == std::vector<int64_t>{1000, 1001});
  REQUIRE(headers == std::vector<std::string>{"h=x"});
}
