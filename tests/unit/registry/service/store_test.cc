// The view built from _schemas records: Confluent's rules for soft and permanent deletes,
// configs, modes and ids.
#include "registry/store.h"

#include <catch2/catch.hpp>

using namespace kb::registry;

namespace {

struct Feed {
  Store store;
  int64_t offset = 0;
  void put(const RecordKey& key, std::optional<std::string> value) {
    store.apply(LoggedRecord{offset++, LogRecord{encode_key(key), std::move(value)}});
  }
  void schema(const std::string& subject, int32_t version, int32_t id, const std::string& text,
              bool deleted = false) {
    put(RecordKey::schema(subject, version),
        encode_value(SchemaValue{subject, version, id, SchemaType::kJson, {}, text, deleted}));
  }
};

}  // namespace

TEST_CASE("schema records build subjects, versions and ids", "[registry][store]") {
  Feed f;
  f.schema("a", 1, 1, R"({"type":"string"})");
  f.schema("b", 1, 1, R"({"type":"string"})");
  f.schema("a", 2, 2, R"({"type":"number"})");
  CHECK(f.store.next_offset() == 3);
  CHECK(f.store.max_id() == 2);
  CHECK(f.store.subjects(false) == std::vector<std::string>{"a", "b"});
  REQUIRE(f.store.latest("a"));
  CHECK(f.store.latest("a")->first == 2);
  REQUIRE(f.store.schema_by_id(1));
  CHECK(f.store.schema_by_id(1)->uses.size() == 2);
  CHECK(f.store.id_of(SchemaType::kJson, R"({"type":"number"})", {}) == 2);
  CHECK_FALSE(f.store.id_of(SchemaType::kAvro, R"({"type":"number"})", {}));
}

TEST_CASE("DELETE_SUBJECT soft-deletes up to its version; ids stay resolvable", "[registry][store]") {
  Feed f;
  f.schema("a", 1, 1, "1");
  f.schema("a", 2, 2, "2");
  f.put(RecordKey::delete_subject("a"), encode_value(DeleteSubjectValue{"a", 1}));
  CHECK(f.store.version("a", 1)->deleted);
  CHECK_FALSE(f.store.version("a", 2)->deleted);
  f.put(RecordKey::delete_subject("a"), encode_value(DeleteSubjectValue{"a", 2}));
  CHECK_FALSE(f.store.has_subject("a", false));
  CHECK(f.store.has_subject("a", true));
  CHECK(f.store.subjects(false).empty());
  CHECK(f.store.subjects(true) == std::vector<std::string>{"a"});
  CHECK(f.store.schema_by_id(2) != nullptr);
}

TEST_CASE("a SCHEMA tombstone removes the version and, with its last use, the id", "[registry][store]") {
  Feed f;
  f.schema("a", 1, 1, "1");
  f.schema("b", 1, 1, "1");
  f.put(RecordKey::schema("a", 1), std::nullopt);
  CHECK_FALSE(f.store.has_subject("a", true));
  REQUIRE(f.store.schema_by_id(1));
  f.put(RecordKey::schema("b", 1), std::nullopt);
  CHECK(f.store.schema_by_id(1) == nullptr);
  CHECK_FALSE(f.store.id_of(SchemaType::kJson, "1", {}));
  CHECK(f.store.max_id() == 1);  // the next id is still 2: ids are never given twice
}

TEST_CASE("CLEAR_SUBJECT drops soft-deleted versions only", "[registry][store]") {
  Feed f;
  f.schema("a", 1, 1, "1", /*deleted=*/true);
  f.schema("a", 2, 2, "2");
  f.schema("b", 1, 3, "3", true);
  f.put(RecordKey::clear_subject("a"), encode_value(ClearSubjectValue{"a"}));
  CHECK(f.store.version("a", 1) == nullptr);
  CHECK(f.store.version("a", 2) != nullptr);
  CHECK(f.store.version("b", 1) != nullptr);
  f.put(RecordKey::clear_subject(std::nullopt), encode_value(ClearSubjectValue{std::nullopt}));
  CHECK(f.store.version("b", 1) == nullptr);
}

TEST_CASE("config and mode records set and tombstones remove them", "[registry][store]") {
  Feed f;
  f.put(RecordKey::config(std::nullopt),
        encode_value(ConfigValue{std::nullopt, CompatibilityLevel::kFull, {}}));
  f.put(RecordKey::config("s"), encode_value(ConfigValue{"s", CompatibilityLevel::kNone, true}));
  f.put(RecordKey::mode("s"), encode_value(ModeValue{"s", Mode::kReadOnly}));
  REQUIRE(f.store.config(std::nullopt));
  CHECK(f.store.config(std::nullopt)->compatibility == CompatibilityLevel::kFull);
  REQUIRE(f.store.config("s"));
  CHECK(f.store.config("s")->normalize == true);
  CHECK(f.store.mode("s") == Mode::kReadOnly);
  CHECK_FALSE(f.store.mode(std::nullopt));
  f.put(RecordKey::config("s"), std::nullopt);
  f.put(RecordKey::mode("s"), std::nullopt);
  CHECK(f.store.config("s") == nullptr);
  CHECK_FALSE(f.store.mode("s"));
}

TEST_CASE("a record reusing an id for another schema is skipped", "[registry][store]") {
  Feed f;
  f.schema("a", 1, 1, "1");
  f.schema("b", 1, 1, "something else");
  CHECK(f.store.version("b", 1) == nullptr);
  CHECK(f.store.schema_by_id(1)->schema == "1");
  CHECK(f.store.skipped_records() == 1);
}

TEST_CASE("unknown keytypes, malformed and already-applied records are skipped", "[registry][store]") {
  Feed f;
  f.store.apply(LoggedRecord{0, LogRecord{R"({"keytype":"ASSOC","magic":0})", std::string("{}")}});
  f.store.apply(LoggedRecord{1, LogRecord{"garbage", std::string("garbage")}});
  f.store.apply(LoggedRecord{2, LogRecord{encode_key(RecordKey::schema("a", 1)), std::string("[]")}});
  CHECK(f.store.skipped_records() == 3);
  CHECK(f.store.next_offset() == 3);
  f.offset = 3;
  f.schema("a", 1, 1, "1");
  // A record delivered again (a re-read after a retried fetch) changes nothing.
  f.store.apply(LoggedRecord{3, LogRecord{encode_key(RecordKey::schema("a", 1)), std::nullopt}});
  CHECK(f.store.version("a", 1) != nullptr);
  f.store.skip_to(10);
  CHECK(f.store.next_offset() == 10);
}

TEST_CASE("referenced_by lists referrers, soft-deleted ones on request", "[registry][store]") {
  Feed f;
  f.schema("base", 1, 1, "b");
  f.put(RecordKey::schema("user", 1),
        encode_value(SchemaValue{"user", 1, 2, SchemaType::kJson, {{"b.json", "base", 1}}, "u", false}));
  f.put(RecordKey::schema("other", 1),
        encode_value(SchemaValue{"other", 1, 3, SchemaType::kJson, {{"b.json", "base", 1}}, "o", true}));
  CHECK(f.store.referenced_by("base", 1, false) == std::vector<int32_t>{2});
  CHECK(f.store.referenced_by("base", 1, true) == std::vector<int32_t>{2, 3});
}
