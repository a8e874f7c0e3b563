// BrokerSettings: every typed field names a property of the table with a fitting type, fields
// hold the effective values, and a dynamic change shows in the new snapshot's settings only.
#include <catch2/catch.hpp>

#include <set>

#include "config/config.h"
#include "config/settings.h"

using namespace kb;
using namespace kb::config;

namespace {

BrokerConfig load(const std::string& extra = "") {
  return BrokerConfig::from_yaml("node.id: 1\nlog.dirs: /tmp/kb-settings-test\n" + extra);
}

}  // namespace

TEST_CASE("every settings field maps to a broker property of a fitting type") {
  std::set<std::string> seen;
  for (const auto& s : broker_setting_infos()) {
    INFO(s.field << " <- " << s.property);
    const PropertyDef* d = find_broker_property(s.property);
    REQUIRE(d != nullptr);
    CHECK(s.fits(d->type));
    CHECK_FALSE(d->not_used);  // the code reads it, so the table must not call it unused
    CHECK(seen.insert(s.property).second);
  }
  CHECK(seen.size() > 50);
}

TEST_CASE("a field's type rule refuses properties of other types") {
  for (const auto& s : broker_setting_infos()) {
    if (std::string(s.property) == "num.partitions") {
      CHECK(s.fits(Type::Int));
      CHECK_FALSE(s.fits(Type::Long));
      CHECK_FALSE(s.fits(Type::String));
    }
    if (std::string(s.property) == "listeners") {
      CHECK(s.fits(Type::List));
      CHECK_FALSE(s.fits(Type::String));
    }
  }
}

TEST_CASE("settings hold the effective values, defaults and nulls included") {
  auto c = load("num.partitions: 7\nlog.cleaner.backoff.ms: 1234\nbroker.rack: r1\n");
  const auto& s = c.settings();
  CHECK(s.num_partitions == 7);
  CHECK(s.log_cleaner_backoff_ms == 1234);
  CHECK(s.broker_rack == std::optional<std::string>("r1"));
  CHECK(s.auto_create_topics_enable == c.get_bool("auto.create.topics.enable"));
  CHECK(s.group_max_size == c.get_int("group.max.size"));
  CHECK_FALSE(s.log_flush_interval_ms.has_value());
  CHECK_FALSE(s.inter_broker_listener_name.has_value());
  CHECK(s.listeners == c.get_list("listeners"));
}

TEST_CASE("a dynamic change is in the new snapshot's settings, not the old one's") {
  auto base = load("log.cleaner.threads: 1\n");
  auto changed = base.with_dynamic({{"log.cleaner.threads", "3"}}, {{"log.cleaner.backoff.ms", "99"}});
  REQUIRE(changed.ok());
  CHECK(changed->settings().log_cleaner_threads == 3);
  CHECK(changed->settings().log_cleaner_backoff_ms == 99);
  CHECK(base.settings().log_cleaner_threads == 1);
}

TEST_CASE("a configuration built without YAML has the built-in defaults as settings") {
  BrokerConfig bare;
  CHECK(bare.settings().num_partitions == 1);
  CHECK(bare.settings().log_cleaner_enable);
}
