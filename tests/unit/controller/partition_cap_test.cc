// max.partitions.per.broker: CreateTopics and CreatePartitions that would put more partition
// replicas on a broker than its limit answer INVALID_PARTITIONS (Redpanda's code for its
// partition limit) and write nothing; the limit follows the dynamic broker configs.
#include <catch2/catch.hpp>

#include "controller_fixtures.h"

using namespace kb;
using namespace kb::controller;
using namespace kbtest;

namespace {

CreateTopicSpec topic(std::string name, int32_t partitions) {
  CreateTopicSpec s;
  s.name = std::move(name);
  s.num_partitions = partitions;
  s.replication_factor = 1;
  return s;
}

}  // namespace

TEST_CASE("a topic that would pass max.partitions.per.broker is refused with INVALID_PARTITIONS") {
  TempDir t;
  Node n(t.path, "max.partitions.per.broker: 10\n");
  REQUIRE(n.opened.ok());
  auto r = n.ctl->create_topics({topic("a", 6), topic("b", 5), topic("c", 3)}, false);
  REQUIRE(r.size() == 3);
  CHECK(r[0].error == ErrorCode::NONE);
  // Topics earlier in the same request count: 6 + 5 is over 10, 6 + 3 is not.
  CHECK(r[1].error == ErrorCode::INVALID_PARTITIONS);
  CHECK(r[1].message ==
        "This would put 11 partition replicas on broker 1 (it hosts 6), over its limit of 10 "
        "(max.partitions.per.broker).");
  CHECK(r[2].error == ErrorCode::NONE);
  auto img = n.ctl->image();
  CHECK(img->topic("b") == nullptr);
  CHECK(img->topic("c")->partitions.size() == 3);
  // validate_only says the same and writes nothing.
  auto v = n.ctl->create_topics({topic("d", 1)}, true);
  CHECK(v[0].error == ErrorCode::NONE);
  CHECK(n.ctl->create_topics({topic("d", 2)}, true)[0].error == ErrorCode::INVALID_PARTITIONS);

  // CreatePartitions is held to the same limit.
  auto grow = n.ctl->create_partitions("c", 5, std::nullopt, false);
  CHECK(grow.code() == ErrorCode::INVALID_PARTITIONS);
  CHECK(grow.error().message.find("over its limit of 10") != std::string::npos);
  CHECK(n.ctl->image()->topic("c")->partitions.size() == 3);
  CHECK(n.ctl->create_partitions("c", 4, std::nullopt, false).ok());
}

TEST_CASE("max.partitions.per.broker follows the dynamic broker configs; 0 is no limit") {
  TempDir t;
  Node n(t.path, "max.partitions.per.broker: 2\n");
  REQUIRE(n.opened.ok());
  CHECK(n.ctl->create_topics({topic("a", 3)}, false)[0].error == ErrorCode::INVALID_PARTITIONS);
  auto set = [&](const std::string& resource, const std::string& value) {
    return n.ctl->alter_broker_configs(
        resource,
        [value](std::map<std::string, std::string>& configs) -> Status {
          configs["max.partitions.per.broker"] = value;
          return {};
        },
        false);
  };
  REQUIRE(set("", "3").ok());  // the cluster-wide default
  CHECK(n.ctl->create_topics({topic("a", 3)}, false)[0].error == ErrorCode::NONE);
  CHECK(n.ctl->create_topics({topic("b", 1)}, false)[0].error == ErrorCode::INVALID_PARTITIONS);
  REQUIRE(set("1", "0").ok());  // this broker's own value wins: no limit
  CHECK(n.ctl->create_topics({topic("b", 100)}, false)[0].error == ErrorCode::NONE);
}
