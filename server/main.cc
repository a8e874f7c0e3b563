// kbroker: a Kafka-compatible broker. `kbroker --config broker.yaml [--set key=value]...`
#include <signal.h>
#include <sys/resource.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include <spdlog/spdlog.h>

#include "config/config.h"
#include "server/broker.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  po::options_description opts("Usage: kbroker [--config FILE] [--set key=value]...\nOptions");
  opts.add_options()("help,h", "print this help and every broker property, then exit")(
      "version,V", "print the version and exit")(
      "config,c", po::value<std::string>(),
      "YAML configuration file (default: the embedded config/broker.yaml)")(
      "set,s", po::value<std::vector<std::string>>()->composing(),
      "override one property, e.g. --set num.partitions=6 (repeatable)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "kbroker: " << e.what() << "\n" << opts << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts << "\nBroker properties (YAML keys; nested keys flatten to dotted names):\n"
              << kb::config::properties_help();
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "kbroker " << KBROKER_VERSION << "\n";
    return 0;
  }

  std::vector<std::string> overrides;
  if (vm.count("set")) overrides = vm["set"].as<std::vector<std::string>>();
  std::optional<kb::config::BrokerConfig> config;
  try {
    if (vm.count("config"))
      config = kb::config::BrokerConfig::from_file(vm["config"].as<std::string>(), overrides);
    else
      config = kb::config::BrokerConfig::from_yaml(kb::config::BrokerConfig::embedded_default(),
                                                   overrides);
  } catch (const kb::config::ConfigError& e) {
    std::cerr << "kbroker: configuration error: " << e.what() << "\n";
    return 1;
  }

  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config->get_string("log.level")));
  for (const auto& w : config->warnings()) spdlog::warn("{}", w);

  // SIGTERM/SIGINT are taken synchronously by this thread with sigwait(); every other thread
  // inherits the blocked mask, so no handler runs in the middle of network code.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // Active partitions hold a segment descriptor each: allow as many as the hard limit does.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  kb::server::Broker broker(std::move(*config));
  if (auto s = broker.start(); !s.ok()) {
    spdlog::critical("kbroker could not start: {}", s.error().message);
    broker.stop();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  broker.stop();
  return 0;
}
