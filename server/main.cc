// kbroker: a Kafka-compatible broker. `kbroker --config broker.yaml [--set key=value]...`
//
// Exit status: 0 after SIGTERM/SIGINT, 2 for a bad command line, 78 (EX_CONFIG) for a
// configuration error (no restart fixes those: the systemd unit stops retrying on 78), 1 when
// the start fails otherwise (a port in use, a log dir that cannot be opened).
#include <signal.h>
#include <sys/resource.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <optional>

#include <fmt/ranges.h>

#include <spdlog/spdlog.h>

#include "config/config.h"
#include "config/settings.h"
#include "server/broker.h"
#include "server/listener_security.h"
#include "server/peer_security.h"

namespace po = boost::program_options;

extern char** environ;

namespace {

constexpr int kExitConfig = 78;  // sysexits.h EX_CONFIG

constexpr const char* kEnvironmentHelp =
    "\nEnvironment: KBROKER_<PROPERTY> sets a broker property, its name upper-cased with dots\n"
    "(and dashes) as underscores: KBROKER_LOG_DIRS=/data, KBROKER_NUM_PARTITIONS=6. The name is\n"
    "matched against the property table below, so Kafka names need no escaping. Precedence:\n"
    "--set > environment > configuration file > default. A KBROKER_ variable that names no\n"
    "property is a configuration error (exit 78), except KBROKER_BIN (the binary scripts run).\n";

std::vector<std::string> environment_entries() {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) out.emplace_back(*e);
  return out;
}

}  // namespace

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
    std::cout << opts << kEnvironmentHelp << "\nBroker properties (YAML keys; nested keys flatten to dotted names):\n"
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
  std::vector<kb::config::EnvSetting> env;
  try {
    env = kb::config::environment_settings(environment_entries());
    if (vm.count("config"))
      config = kb::config::BrokerConfig::from_file(vm["config"].as<std::string>(), overrides, env);
    else
      config = kb::config::BrokerConfig::from_yaml(kb::config::BrokerConfig::embedded_default(),
                                                   overrides, env);
  } catch (const kb::config::ConfigError& e) {
    std::cerr << "kbroker: configuration error: " << e.what() << "\n";
    return kExitConfig;
  }
  // Listener security (key stores, SASL mechanisms and users) read once here, so a bad one
  // is a configuration error too; the broker builds its own copy when it starts.
  if (auto sec = kb::server::make_listener_security(*config, nullptr); !sec.ok()) {
    std::cerr << "kbroker: configuration error: " << sec.error().message << "\n";
    return kExitConfig;
  }
  // So is kbroker's own login to the inter-broker and controller listeners (GSSAPI, Kafka's
  // default mechanism, which kbroker lacks; missing credentials).
  for (auto traffic : {kb::server::PeerTraffic::Broker, kb::server::PeerTraffic::Controller})
    if (auto peer = kb::server::make_peer_security(*config, traffic); !peer.ok()) {
      std::cerr << "kbroker: configuration error: " << peer.error().message << "\n";
      return kExitConfig;
    }

  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config->settings().log_level));
  spdlog::info("kbroker {} starting: node.id {}, configuration {}, log.dirs {}", KBROKER_VERSION,
               config->node_id(),
               vm.count("config") ? vm["config"].as<std::string>() : std::string("built in (config/broker.yaml)"),
               fmt::join(config->log_dirs(), ","));
  for (const auto& e : env) spdlog::info("{} from the environment ({})", e.property, e.variable);
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

  std::optional<kb::server::Broker> broker;
  kb::Status started;
  try {
    broker.emplace(std::move(*config));
    started = broker->start();
  } catch (const std::exception& e) {
    // What start-up cannot turn into a Status itself: Asio's constructors throw when the
    // process is out of descriptors (EMFILE) or memory.
    started = kb::Status(kb::ErrorCode::UNKNOWN_SERVER_ERROR,
                         std::string(e.what()) + " (is the open-file limit, ulimit -n, too low?)");
  }
  if (auto& s = started; !s.ok()) {
    spdlog::critical("kbroker could not start: {}", s.error().message);
    if (broker) broker->stop();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  broker->stop();
  return 0;
}
