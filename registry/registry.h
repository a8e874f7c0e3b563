// The Schema Registry service: Confluent's operations over the `_schemas` log.
//
// Reads are answered from this instance's Store (the view of the log). Writes (register,
// delete, config, mode) are planned against the view and appended with the log end offset the
// view has reached as the condition, so the planner always saw every earlier record: two
// instances (brokers) planning at once both ask for the same end offset, one wins, the other
// gets a conflict, catches its view up to the new end and plans again (at most
// max_write_attempts times). Ids (max id + 1) and versions (max version + 1) therefore never
// collide. A write answers once its records are applied to this instance's view, so the
// writer reads its own write from this instance at once.
//
// Writes of one instance run one at a time, in arrival order (as Confluent's per-subject lock
// and single leader do). Every operation answers through its callback, on whichever thread
// completed it (the caller's for reads, the SchemaLog's for writes), never under the
// registry's lock, so a callback may call the registry again. Until the view has applied the
// log up to the end offset seen at start, operations wait (a broker that restarts does not
// answer from an empty view). Thread-safe.
//
// Time: the owner calls tick() now and then (say every 100 ms); an operation still waiting
// timeout_ms after it arrived is answered 50002.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "registry/errors.h"
#include "registry/records.h"
#include "registry/schema/schema.h"
#include "registry/schema_log.h"
#include "registry/store.h"
#include "runtime/rate_limited_log.h"

namespace kb::registry {

// What POST /subjects/{s}/versions, POST /subjects/{s} and the compatibility check send.
struct SchemaRequest {
  std::string schema;
  SchemaType type = SchemaType::kAvro;
  std::vector<SchemaReference> references;
  std::optional<int32_t> id;       // IMPORT mode only
  std::optional<int32_t> version;  // IMPORT mode (elsewhere it must be the next version)
};

// One version of a subject, as the REST API shows it: the fields of its SCHEMA record value.
using SubjectSchema = SchemaValue;

// GET /schemas/ids/{id}: subject and version only when the request named a subject.
struct SchemaById {
  SchemaType type = SchemaType::kAvro;
  std::string schema;
  std::vector<SchemaReference> references;
  std::optional<std::string> subject;
  std::optional<int32_t> version;
};

struct SubjectVersion {
  std::string subject;
  int32_t version = 0;
};

struct Config {
  std::optional<CompatibilityLevel> compatibility;
  std::optional<bool> normalize;
};

// PUT /config: a compatibility name (any case) and/or normalize; absent fields keep their value.
struct ConfigUpdate {
  std::optional<std::string> compatibility;
  std::optional<bool> normalize;
};

struct CompatibilityResult {
  bool compatible = true;
  std::vector<std::string> messages;
};

// Which versions a listing includes (Confluent's LookupFilter).
enum class Deleted { kExclude, kInclude, kOnly };

struct RegistryStats {
  int64_t subjects = 0;                            // subjects with a live version
  std::map<SchemaType, int64_t> versions_by_type;  // live versions
  int64_t compatibility_refusals = 0;              // registrations refused as incompatible
  int64_t write_conflicts = 0;                     // appends that lost the race and were retried
  int64_t skipped_records = 0;                     // _schemas records the view could not use
  bool ready = false;                              // the view has caught up with the log
};

struct RegistryOptions {
  int64_t timeout_ms = 30000;   // Confluent's kafkastore.timeout.ms is 500; a write here
                                // may wait for replication and a leader change
  int max_write_attempts = 50;  // conflicts tolerated per write before 50001 (one loses
                                // with odds (n-1)/n per round against n busy writers)
  CompatibilityLevel default_compatibility = CompatibilityLevel::kBackward;
  std::function<int64_t()> now_ms;  // monotonic milliseconds; steady_clock when empty
};

template <class T>
using Callback = std::function<void(Reply<T>)>;

struct WritePlan;  // registry_plan.h

class Registry {
 public:
  Registry(SchemaLog& log, RegistryOptions options = {});
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Starts reading the log. Call once, before any operation is answered.
  void start();
  // Expires operations waiting longer than timeout_ms.
  void tick();
  bool ready() const;
  RegistryStats stats() const;

  // Broker-side schema validation: whether schema `id` is a live (not soft-deleted) version
  // of `subject` in the view as it is now. kUnknownId when the view has not caught up yet or
  // the id is above every id it knows (registered through another broker and not read here
  // yet, or never registered): the caller may ask again later. Synchronous, never waits for
  // the log.
  enum class IdCheck { kRegistered, kNotUnderSubject, kUnknownId };
  IdCheck check_id(std::string_view subject, int32_t id) const;
  // The record name RecordNameStrategy gives a record written with schema `id` (and, for
  // PROTOBUF, these message indexes); nullopt for an unknown id or a schema naming no record.
  std::optional<std::string> record_name(int32_t id, const std::vector<int32_t>& message_indexes) const;

  // ---- writes
  // POST /subjects/{s}/versions. `normalize` or the subject's normalize config stores the
  // normalized form.
  void register_schema(std::string subject, SchemaRequest request, bool normalize,
                       Callback<SubjectSchema> done);
  // DELETE /subjects/{s}/versions/{v} (-1: latest); answers the version deleted.
  void delete_version(std::string subject, int32_t version, bool permanent, Callback<int32_t> done);
  // DELETE /subjects/{s}; answers the versions deleted.
  void delete_subject(std::string subject, bool permanent, Callback<std::vector<int32_t>> done);
  // PUT/DELETE /config[/{s}] (nullopt subject: global). put answers the new config, delete the
  // config it removed.
  void put_config(std::optional<std::string> subject, ConfigUpdate update, Callback<Config> done);
  void delete_config(std::optional<std::string> subject, Callback<Config> done);
  // PUT/DELETE /mode[/{s}]. put answers the mode set; delete the mode it removed.
  void put_mode(std::optional<std::string> subject, std::string mode, bool force, Callback<Mode> done);
  void delete_mode(std::optional<std::string> subject, Callback<Mode> done);

  // ---- reads
  // POST /subjects/{s}: the version of `subject` holding this schema.
  void lookup(std::string subject, SchemaRequest request, bool normalize, bool include_deleted,
              Callback<SubjectSchema> done);
  void schema_by_id(int32_t id, std::optional<std::string> subject, std::string format,
                    Callback<SchemaById> done);
  void versions_of_id(int32_t id, bool include_deleted, Callback<std::vector<SubjectVersion>> done);
  // GET /schemas: every version of the subjects starting with `prefix`.
  void schemas(std::string prefix, bool include_deleted, bool latest_only,
               Callback<std::vector<SubjectSchema>> done);
  void subjects(std::string prefix, Deleted deleted, Callback<std::vector<std::string>> done);
  void versions(std::string subject, Deleted deleted, Callback<std::vector<int32_t>> done);
  // GET /subjects/{s}/versions/{v} (-1: latest), `format` as for schema_by_id.
  void version(std::string subject, int32_t version, bool include_deleted, std::string format,
               Callback<SubjectSchema> done);
  void referenced_by(std::string subject, int32_t version, bool include_deleted,
                     Callback<std::vector<int32_t>> done);
  void get_config(std::optional<std::string> subject, bool default_to_global, Callback<Config> done);
  void get_mode(std::optional<std::string> subject, bool default_to_global, Callback<Mode> done);
  // POST /compatibility/subjects/{s}/versions[/{v}]: against `version` (-1: latest) or, when
  // nullopt, the subject's live versions as its level says.
  void check_compatibility(std::string subject, std::optional<int32_t> version, SchemaRequest request,
                           bool normalize, bool verbose, Callback<CompatibilityResult> done);

 private:
  struct Write;
  struct Waiter;
  using Action = std::function<void()>;

  enum class WriteState { kIdle, kAppending, kApplying, kCatchingUp };

  // Runs `read` against the view now when ready, else once ready (or fails it at timeout).
  void when_ready(std::function<Action()> read, std::function<void(ApiError)> fail);
  template <class T>
  void read_op(Callback<T> done, std::function<Reply<T>()> compute);
  void submit(std::function<WritePlan(const Store&)> plan, std::function<void(ApiError)> fail);
  template <class T>
  void write_op(Callback<T> done, std::function<WritePlan(const Store&)> plan);
  // Under mu_; `out` collects what to run once the lock is released.
  void pump(std::vector<Action>& out);
  void finish_front(std::vector<Action>& out, std::optional<ApiError> error);
  void advance_write(std::vector<Action>& out);
  void become_ready_if_caught_up(std::vector<Action>& out);
  // Log callbacks and requests (without mu_).
  void on_append(AppendResult result, int64_t count);
  void on_read(ReadResult result);
  void read_next();
  void ask_end_offset();
  int64_t now() const;

  // Helpers of the operations (under mu_).
  std::shared_ptr<const ParsedSchema> parsed_stored(int32_t id) const;
  ReferenceResolver resolver() const;
  Mode mode_in_scope(const std::optional<std::string>& subject) const;
  Config config_in_scope(const std::optional<std::string>& subject) const;
  Reply<std::shared_ptr<const ParsedSchema>> parse_request(const SchemaRequest& request) const;
  // The text stored for a parsed request: Confluent's canonical form, or the normalized one.
  std::string stored_text(const ParsedSchema& parsed, bool normalize) const;
  // The version of `subject` holding the same schema as `parsed` (text, type, references).
  std::optional<int32_t> find_in_subject(const std::string& subject, const ParsedSchema& parsed,
                                         const std::string& text, bool normalize, bool include_deleted) const;
  SubjectSchema subject_schema(const std::string& subject, int32_t version, const StoredVersion& v) const;
  WritePlan plan_register(const std::string& subject, const SchemaRequest& request, bool normalize,
                          Callback<SubjectSchema> done);

  SchemaLog& log_;
  const RegistryOptions options_;
  mutable std::mutex mu_;
  Store store_;
  bool started_ = false;
  std::optional<int64_t> start_end_;  // the end offset to reach before answering
  bool ready_ = false;
  bool retry_end_offset_ = false;
  int64_t read_failures_ = 0;
  runtime::RateLimitedLog read_failure_log_{runtime::RateLimitedLog::kDefaultIntervalMs, [this] { return now(); }};
  std::deque<std::unique_ptr<Write>> writes_;  // front() is the running one unless kIdle
  WriteState state_ = WriteState::kIdle;
  int64_t state_offset_ = 0;        // kApplying / kCatchingUp: the view offset it waits for
  std::deque<Waiter> ready_queue_;  // operations that arrived before the view caught up
  // Parsed stored schemas by id: the same text always parses the same, so the cache never
  // goes stale (an id is never rebound to another text).
  mutable std::map<int32_t, std::shared_ptr<const ParsedSchema>> parsed_;
  mutable std::set<int32_t> unparsable_logged_;
  int64_t compatibility_refusals_ = 0;
  int64_t write_conflicts_ = 0;
  std::shared_ptr<bool> alive_;  // callbacks from the log check it: the log may outlive us
};

}  // namespace kb::registry
