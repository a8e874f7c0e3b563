// kbctl: the command-line admin tool for kbroker and any Kafka-compatible cluster.
// `kbctl --help` lists the commands; docs are in tools/kbctl/README.md and the README.
#include <spdlog/spdlog.h>

#include <climits>
#include <cstdlib>
#include <iostream>

#include "tools/kbctl/kbctl.h"
#include "tools/kbctl/profile.h"

namespace kb::kbctl {
namespace {

const char* kGlobalHelp = R"(Global options (anywhere on the line):
  -X brokers=HOST:PORT[,...]  where to bootstrap (or KBCTL_BROKERS; default 127.0.0.1:9092)
  -X timeout.ms=MS            how long to wait for each answer (default 10000)
  -X client.id=ID             the client id brokers see (default kbctl)
  -b, --brokers LIST          the same as -X brokers=LIST
  --format json|table         output for scripts (json) or people (or KBCTL_FORMAT; default table)
  -h, --help                  help for kbctl or for one command
  --version                   kbctl's version

Profile: brokers, format, timeout.ms and client.id may also come from a YAML file,
$KBCTL_CONFIG or else ~/.config/kbctl/kbctl.yaml ($XDG_CONFIG_HOME/kbctl/kbctl.yaml), e.g.
  brokers: [127.0.0.1:19092, 127.0.0.1:19093]
  format: json
Precedence: command-line flag > environment (KBCTL_BROKERS, KBCTL_FORMAT) > profile > default.

Exit codes:
  0  success
  1  a broker refused the request (its Kafka error is printed), or `cluster health` found
     under-replicated, offline or leaderless partitions or no controller
  2  bad command line
  3  no broker reachable (connection refused or no answer in time)
  4  the topic or group named does not exist
)";

std::vector<Command> all_commands() {
  std::vector<Command> out;
  for (auto part :
       {cluster_commands(), topic_commands(), record_commands(), group_commands(), config_commands()})
    for (auto& c : part) out.push_back(std::move(c));
  return out;
}

std::string usage_line(const Command& c) {
  return "kbctl " + c.group + (c.name.empty() ? "" : " " + c.name) + (c.options.empty() ? "" : " [options]") +
         (c.args.empty() ? "" : " " + c.args);
}

void print_command_help(const Command& c) {
  std::cout << "Usage: " << usage_line(c) << "\n\n" << c.summary << "\n";
  if (!c.details.empty()) std::cout << "\n" << c.details << (c.details.back() == '\n' ? "" : "\n");
  if (!c.options.empty()) {
    std::cout << "\nOptions:\n";
    for (const auto& o : c.options) {
      std::string left = o.short_name ? std::string("-") + o.short_name + ", --" + o.name : "    --" + o.name;
      if (!o.value_name.empty()) left += " " + o.value_name;
      std::cout << "  " << left << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << o.help
                << "\n";
    }
  }
  std::cout << "\n" << kGlobalHelp;
}

void print_overview(const std::vector<Command>& cmds, const std::string& group) {
  std::cout << "Usage: kbctl " << (group.empty() ? "COMMAND" : group + " COMMAND") << " [options] [args]\n\n"
            << "Commands:\n";
  for (const auto& c : cmds) {
    if (!group.empty() && c.group != group) continue;
    std::string left = c.group + (c.name.empty() ? "" : " " + c.name);
    std::cout << "  " << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << c.summary
              << "\n";
  }
  std::cout << "\n`kbctl COMMAND --help` describes one command.\n\n" << kGlobalHelp;
}

// Parses the command's own options out of `tokens`.
Args parse_command_args(const Command& c, const std::vector<std::string>& tokens) {
  Args args;
  auto find_long = [&](const std::string& n) -> const Option* {
    for (const auto& o : c.options)
      if (o.name == n) return &o;
    return nullptr;
  };
  auto find_short = [&](char s) -> const Option* {
    for (const auto& o : c.options)
      if (o.short_name == s) return &o;
    return nullptr;
  };
  const std::string where = "kbctl " + c.group + (c.name.empty() ? "" : " " + c.name);
  bool only_positional = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (only_positional || t.size() < 2 || t[0] != '-' || parse_int(t)) {
      args.positional.push_back(t);
      continue;
    }
    if (t == "--") {
      only_positional = true;
      continue;
    }
    const Option* o = nullptr;
    std::optional<std::string> inline_value;
    if (t.rfind("--", 0) == 0) {
      std::string name = t.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
      o = find_long(name);
    } else {
      o = find_short(t[1]);
      if (o && t.size() > 2) inline_value = t.substr(2);
    }
    if (!o) usage_error(where + ": unknown option " + t + " (see " + where + " --help)");
    if (o->value_name.empty()) {
      if (inline_value) usage_error(where + ": --" + o->name + " takes no value");
      args.values[o->name].push_back("");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= tokens.size())
        usage_error(where + ": --" + o->name + " needs a value (" + o->value_name + ")");
      inline_value = tokens[++i];
    }
    args.values[o->name].push_back(*inline_value);
  }
  if (args.positional.size() < c.min_args || args.positional.size() > c.max_args) {
    std::string want = c.args.empty() ? "no arguments" : c.args;
    usage_error(where + ": expected " + want + " (usage: " + usage_line(c) + ")");
  }
  return args;
}

int run(int argc, char** argv) {
  const auto cmds = all_commands();
  std::vector<std::string> rest;
  // Lowest first: the profile, then the environment, then the flags below.
  const Profile profile = load_profile();
  std::optional<std::string> brokers = profile.brokers;
  if (const char* env = std::getenv("KBCTL_BROKERS"); env && *env) brokers = env;
  ClientOptions options;
  if (profile.timeout_ms) options.timeout_ms = *profile.timeout_ms;
  if (profile.client_id) options.client_id = *profile.client_id;
  Format format = Format::table;
  auto parse_format = [&](const std::string& f, const std::string& where) {
    if (f == "json")
      format = Format::json;
    else if (f == "table" || f == "text")
      format = Format::table;
    else
      usage_error(where + ": expected json or table, got '" + f + "'");
  };
  if (profile.format) parse_format(*profile.format, profile.path + ": format");
  if (const char* env = std::getenv("KBCTL_FORMAT"); env && *env) parse_format(env, "KBCTL_FORMAT");
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& name) {
      if (i + 1 >= argc) usage_error(name + " needs a value");
      return std::string(argv[++i]);
    };
    if (a == "--") {  // the rest is the command's, untouched
      for (; i < argc; ++i) rest.push_back(argv[i]);
      break;
    }
    if (a == "-h" || a == "--help") {
      help = true;
    } else if (a == "--version") {
      std::cout << "kbctl " << KBCTL_VERSION << "\n";
      return kExitOk;
    } else if (a == "-X" || (a.rfind("-X", 0) == 0 && a.size() > 2)) {
      std::string kv = a.size() > 2 ? a.substr(2) : value("-X");
      auto [k, v] = split_assignment(kv, "-X");
      if (k == "brokers" || k == "bootstrap.servers") {
        brokers = v;
      } else if (k == "timeout.ms" || k == "request.timeout.ms") {
        auto ms = parse_int(v);
        if (!ms || *ms <= 0)
          usage_error("-X " + k + ": expected a positive number of milliseconds, got '" + v + "'");
        options.timeout_ms = *ms;
      } else if (k == "client.id") {
        options.client_id = v;
      } else {
        usage_error("-X " + k + ": unknown setting (brokers, timeout.ms, client.id)");
      }
    } else if (a == "-b" || a == "--brokers") {
      brokers = value(a);
    } else if (a.rfind("--brokers=", 0) == 0) {
      brokers = a.substr(10);
    } else if (a == "--format" || a.rfind("--format=", 0) == 0) {
      parse_format(a.size() > 8 ? a.substr(9) : value("--format"), "--format");
    } else {
      rest.push_back(a);
    }
  }
  if (!rest.empty() && rest[0] == "help") {
    rest.erase(rest.begin());
    help = true;
  }
  if (rest.empty()) {
    print_overview(cmds, "");
    return help ? kExitOk : kExitUsage;
  }
  // The command: "group name" or a group alone when it has a command without a name.
  const Command* cmd = nullptr;
  bool group_known = false;
  for (const auto& c : cmds) {
    if (c.group != rest[0]) continue;
    group_known = true;
    if (rest.size() > 1 && c.name == rest[1]) cmd = &c;
  }
  if (!group_known) usage_error("unknown command '" + rest[0] + "' (see kbctl --help)");
  if (!cmd) {
    if (help || rest.size() == 1) {
      print_overview(cmds, rest[0]);
      return help ? kExitOk : kExitUsage;
    }
    usage_error("unknown command '" + rest[0] + " " + rest[1] + "' (see kbctl " + rest[0] + " --help)");
  }
  if (help) {
    print_command_help(*cmd);
    return kExitOk;
  }
  Args args = parse_command_args(*cmd, std::vector<std::string>(rest.begin() + 2, rest.end()));
  auto list = parse_brokers(brokers.value_or("127.0.0.1:9092"));
  if (!list.ok()) usage_error("brokers: " + list.error().message);
  options.bootstrap = std::move(list.value());
  Context ctx(format, options, std::cout);
  int rc = cmd->run(ctx, args);
  std::cout.flush();
  return rc;
}

}  // namespace
}  // namespace kb::kbctl

int main(int argc, char** argv) {
  // PeerClient's connection warnings would repeat what kbctl's own error says.
  spdlog::set_level(std::getenv("KBCTL_DEBUG") ? spdlog::level::debug : spdlog::level::off);
  try {
    return kb::kbctl::run(argc, argv);
  } catch (const kb::kbctl::Failure& f) {
    std::cout.flush();
    std::cerr << "kbctl: " << f.what() << "\n";
    return f.exit_code;
  }
}
