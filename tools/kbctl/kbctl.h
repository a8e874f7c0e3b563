// What every kbctl command shares: the command table, parsed arguments, the run context (the
// output format and the lazily connected Client), failures with their exit codes, and the
// table / JSON printers.
#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.h"
#include "tools/kbctl/client.h"

namespace kb::kbctl {

using Json = nlohmann::ordered_json;

// Exit codes (documented in `kbctl --help` and the README): scripts branch on them.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;       // a broker refused the request, or `cluster health` found problems
constexpr int kExitUsage = 2;        // bad command line
constexpr int kExitUnreachable = 3;  // no broker answered (connection refused, timeout)
constexpr int kExitNotFound = 4;     // the topic or group named does not exist

// Ends the command: main() prints "kbctl: <message>" and exits with `exit_code`.
struct Failure : std::runtime_error {
  Failure(int code, const std::string& message) : std::runtime_error(message), exit_code(code) {}
  int exit_code;
};
// The exit code for a Kafka error (unreachable, not found, or failed).
int exit_code_for(ErrorCode code);
[[noreturn]] void fail(const Error& e);
[[noreturn]] void usage_error(const std::string& message);
template <class T>
T must(Result<T> r) {
  if (!r.ok()) fail(r.error());
  return std::move(r.value());
}

struct Option {
  std::string name;        // long name, without "--"
  char short_name = 0;     // 0: none
  std::string value_name;  // empty: a flag without value
  std::string help;
};

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // by long option name
  bool flag(const std::string& name) const { return values.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  // An integer option; usage_error when it does not parse.
  std::optional<int64_t> get_int(const std::string& name) const;
};

enum class Format { table, json };

class Context {
 public:
  Context(Format format, ClientOptions options, std::ostream& out)
      : format(format), out(out), options_(std::move(options)) {}
  Client& client();
  bool json() const { return format == Format::json; }

  const Format format;
  std::ostream& out;

 private:
  ClientOptions options_;
  std::unique_ptr<Client> client_;
};

struct Command {
  std::string group;    // "topic"
  std::string name;     // "create"
  std::string args;     // "NAME..." for the usage line
  std::string summary;  // one line
  std::string details;  // more lines for --help (may be empty)
  std::vector<Option> options;
  size_t min_args = 0;
  size_t max_args = 0;  // SIZE_MAX: any number
  std::function<int(Context&, const Args&)> run;
};

std::vector<Command> cluster_commands();
std::vector<Command> topic_commands();
std::vector<Command> group_commands();
std::vector<Command> config_commands();
std::vector<Command> record_commands();  // topic produce / consume

// Column-aligned text for people: a header row, then the rows.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

void print_json(std::ostream& out, const Json& value);
// A command's result as --format asks: `json`, or `table` for people.
void print_result(const Context& ctx, const Json& json, const Table& table);
std::string join(const std::vector<int32_t>& ids, const char* sep = ",");
std::string join(const std::vector<std::string>& items, const char* sep = ",");
// "a,b,,c" -> {"a", "b", "c"}
std::vector<std::string> split_commas(const std::string& list);
// "key=value" -> {key, value}; usage_error naming `what` when there is no '='.
std::pair<std::string, std::string> split_assignment(const std::string& text, const std::string& what);
// Kafka's murmur2 (Utils.murmur2) and its default partitioner for keyed records:
// (murmur2(key) & 0x7fffffff) % partitions, so kbctl puts a key where the Java client and
// librdkafka's murmur2_random put it.
int32_t murmur2(std::string_view key);
int32_t murmur2_partition(std::string_view key, int32_t partitions);
// A point in time for seeks: "@<ms since the epoch>" or ISO-8601 "2024-05-01T12:00:00[.123][Z|+02:00]"
// (UTC without a zone); nullopt when `text` is neither.
std::optional<int64_t> parse_timestamp(const std::string& text);
// A whole-string integer; nullopt when `text` is not one.
std::optional<int64_t> parse_int(const std::string& text);

}  // namespace kb::kbctl
