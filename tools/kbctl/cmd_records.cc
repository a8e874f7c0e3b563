// kbctl topic produce | consume: records from stdin to a topic's partition leaders, and from
// the leaders to stdout, with the record-batch codec of protocol/record_batch.h.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "protocol/messages/fetch_request.h"
#include "protocol/messages/fetch_response.h"
#include "protocol/messages/offset_fetch_request.h"
#include "protocol/messages/offset_fetch_response.h"
#include "protocol/messages/produce_request.h"
#include "protocol/messages/produce_response.h"
#include "protocol/record_batch.h"
#include "runtime/clock.h"
#include "tools/kbctl/group_member.h"
#include "tools/kbctl/kbctl.h"
#include "tools/kbctl/offsets.h"

namespace kb::kbctl {
namespace {

std::atomic<bool> g_interrupted{false};

int codec_id(const std::string& name) {
  static const char* kNames[] = {"none", "gzip", "snappy", "lz4", "zstd"};
  for (int i = 0; i < 5; ++i)
    if (name == kNames[i]) return i;
  usage_error("--compression: expected none, gzip, snappy, lz4 or zstd, got '" + name + "'");
}

std::vector<int32_t> parse_partitions(const Args& a,
                                      const msg::MetadataResponse::MetadataResponseTopic& topic) {
  std::set<int32_t> known;
  for (const auto& p : topic.partitions) known.insert(p.partition_index);
  std::vector<int32_t> out;
  for (const auto& list : a.all("partition"))
    for (const auto& item : split_commas(list)) {
      auto n = parse_int(item);
      if (!n) usage_error("--partition: expected partition numbers, got '" + list + "'");
      if (!known.count(static_cast<int32_t>(*n)))
        throw Failure(kExitNotFound, "topic " + *topic.name + " has no partition " + std::to_string(*n) +
                                         " (it has " + std::to_string(known.size()) + ")");
      out.push_back(static_cast<int32_t>(*n));
    }
  if (out.empty()) out.assign(known.begin(), known.end());
  return out;
}

// ---- produce ----------------------------------------------------------------------------------

struct Pending {
  int32_t partition;
  RecordBatchBuilder batch;
  int records = 0;
};

class Producer {
 public:
  Producer(Client& c, std::string topic, int16_t acks, int codec)
      : c_(c), topic_(std::move(topic)), acks_(acks), codec_(codec) {
    refresh();
  }
  int32_t partitions() const { return static_cast<int32_t>(leaders_.size()); }
  void add(int32_t partition, std::optional<std::string_view> key, std::optional<std::string_view> value,
           const RecordBatchBuilder::Headers& headers) {
    auto& b = batches_[partition];
    b.add(key, value, runtime::now_ms(), headers);
    pending_bytes_ += (key ? key->size() : 0) + (value ? value->size() : 0) + 16;
    if (++pending_ >= 5000 || pending_bytes_ >= (1 << 20)) flush();
  }
  // Sends what is batched, one Produce per leader; a partition whose leader moved is sent
  // again to the new one.
  void flush() {
    for (int attempt = 0; !batches_.empty(); ++attempt) {
      std::map<int32_t, std::vector<int32_t>> by_leader;
      for (const auto& [p, b] : batches_) by_leader[leaders_.at(p)].push_back(p);
      std::map<int32_t, RecordBatchBuilder> retry;
      for (const auto& [leader, parts] : by_leader) {
        if (leader < 0 && attempt < 10) {
          for (int32_t p : parts) retry.emplace(p, std::move(batches_.at(p)));
          continue;
        }
        if (leader < 0)
          fail(Error{ErrorCode::LEADER_NOT_AVAILABLE,
                     "partition " + topic_ + "-" + std::to_string(parts[0]) + " has no leader"});
        msg::ProduceRequest req;
        req.acks = acks_;
        req.timeout_ms = 30000;
        auto& td = req.topic_data.emplace_back();
        td.name = topic_;
        std::vector<std::vector<uint8_t>> bytes;  // alive until sent
        for (int32_t p : parts) {
          auto built = batches_.at(p).build();
          if (codec_ != 0) built = must(recompress_batch(built, codec_));
          bytes.push_back(std::move(built));
          auto& pd = td.partition_data.emplace_back();
          pd.index = p;
          pd.records.bytes = std::span<const uint8_t>(bytes.back().data(), bytes.back().size());
        }
        auto answer = c_.call<msg::ProduceRequest, msg::ProduceResponse>(leader, req, 9);
        if (!answer.ok() && Client::unreachable(answer.error()) && attempt < 10) {
          // A leader that went away: its partitions move to another broker soon.
          for (int32_t p : parts) retry.emplace(p, std::move(batches_.at(p)));
          continue;
        }
        auto resp = must(std::move(answer));
        for (const auto& t : resp.responses)
          for (const auto& pr : t.partition_responses) {
            auto code = static_cast<ErrorCode>(pr.error_code);
            auto& b = batches_.at(pr.index);
            if (code == ErrorCode::NOT_LEADER_OR_FOLLOWER || code == ErrorCode::LEADER_NOT_AVAILABLE ||
                code == ErrorCode::NOT_ENOUGH_REPLICAS || code == ErrorCode::REQUEST_TIMED_OUT) {
              if (attempt < 10) {
                retry.emplace(pr.index, std::move(b));
                continue;
              }
            }
            if (code != ErrorCode::NONE)
              fail(Error{code, "producing to " + topic_ + "-" + std::to_string(pr.index) + ": " +
                                   c_.refusal(leader, code, pr.error_message)});
            auto& s = stats_[pr.index];
            if (s.records == 0) s.first = pr.base_offset;
            s.last = pr.base_offset + b.count() - 1;
            s.records += b.count();
            produced_ += b.count();
          }
      }
      batches_.clear();
      if (retry.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * (attempt + 1)));
      refresh();
      batches_ = std::move(retry);
    }
    pending_ = 0;
    pending_bytes_ = 0;
  }
  int64_t produced() const { return produced_; }
  struct Stat {
    int64_t records = 0, first = -1, last = -1;
  };
  const std::map<int32_t, Stat>& stats() const { return stats_; }

 private:
  void refresh() {
    auto md = must(c_.metadata(std::vector<std::string>{topic_}));
    const auto& t = topic_or_fail(c_, md, topic_);
    leaders_.clear();
    for (const auto& p : t.partitions) leaders_[p.partition_index] = p.leader_id;
  }

  Client& c_;
  const std::string topic_;
  const int16_t acks_;
  const int codec_;
  std::map<int32_t, int32_t> leaders_;
  std::map<int32_t, RecordBatchBuilder> batches_;
  size_t pending_ = 0, pending_bytes_ = 0;
  int64_t produced_ = 0;
  std::map<int32_t, Stat> stats_;
};

int topic_produce(Context& ctx, const Args& a) {
  auto& c = ctx.client();
  const std::string topic = a.positional[0];
  int16_t acks = -1;
  if (auto v = a.get("acks")) {
    if (*v == "all" || *v == "-1")
      acks = -1;
    else if (*v == "1")
      acks = 1;
    else
      usage_error("--acks: expected all (-1) or 1, got '" + *v + "'");
  }
  const int codec = codec_id(a.get("compression").value_or("none"));
  RecordBatchBuilder::Headers headers;
  for (const auto& h : a.all("header")) {
    auto [k, v] = split_assignment(h, "--header");
    headers.emplace_back(k, v);
  }
  auto fixed_key = a.get("key");
  auto separator = a.get("key-separator");
  if (separator && separator->empty()) usage_error("--key-separator: must not be empty");
  Producer producer(c, topic, acks, codec);
  std::optional<int32_t> fixed_partition;
  if (auto p = a.get_int("partition")) {
    if (*p < 0 || *p >= producer.partitions())
      throw Failure(kExitNotFound, "topic " + topic + " has no partition " + std::to_string(*p));
    fixed_partition = static_cast<int32_t>(*p);
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (auto path = a.get("file")) {
    file.open(*path);
    if (!file) usage_error("--file: cannot open " + *path);
    in = &file;
  }
  const bool progress = isatty(STDERR_FILENO) && !a.flag("quiet");
  int32_t next = 0;
  int64_t lines = 0;
  std::string line;
  while (std::getline(*in, line)) {
    std::optional<std::string_view> key;
    std::string_view value = line;
    if (fixed_key) key = *fixed_key;
    if (separator) {
      auto pos = line.find(*separator);
      if (pos != std::string::npos) {
        key = std::string_view(line).substr(0, pos);
        value = std::string_view(line).substr(pos + separator->size());
      }
    }
    int32_t partition = fixed_partition ? *fixed_partition
                        : key           ? murmur2_partition(*key, producer.partitions())
                                        : next++ % producer.partitions();
    producer.add(partition, key, value, headers);
    if (progress && ++lines % 10000 == 0) std::cerr << "\r" << lines << " records read" << std::flush;
  }
  producer.flush();
  if (progress && lines >= 10000) std::cerr << "\n";
  if (ctx.json()) {
    Json parts = Json::array();
    for (const auto& [p, s] : producer.stats())
      parts.push_back(
          {{"partition", p}, {"records", s.records}, {"first_offset", s.first}, {"last_offset", s.last}});
    print_json(ctx.out, {{"topic", topic}, {"records", producer.produced()}, {"partitions", parts}});
  } else if (!a.flag("quiet")) {
    Table t({"PARTITION", "RECORDS", "FIRST-OFFSET", "LAST-OFFSET"});
    for (const auto& [p, s] : producer.stats())
      t.add({std::to_string(p), std::to_string(s.records), std::to_string(s.first), std::to_string(s.last)});
    t.print(ctx.out);
    ctx.out << "produced " << producer.produced() << " records to " << topic << "\n";
  }
  return kExitOk;
}

// ---- consume ----------------------------------------------------------------------------------

// -f: %t topic, %p partition, %o offset, %T timestamp (ms), %k key, %v value, %h headers
// (k=v,...), %K / %V key / value length, %% a percent sign; \n \t \r \\ \0 escapes.
std::string render(const std::string& fmt, const std::string& topic, int32_t partition, const RecordView& r) {
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char ch = fmt[i];
    if (ch == '\\' && i + 1 < fmt.size()) {
      char e = fmt[++i];
      out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == '0' ? '\0' : e;
      continue;
    }
    if (ch != '%' || i + 1 >= fmt.size()) {
      out += ch;
      continue;
    }
    switch (char f = fmt[++i]) {
      case 't':
        out += topic;
        break;
      case 'p':
        out += std::to_string(partition);
        break;
      case 'o':
        out += std::to_string(r.offset);
        break;
      case 'T':
        out += std::to_string(r.timestamp);
        break;
      case 'k':
        if (r.key) out += *r.key;
        break;
      case 'v':
        if (r.value) out += *r.value;
        break;
      case 'K':
        out += std::to_string(r.key ? int64_t(r.key->size()) : -1);
        break;
      case 'V':
        out += std::to_string(r.value ? int64_t(r.value->size()) : -1);
        break;
      case 'h':
        for (size_t h = 0; h < r.headers.size(); ++h) {
          if (h) out += ',';
          out.append(r.headers[h].key).append("=").append(r.headers[h].value.value_or(""));
        }
        break;
      case '%':
        out += '%';
        break;
      default:
        out += '%';
        out += f;
    }
  }
  return out;
}

Json record_json(const std::string& topic, int32_t partition, const RecordView& r) {
  Json headers = Json::array();
  for (const auto& h : r.headers)
    headers.push_back(
        {{"key", std::string(h.key)}, {"value", h.value ? Json(std::string(*h.value)) : Json(nullptr)}});
  return {{"topic", topic},
          {"partition", partition},
          {"offset", r.offset},
          {"timestamp", r.timestamp},
          {"key", r.key ? Json(std::string(*r.key)) : Json(nullptr)},
          {"value", r.value ? Json(std::string(*r.value)) : Json(nullptr)},
          {"headers", headers}};
}

int topic_consume(Context& ctx, const Args& a) {
  auto& c = ctx.client();
  const std::string topic = a.positional[0];
  const auto limit = a.get_int("num");
  if (limit && *limit <= 0) usage_error("--num: expected a positive number");
  const bool exit_at_end = a.flag("exit");
  const auto group = a.get("group");
  const std::string where = a.get("offset").value_or("start");
  std::optional<int64_t> at_offset, at_time;
  if (where != "start" && where != "end") {
    at_offset = parse_int(where);
    if (!at_offset) at_time = parse_timestamp(where);
    if ((!at_offset && !at_time) || (at_offset && *at_offset < 0))
      usage_error("--offset: expected start, end, an offset, @MS or an ISO-8601 time, got '" + where + "'");
  }
  std::optional<std::string> fmt = a.get("print");
  auto md = must(c.metadata(std::vector<std::string>{topic}));
  if (group && a.get("partition")) usage_error("--partition: not with --group (the group assigns the partitions)");
  auto parts = parse_partitions(a, topic_or_fail(c, md, topic));
  std::optional<GroupMember> member;
  if (group) {
    member.emplace(c, *group, topic);
    parts = member->join();
  }

  // Where each partition starts: the group's committed offset, else --offset.
  std::map<int32_t, int64_t> position;
  auto start_positions = [&] {
    position.clear();
    if (group) {
      msg::OffsetFetchRequest req;
      req.group_id = *group;
      auto& t = req.topics.emplace();
      t.emplace_back().name = topic;
      t.back().partition_indexes = parts;
      auto resp = must(c.call<msg::OffsetFetchRequest, msg::OffsetFetchResponse>(member->coordinator(), req, 7));
      for (const auto& rt : resp.topics)
        for (const auto& p : rt.partitions)
          if (p.error_code == 0 && p.committed_offset >= 0) position[p.partition_index] = p.committed_offset;
    }
    std::vector<TopicPartition> unset;
    for (int32_t p : parts)
      if (!position.count(p)) unset.push_back({topic, p});
    if (unset.empty()) return;
    auto starts = list_offsets(c, md, unset, where == "end" ? kLatest : kEarliest);
    OffsetLookup at = at_time ? list_offsets(c, md, unset, *at_time) : OffsetLookup{};
    auto ends_now = list_offsets(c, md, unset, kLatest);
    for (const auto& tp : unset) {
      if (!starts.offsets.count(tp)) fail(starts.errors[tp]);
      int64_t pos = starts.offsets[tp];
      if (at_offset && ends_now.offsets.count(tp))
        pos = std::clamp(*at_offset, pos, std::max(pos, ends_now.offsets[tp]));
      if (at_time) pos = at.offsets.count(tp) && at.offsets[tp] >= 0 ? at.offsets[tp] : ends_now.offsets[tp];
      position[tp.partition] = pos;
    }
  };
  start_positions();

  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });
  std::map<int32_t, int64_t> high_watermark;
  int64_t emitted = 0;
  const bool progress = limit && isatty(STDERR_FILENO) && !isatty(STDOUT_FILENO);
  auto done = [&] {
    if (g_interrupted || (limit && emitted >= *limit)) return true;
    if (!exit_at_end) return false;
    for (int32_t p : parts)
      if (!high_watermark.count(p) || position[p] < high_watermark[p]) return false;
    return true;
  };
  int stale = 0;
  while (!done()) {
    if (member && member->rebalance_needed()) {
      // Kafka's consumer commits what it has consumed before giving its partitions up.
      member->commit(position);
      parts = member->join();
      start_positions();
      high_watermark.clear();
    }
    if (parts.empty()) {  // more members than partitions: this one waits for a rebalance
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    std::map<int32_t, std::vector<int32_t>> by_leader;
    for (int32_t p : parts) by_leader[leader_of(md, {topic, p})].push_back(p);
    bool refresh = by_leader.count(-1) > 0;
    for (const auto& [leader, ps] : by_leader) {
      if (leader < 0 || done()) continue;
      msg::FetchRequest req;
      req.replica_id = -1;
      req.max_wait_ms = exit_at_end ? 100 : 500;
      req.min_bytes = 1;
      req.max_bytes = 16 << 20;
      req.isolation_level = 0;
      auto& ft = req.topics.emplace_back();
      ft.topic = topic;
      for (int32_t p : ps) {
        auto& fp = ft.partitions.emplace_back();
        fp.partition = p;
        fp.fetch_offset = position[p];
        fp.partition_max_bytes = 1 << 20;
      }
      // v13 names topics by id; v12 is the last by name.
      auto resp = c.call<msg::FetchRequest, msg::FetchResponse>(leader, req, 12);
      if (!resp.ok()) {
        if (!Client::unreachable(resp.error()) || ++stale > 20) fail(resp.error());
        refresh = true;
        continue;
      }
      if (resp->error_code != 0)
        fail(Error{static_cast<ErrorCode>(resp->error_code),
                   c.refusal(leader, static_cast<ErrorCode>(resp->error_code))});
      for (const auto& rt : resp->responses)
        for (const auto& pd : rt.partitions) {
          auto code = static_cast<ErrorCode>(pd.error_code);
          const int32_t p = pd.partition_index;
          if (code == ErrorCode::NOT_LEADER_OR_FOLLOWER || code == ErrorCode::LEADER_NOT_AVAILABLE ||
              code == ErrorCode::UNKNOWN_LEADER_EPOCH || code == ErrorCode::FENCED_LEADER_EPOCH) {
            if (++stale > 50)
              fail(Error{code, topic + "-" + std::to_string(p) + ": " + c.refusal(leader, code)});
            refresh = true;
            continue;
          }
          if (code != ErrorCode::NONE)
            fail(Error{code, "fetching " + topic + "-" + std::to_string(p) + " at offset " +
                                 std::to_string(position[p]) + ": " + c.refusal(leader, code)});
          stale = 0;
          high_watermark[p] = pd.high_watermark;
          auto bytes = pd.records.data();
          size_t pos = 0;
          while (bytes.size() - pos >= batch::kHeaderSize && !done()) {
            auto h = read_batch_header(bytes.subspan(pos));
            if (!h.ok() || static_cast<size_t>(h->total_size()) > bytes.size() - pos)
              break;  // a partial batch ends the answer
            auto batch = bytes.subspan(pos, static_cast<size_t>(h->total_size()));
            pos += batch.size();
            if (!h->is_control()) {
              auto s = for_each_record_decompressed(batch, [&](const RecordView& r) {
                if (r.offset < position[p] || (limit && emitted >= *limit)) return;
                RecordView shown = r;
                if (h->log_append_time()) shown.timestamp = h->max_timestamp;
                if (fmt)
                  ctx.out << render(*fmt, topic, p, shown);
                else if (ctx.json())
                  ctx.out << record_json(topic, p, shown).dump(-1, ' ', false, Json::error_handler_t::replace)
                          << "\n";
                else
                  ctx.out << (shown.value ? std::string(*shown.value) : std::string()) << "\n";
                ++emitted;
                position[p] = r.offset + 1;
              });
              if (!s.ok())
                fail(Error{s.error().code, "a batch of " + topic + "-" + std::to_string(p) + " at offset " +
                                               std::to_string(h->base_offset) + ": " + s.error().message});
            }
            if (!(limit && emitted >= *limit)) position[p] = std::max(position[p], h->last_offset() + 1);
          }
        }
      ctx.out.flush();
      if (progress) std::cerr << "\r" << emitted << "/" << *limit << " records" << std::flush;
    }
    if (refresh) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      md = must(c.metadata(std::vector<std::string>{topic}));
    }
  }
  if (progress) std::cerr << "\n";
  if (member) {
    member->commit(position);
    member->leave();
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> record_commands() {
  return {
      {"topic",
       "produce",
       "TOPIC",
       "Produce the lines of stdin (or --file) as records",
       "Each line is one record's value. With -K SEP a line is KEY SEP VALUE; -k gives every\n"
       "record the same key. Keyed records go to murmur2(key) % partitions, as Kafka clients\n"
       "place them; unkeyed ones round-robin. Waits for acks=all unless --acks 1.\n"
       "Example: printf 'id1:hello\\nid2:world\\n' | kbctl topic produce orders -K :",
       {{"key", 'k', "KEY", "the key of every record"},
        {"key-separator", 'K', "SEP", "split each line into key SEP value"},
        {"header", 'H', "KEY=VALUE", "a header on every record (repeatable)"},
        {"partition", 'p', "N", "produce to this partition only"},
        {"acks", 0, "all|1", "acknowledgement to wait for (default all)"},
        {"compression", 'z', "CODEC", "none, gzip, snappy, lz4 or zstd (default none)"},
        {"file", 0, "PATH", "read this file instead of stdin"},
        {"quiet", 'q', "", "print nothing when done"}},
       1,
       1,
       topic_produce},
      {"topic",
       "consume",
       "TOPIC",
       "Print records of a topic",
       "Reads every partition (or -p ones) from its leader, from --offset on: start (default), end,\n"
       "an offset, @MS or an ISO-8601 time. Stops after -n records, at the end with -e, or on\n"
       "Ctrl-C. With -g GROUP it joins the group as a consumer (range assignor, heartbeats),\n"
       "reads the partitions the group assigns it from their committed offsets (else --offset),\n"
       "and commits what it printed at each rebalance and when it stops, then leaves the group.\n"
       "-f formats each record: %t topic, %p partition, %o offset, %T timestamp, %k key,\n"
       "%v value, %h headers, %K/%V key/value length; \\n \\t escapes. The default prints values,\n"
       "one per line, or one JSON object per record with --format json.",
       {{"offset", 'o', "WHERE", "start, end, OFFSET, @MS or DATETIME (default start)"},
        {"num", 'n', "N", "stop after N records"},
        {"exit", 'e', "", "stop at the end of every partition"},
        {"partition", 'p', "P,...", "only these partitions (repeatable)"},
        {"print", 'f', "FORMAT", "how each record is printed"},
        {"group", 'g', "GROUP", "consume as a member of this group, committing what was printed"}},
       1,
       1,
       topic_consume},
  };
}

}  // namespace kb::kbctl
