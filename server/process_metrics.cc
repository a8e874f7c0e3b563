#include "server/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "server/metrics_families.h"

namespace kb::server {

namespace {

constexpr const char* kNetworkThreadPrefix = "kb-network-";  // server/network.cc names its loops so

struct ThreadTimes {
  std::string name;
  double cpu_seconds = 0;
  double started = 0;  // seconds since boot
};

double seconds_since_boot() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Fields 14 and 15 (utime, stime) and 22 (starttime) of a /proc stat line, in clock ticks;
// the command name (field 2) may hold spaces, so fields count from its closing parenthesis.
struct StatFields {
  double utime = 0, stime = 0, starttime = 0, vsize = 0, rss_pages = 0;
};
bool read_stat(const std::string& path, StatFields& out) {
  std::ifstream f(path);
  std::string line;
  if (!std::getline(f, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // rest starts at field 3 (state).
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) out.utime = std::stod(field);
    if (i == 15) out.stime = std::stod(field);
    if (i == 22) out.starttime = std::stod(field);
    if (i == 23) out.vsize = std::stod(field);
    if (i == 24) {
      out.rss_pages = std::stod(field);
      return true;
    }
  }
  return false;
}

double boot_time_seconds() {
  std::ifstream f("/proc/stat");
  std::string key;
  double value = 0;
  while (f >> key) {
    if (key == "btime") {
      f >> value;
      return value;
    }
    f.ignore(1 << 20, '\n');
  }
  return 0;
}

size_t open_fds() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    --n;  // the descriptor opendir itself holds
  }
  return n;
}

std::map<pid_t, ThreadTimes> network_threads(double ticks) {
  std::map<pid_t, ThreadTimes> out;
  DIR* d = opendir("/proc/self/task");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string dir = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm(dir + "/comm");
    std::string name;
    if (!std::getline(comm, name) || name.rfind(kNetworkThreadPrefix, 0) != 0) continue;
    StatFields s;
    if (!read_stat(dir + "/stat", s)) continue;
    out[static_cast<pid_t>(std::stol(e->d_name))] = {name, (s.utime + s.stime) / ticks, s.starttime / ticks};
  }
  closedir(d);
  return out;
}

struct Sampler {
  std::string version = KBROKER_VERSION;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double page_size = static_cast<double>(sysconf(_SC_PAGESIZE));
  double boot_time = boot_time_seconds();
  std::mutex mu;  // guards `previous`
  struct Previous {
    double cpu_seconds = 0;
    std::chrono::steady_clock::time_point at;
  };
  std::map<pid_t, Previous> previous;  // each network thread at the last scrape

  std::vector<prometheus::MetricFamily> collect() {
    using T = prometheus::MetricType;
    std::vector<prometheus::MetricFamily> out;
    auto one = [&](const char* name, const char* help, T type, double v) { add_single(out, name, help, type, v); };
    StatFields self;
    if (read_stat("/proc/self/stat", self)) {
      one("process_cpu_seconds_total", "Total user and system CPU time spent in seconds", T::Counter,
          (self.utime + self.stime) / ticks);
      one("process_start_time_seconds", "Start time of the process since unix epoch in seconds", T::Gauge,
          boot_time + self.starttime / ticks);
      one("process_virtual_memory_bytes", "Virtual memory size in bytes", T::Gauge, self.vsize);
      one("process_resident_memory_bytes", "Resident memory size in bytes", T::Gauge, self.rss_pages * page_size);
    }
    one("process_open_fds", "Number of open file descriptors", T::Gauge, static_cast<double>(open_fds()));
    rlimit nofile{};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0)
      one("process_max_fds", "Maximum number of open file descriptors", T::Gauge,
          nofile.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(nofile.rlim_cur));
    auto build = metric_family("kbroker_build_info", "Always 1; the build's version in a label", T::Gauge);
    add_sample(build, {{"version", version}}, 1);
    out.push_back(std::move(build));

    auto busy = metric_family("kbroker_network_thread_busy_seconds_total",
                              "CPU time of each network thread (its working time: a network thread never blocks)",
                              T::Counter);
    auto idle = metric_family("kbroker_network_thread_idle_ratio",
                              "Share of the wall clock each network thread spent waiting for sockets since the "
                              "previous scrape (Kafka's NetworkProcessorAvgIdlePercent, as a 0..1 ratio)",
                              T::Gauge);
    const auto now = std::chrono::steady_clock::now();
    const double since_boot = seconds_since_boot();
    std::lock_guard lk(mu);
    std::map<pid_t, Previous> next;
    for (const auto& [tid, t] : network_threads(ticks)) {
      add_sample(busy, {{"thread", t.name}}, t.cpu_seconds);
      // Since the previous scrape; at a thread's first one, since the thread started.
      double wall = since_boot - t.started, cpu = t.cpu_seconds;
      if (auto it = previous.find(tid); it != previous.end()) {
        wall = std::chrono::duration<double>(now - it->second.at).count();
        cpu -= it->second.cpu_seconds;
      }
      double ratio = wall > 0 ? std::clamp(1 - cpu / wall, 0.0, 1.0) : 1.0;
      add_sample(idle, {{"thread", t.name}}, ratio);
      next[tid] = {t.cpu_seconds, now};
    }
    previous = std::move(next);
    out.push_back(std::move(busy));
    out.push_back(std::move(idle));
    return out;
  }
};

}  // namespace

Metrics::Collector process_collector() {
  auto sampler = std::make_shared<Sampler>();
  return [sampler] { return sampler->collect(); };
}

}  // namespace kb::server
