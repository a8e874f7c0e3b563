#include "server/schema_registry_service.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "config/settings.h"
#include "registry/auth.h"
#include "server/registry_auth.h"
#include "registry/metrics.h"
#include "registry/registry.h"
#include "registry/rest.h"
#include "registry/rest_json.h"
#include "runtime/clock.h"
#include "runtime/loop_thread.h"
#include "server/broker_schema_log.h"
#include "server/metrics_families.h"
#include "server/schema_validation.h"

namespace kb::server {

namespace {

constexpr int64_t kTickMs = 100;
constexpr int64_t kTopicCheckMs = 1000;

}  // namespace

// Requests and their latency per endpoint (the route template) and HTTP status.
class RegistryRestMetrics final : public registry::RestMetrics {
 public:
  void on_request(std::string_view route, int status, std::chrono::nanoseconds latency) override {
    const prometheus::Labels labels{{"endpoint", std::string(route)}, {"status", std::to_string(status)}};
    requests_.Add(labels).Increment();
    latency_.Add(labels, kBuckets).Observe(std::chrono::duration<double>(latency).count());
  }
  std::vector<prometheus::MetricFamily> collect() const { return registry_.Collect(); }

 private:
  inline static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& requests_ =
      prometheus::BuildCounter()
          .Name("kbroker_schema_registry_requests_total")
          .Help("Schema Registry REST requests answered, by endpoint and HTTP status")
          .Register(registry_);
  prometheus::Family<prometheus::Histogram>& latency_ =
      prometheus::BuildHistogram()
          .Name("kbroker_schema_registry_request_duration_seconds")
          .Help("Schema Registry REST request time from arrival to answer, by endpoint and HTTP status")
          .Register(registry_);
};

SchemaRegistryService::SchemaRegistryService(const config::BrokerConfig& config, Hooks hooks)
    : topic_(config.settings().schema_registry_topic),
      replication_factor_(config.settings().schema_registry_topic_replication_factor),
      min_insync_replicas_(config.settings().min_insync_replicas),
      max_request_bytes_(config.settings().schema_registry_max_request_bytes),
      host_(config.schema_registry_host()),
      port_(config.schema_registry_port()),
      hooks_(std::move(hooks)),
      loop_(std::make_unique<runtime::LoopThread>("kb-schema-reg")) {
  const int32_t timeout_ms = config.settings().schema_registry_timeout_ms;
  BrokerSchemaLogOptions lo;
  lo.topic = topic_;
  lo.client_id = "kbroker-" + std::to_string(config.node_id()) + "-schema-registry";
  lo.append_timeout_ms = timeout_ms;
  lo.peer_security = hooks_.peer_security;
  auto leader = [this]() -> std::optional<SchemaLogLeader> {
    auto img = hooks_.controller->image();
    const controller::PartitionInfo* p = img->partition(topic_, 0);
    if (!p || p->leader < 0) return std::nullopt;
    auto address = hooks_.address(*img, p->leader);
    if (!address) return std::nullopt;
    return SchemaLogLeader{p->leader, *address, p->leader_epoch};
  };
  log_ = std::make_unique<BrokerSchemaLog>(lo, std::move(leader), *loop_);
  registry::RegistryOptions ro;
  ro.timeout_ms = timeout_ms;
  registry_ = std::make_unique<registry::Registry>(*log_, ro);
  // schema.registry.authentication.method: Confluent's authentication.method, under the
  // registry's prefix like its other settings.
  if (config.settings().schema_registry_authentication_method == "BASIC")
    auth_ = BasicAuthenticator::from_config(config, [this]() -> std::shared_ptr<const controller::MetadataImage> {
      if (!hooks_.controller) return std::make_shared<controller::MetadataImage>();  // not open yet: no users
      return hooks_.controller->image();
    });
  else
    auth_ = std::make_unique<registry::AllowEveryone>();
  rest_metrics_ = std::make_unique<RegistryRestMetrics>();
  rest_ = std::make_unique<registry::Rest>(*registry_, *auth_, rest_metrics_.get());
  validator_ = std::make_unique<SchemaValidator>(*registry_);
}

SchemaRegistryService::~SchemaRegistryService() { stop(); }

HttpListener SchemaRegistryService::listener() {
  HttpListener l;
  l.name = "schema.registry.listener";
  l.host = host_;
  l.port = port_;
  l.max_body_bytes = static_cast<size_t>(max_request_bytes_);
  l.handler = [this](HttpRequest req, HttpRespond respond) {
    registry::HttpRequest r{std::move(req.method),      std::move(req.target), req.header("authorization"),
                            req.header("content-type"), req.header("accept"),  std::move(req.body)};
    rest_->handle(std::move(r), [respond = std::move(respond)](registry::HttpResponse res) {
      respond(
          HttpResponse{res.status, std::move(res.content_type), std::move(res.body), std::move(res.headers)});
    });
  };
  // Confluent's error body for the server's own refusals (413, 400, 431): error_code is the
  // HTTP status, as Confluent's exception mappers answer errors without a code of their own.
  l.error_response = [](int status, std::string message) {
    const registry::ApiError e{status, status, std::move(message)};
    return HttpResponse{status,
                        "application/vnd.schemaregistry.v1+json",
                        registry::rest_json::dump(registry::rest_json::error_body(e)),
                        {}};
  };
  return l;
}

void SchemaRegistryService::start() {
  hooks_.controller->subscribe([this](const controller::MetadataDelta& delta) { validator_->update(delta.after()); });
  registry_->start();
  loop_->post([this] { check_topic(); });
  schedule_tick();
  spdlog::info("schema registry on {}:{} (topic {})", host_, port_, topic_);
}

void SchemaRegistryService::stop() {
  // Appends in flight fail now (their requests answer 50001/50002), reads end.
  log_->stop();
  loop_->stop(std::chrono::seconds(1));
}

void SchemaRegistryService::schedule_tick() {
  loop_->after_ms(kTickMs, [this] {
    registry_->tick();
    if (runtime::steady_ms() >= next_topic_check_ms_) check_topic();
    schedule_tick();
  });
}

void SchemaRegistryService::check_topic() {
  next_topic_check_ms_ = runtime::steady_ms() + kTopicCheckMs;
  auto img = hooks_.controller->image();
  if (img->topic(topic_)) {
    waiting_logged_ = false;
    return;
  }
  controller::CreateTopicSpec spec;
  spec.name = topic_;
  spec.num_partitions = 1;
  spec.replication_factor = static_cast<int16_t>(replication_factor_);
  if (hooks_.lone_broker && replication_factor_ > 1) {
    // Confluent caps kafkastore.topic.replication.factor at the live brokers; a broker
    // without a metadata quorum is alone for good.
    spec.replication_factor = 1;
    if (!std::exchange(waiting_logged_, true))
      spdlog::info(
          "{}: schema.registry.topic.replication.factor is {}, but this broker runs alone: 1 replica", topic_,
          replication_factor_);
  } else if (!hooks_.lone_broker) {
    int32_t live = 0;
    for (const controller::BrokerInfo* b : img->brokers()) live += b->fenced ? 0 : 1;
    if (live < replication_factor_) {
      if (!std::exchange(waiting_logged_, true))
        spdlog::warn(
            "{} is not created yet: {} brokers are registered and schema.registry.topic.replication.factor "
            "is {}; the Schema Registry answers once it exists",
            topic_, live, replication_factor_);
      return;
    }
  }
  spec.configs = {{"cleanup.policy", "compact"}};
  // A compacted store keeps every key's latest record; a smaller ISR than the broker's default
  // min.insync.replicas could never take a write.
  if (spec.replication_factor < min_insync_replicas_)
    spec.configs.emplace("min.insync.replicas", std::to_string(spec.replication_factor));
  // One register request's records, JSON-escaped, must fit one batch.
  spec.configs.emplace("max.message.bytes",
                       std::to_string(std::max<int64_t>(1048588, 2LL * max_request_bytes_ + 65536)));
  (void)hooks_.create_topic(spec);
}

Metrics::Collector SchemaRegistryService::collector() const {
  return [this] { return collect(); };
}

std::vector<prometheus::MetricFamily> SchemaRegistryService::collect() const {
  using T = prometheus::MetricType;
  auto out = rest_metrics_->collect();
  const registry::RegistryStats s = registry_->stats();
  auto one = [&](const char* name, const char* help, T type, double v) {
    auto f = metric_family(name, help, type);
    add_sample(f, {}, v);
    out.push_back(std::move(f));
  };
  one("kbroker_schema_registry_ready", "1 once this broker's registry view has caught up with its topic",
      T::Gauge, s.ready ? 1 : 0);
  one("kbroker_schema_registry_subjects", "Subjects with a live (not soft-deleted) version", T::Gauge,
      static_cast<double>(s.subjects));
  auto schemas =
      metric_family("kbroker_schema_registry_schemas", "Live schema versions, by schema type", T::Gauge);
  for (auto type :
       {registry::SchemaType::kAvro, registry::SchemaType::kJson, registry::SchemaType::kProtobuf}) {
    auto it = s.versions_by_type.find(type);
    add_sample(schemas, {{"type", std::string(registry::to_string(type))}},
               static_cast<double>(it == s.versions_by_type.end() ? 0 : it->second));
  }
  out.push_back(std::move(schemas));
  one("kbroker_schema_registry_compatibility_refusals_total",
      "Registrations refused through this broker as incompatible with earlier versions", T::Counter,
      static_cast<double>(s.compatibility_refusals));
  one("kbroker_schema_registry_write_conflicts_total",
      "Writes through this broker that lost a race for the topic's end and were planned again", T::Counter,
      static_cast<double>(s.write_conflicts));
  one("kbroker_schema_registry_skipped_records_total",
      "Records of the topic this broker's view could not use (malformed, unknown kind, duplicate id)",
      T::Counter, static_cast<double>(s.skipped_records));
  return out;
}

}  // namespace kb::server
