// Series about the kbroker process itself, read from /proc at each scrape (no cost between
// scrapes): Prometheus' standard process collector names (process_cpu_seconds_total,
// process_resident_memory_bytes, process_open_fds, ...), kbroker_build_info, and the network
// threads' busy time and idle ratio (Kafka's NetworkProcessorAvgIdlePercent: a network
// thread never blocks, so its CPU time is its working time and the rest of the wall clock is
// time spent waiting for sockets).
//
// Owner: the Broker registers collector() with its Metrics. Thread-safety: collector() may run
// on any thread; the previous sample of each network thread is kept under a mutex.
#pragma once

#include "server/metrics.h"

namespace kb::server {

Metrics::Collector process_collector();

}  // namespace kb::server
