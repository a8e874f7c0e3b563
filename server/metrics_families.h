// Building blocks for series a collector computes at each scrape (Metrics::Collector, and the
// broker's own computed series): a family and its samples, without a prometheus registry.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <utility>
#include <vector>

namespace kb::server {

inline prometheus::MetricFamily metric_family(std::string name, std::string help,
                                              prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

// One sample: a counter's or a gauge's value, as the family's type says.
inline void add_sample(prometheus::MetricFamily& f, std::vector<prometheus::ClientMetric::Label> labels,
                       double v) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f.type == prometheus::MetricType::Counter)
    m.counter.value = v;
  else
    m.gauge.value = v;
  f.metric.push_back(std::move(m));
}

// Appends a family of one unlabelled sample (a broker-wide gauge or counter) to `out`.
inline void add_single(std::vector<prometheus::MetricFamily>& out, std::string name, std::string help,
                       prometheus::MetricType type, double v) {
  auto f = metric_family(std::move(name), std::move(help), type);
  add_sample(f, {}, v);
  out.push_back(std::move(f));
}

}  // namespace kb::server
