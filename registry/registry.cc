// The registry's machinery: the read loop that keeps the view current, the write queue with
// its conditional appends and retries, readiness and timeouts. The operations themselves are
// in registry_reads.cc and registry_writes.cc.
#include "registry/registry.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "registry/registry_plan.h"

namespace kb::registry {

struct Registry::Write {
  std::function<WritePlan(const Store&)> plan;
  std::function<void(ApiError)> fail;
  std::function<Action(const Store&)> finish;  // of the plan being appended
  int attempts = 0;
  int64_t deadline = 0;
  bool answered = false;  // timed out while its append was in flight
};

// A read that arrived before the view caught up with the log.
struct Registry::Waiter {
  int64_t deadline = 0;
  std::function<Action()> run;
  std::function<void(ApiError)> fail;
};

namespace {
void run_all(std::vector<std::function<void()>>& actions) {
  for (auto& a : actions) a();
  actions.clear();
}
}  // namespace

Registry::Registry(SchemaLog& log, RegistryOptions options)
    : log_(log), options_(std::move(options)), alive_(std::make_shared<bool>(true)) {}

Registry::~Registry() {
  std::lock_guard lock(mu_);
  *alive_ = false;
}

int64_t Registry::now() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Registry::start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return;
    started_ = true;
  }
  ask_end_offset();
  read_next();
}

void Registry::ask_end_offset() {
  std::weak_ptr<bool> alive = alive_;
  log_.end_offset([this, alive](std::optional<int64_t> end) {
    auto a = alive.lock();
    if (!a || !*a) return;
    std::vector<Action> out;
    {
      std::lock_guard lock(mu_);
      if (!end) {
        retry_end_offset_ = true;  // asked again when the next read completes
        return;
      }
      start_end_ = *end;
      become_ready_if_caught_up(out);
    }
    run_all(out);
  });
}

void Registry::read_next() {
  int64_t from;
  {
    std::lock_guard lock(mu_);
    from = store_.next_offset();
  }
  std::weak_ptr<bool> alive = alive_;
  log_.read(from, [this, alive](ReadResult r) {
    auto a = alive.lock();
    if (!a || !*a) return;
    on_read(std::move(r));
  });
}

void Registry::on_read(ReadResult r) {
  std::vector<Action> out;
  bool ask_end = false;
  {
    std::lock_guard lock(mu_);
    if (!r.ok) {
      ++read_failures_;
      read_failure_log_.warn("", "schema registry: reading _schemas failed ({} times so far): {}", read_failures_,
                             r.message);
    } else {
      for (const auto& rec : r.records) store_.apply(rec);
      store_.skip_to(r.next_offset);
    }
    ask_end = std::exchange(retry_end_offset_, false);
    become_ready_if_caught_up(out);
    advance_write(out);
  }
  run_all(out);
  if (ask_end) ask_end_offset();
  read_next();
}

void Registry::become_ready_if_caught_up(std::vector<Action>& out) {
  if (ready_ || !start_end_ || store_.next_offset() < *start_end_) return;
  ready_ = true;
  spdlog::info("schema registry: view caught up with _schemas at offset {}", store_.next_offset());
  while (!ready_queue_.empty()) {
    out.push_back(ready_queue_.front().run());
    ready_queue_.pop_front();
  }
  pump(out);
}

bool Registry::ready() const {
  std::lock_guard lock(mu_);
  return ready_;
}

void Registry::when_ready(std::function<Action()> read, std::function<void(ApiError)> fail) {
  Action action;
  {
    std::lock_guard lock(mu_);
    if (!ready_) {
      ready_queue_.push_back(Waiter{now() + options_.timeout_ms, std::move(read), std::move(fail)});
      return;
    }
    action = read();
  }
  action();
}

void Registry::submit(std::function<WritePlan(const Store&)> plan, std::function<void(ApiError)> fail) {
  std::vector<Action> out;
  {
    std::lock_guard lock(mu_);
    auto w = std::make_unique<Write>();
    w->plan = std::move(plan);
    w->fail = std::move(fail);
    w->deadline = now() + options_.timeout_ms;
    writes_.push_back(std::move(w));
    pump(out);
  }
  run_all(out);
}

void Registry::finish_front(std::vector<Action>& out, std::optional<ApiError> error) {
  auto w = std::move(writes_.front());
  writes_.pop_front();
  state_ = WriteState::kIdle;
  if (w->answered) return;
  if (error) {
    out.push_back([fail = std::move(w->fail), e = std::move(*error)] { fail(e); });
  } else {
    out.push_back(w->finish(store_));
  }
}

void Registry::pump(std::vector<Action>& out) {
  while (ready_ && state_ == WriteState::kIdle && !writes_.empty()) {
    Write& w = *writes_.front();
    WritePlan p = w.plan(store_);
    if (p.error) {
      finish_front(out, std::move(p.error));
      continue;
    }
    w.finish = std::move(p.finish);
    if (p.records.empty()) {
      finish_front(out, std::nullopt);
      continue;
    }
    state_ = WriteState::kAppending;
    const int64_t expected = store_.next_offset();
    const int64_t count = static_cast<int64_t>(p.records.size());
    std::weak_ptr<bool> alive = alive_;
    out.push_back([this, alive, records = std::move(p.records), expected, count]() mutable {
      log_.append(std::move(records), expected, [this, alive, count](AppendResult r) {
        auto a = alive.lock();
        if (!a || !*a) return;
        on_append(std::move(r), count);
      });
    });
  }
}

void Registry::on_append(AppendResult r, int64_t count) {
  std::vector<Action> out;
  {
    std::lock_guard lock(mu_);
    Write& w = *writes_.front();
    switch (r.status) {
      case AppendResult::Status::kOk:
        state_ = WriteState::kApplying;
        state_offset_ = r.base_offset + count;
        break;
      case AppendResult::Status::kConflict:
        ++write_conflicts_;
        if (r.end_offset < store_.next_offset()) {
          // The log lost records this view applied (an unclean leader change): planning on it is unsafe.
          spdlog::error("schema registry: _schemas end offset {} is below the view's {}", r.end_offset,
                        store_.next_offset());
          finish_front(out, errors::store_error("The _schemas topic went back to an earlier end offset"));
        } else if (++w.attempts >= options_.max_write_attempts) {
          finish_front(out, errors::store_error("Error while writing to the _schemas topic: " +
                                                std::to_string(w.attempts) + " conflicting writes in a row"));
        } else {
          state_ = WriteState::kCatchingUp;
          state_offset_ = r.end_offset;
        }
        break;
      case AppendResult::Status::kTimeout:
        finish_front(out, errors::timeout("Write to the _schemas topic timed out: " + r.message));
        break;
      case AppendResult::Status::kError:
        finish_front(out, errors::store_error("Error while writing to the _schemas topic: " + r.message));
        break;
    }
    advance_write(out);
    pump(out);
  }
  run_all(out);
}

// Moves the running write on once the view reached what it waits for.
void Registry::advance_write(std::vector<Action>& out) {
  if (state_ == WriteState::kApplying && store_.next_offset() >= state_offset_) {
    finish_front(out, std::nullopt);
  } else if (state_ == WriteState::kCatchingUp && store_.next_offset() >= state_offset_) {
    state_ = WriteState::kIdle;  // pump plans the front write again on the newer view
  }
  pump(out);
}

void Registry::tick() {
  std::vector<Action> out;
  {
    std::lock_guard lock(mu_);
    const int64_t t = now();
    auto expired = [](std::string what) { return errors::timeout(std::move(what)); };
    while (!ready_queue_.empty() && ready_queue_.front().deadline <= t) {
      out.push_back([fail = std::move(ready_queue_.front().fail), e = expired("Timed out waiting for the "
                                                                              "_schemas topic to be read")] {
        fail(e);
      });
      ready_queue_.pop_front();
    }
    for (size_t i = 0; i < writes_.size();) {
      Write& w = *writes_[i];
      const bool running = i == 0 && state_ != WriteState::kIdle;
      if (w.deadline > t || w.answered) {
        ++i;
        continue;
      }
      auto e = expired("Write to the _schemas topic timed out");
      if (running && state_ == WriteState::kAppending) {
        // The append may still land; the write stays in front until the log answers.
        w.answered = true;
        out.push_back([fail = w.fail, e] { fail(e); });
        ++i;
      } else if (running) {
        finish_front(out, e);
      } else {
        out.push_back([fail = std::move(w.fail), e] { fail(e); });
        writes_.erase(writes_.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    pump(out);
  }
  run_all(out);
}

RegistryStats Registry::stats() const {
  std::lock_guard lock(mu_);
  RegistryStats s;
  s.subjects = static_cast<int64_t>(store_.subjects(false).size());
  s.versions_by_type = store_.live_versions_by_type();
  s.compatibility_refusals = compatibility_refusals_;
  s.write_conflicts = write_conflicts_;
  s.skipped_records = store_.skipped_records();
  s.ready = ready_;
  return s;
}

Registry::IdCheck Registry::check_id(std::string_view subject, int32_t id) const {
  std::lock_guard lock(mu_);
  const StoredSchema* s = store_.schema_by_id(id);
  if (!s) return !ready_ || id > store_.max_id() ? IdCheck::kUnknownId : IdCheck::kNotUnderSubject;
  for (auto it = s->uses.lower_bound({std::string(subject), INT32_MIN}); it != s->uses.end() && it->first == subject;
       ++it) {
    const StoredVersion* v = store_.version(subject, it->second);
    if (v && !v->deleted && v->id == id) return IdCheck::kRegistered;
  }
  return IdCheck::kNotUnderSubject;
}

std::optional<std::string> Registry::record_name(int32_t id, const std::vector<int32_t>& message_indexes) const {
  std::lock_guard lock(mu_);
  auto parsed = parsed_stored(id);
  if (!parsed) return std::nullopt;
  return parsed->record_name(message_indexes);
}

std::shared_ptr<const ParsedSchema> Registry::parsed_stored(int32_t id) const {
  if (auto it = parsed_.find(id); it != parsed_.end()) return it->second;
  const StoredSchema* s = store_.schema_by_id(id);
  if (!s) return nullptr;
  auto result = parse_schema(s->type, s->schema, s->references, resolver());
  std::shared_ptr<const ParsedSchema> parsed;
  if (auto* p = std::get_if<std::shared_ptr<const ParsedSchema>>(&result)) {
    parsed = *p;
  } else if (unparsable_logged_.insert(id).second) {
    spdlog::warn("schema registry: stored schema id {} does not parse: {}", id,
                 std::get<SchemaError>(result).message);
  }
  parsed_[id] = parsed;
  return parsed;
}

ReferenceResolver Registry::resolver() const {
  // Called under mu_ by parse_schema, which the planners and reads run under the lock.
  return [this](const SchemaReference& ref) -> std::optional<ResolvedReference> {
    const StoredVersion* v = nullptr;
    if (ref.version == -1) {
      if (auto latest = store_.latest(ref.subject)) v = latest->second;
    } else {
      v = store_.version(ref.subject, ref.version);
    }
    if (!v) return std::nullopt;
    return ResolvedReference{v->type, v->schema, v->references};
  };
}

Mode Registry::mode_in_scope(const std::optional<std::string>& subject) const {
  auto global = store_.mode(std::nullopt);
  // READONLY_OVERRIDE on the registry wins over any subject's own mode (Confluent's rule).
  if (global == Mode::kReadOnlyOverride || !subject) return global.value_or(Mode::kReadWrite);
  if (auto m = store_.mode(subject)) return *m;
  return global.value_or(Mode::kReadWrite);
}

Config Registry::config_in_scope(const std::optional<std::string>& subject) const {
  Config c{options_.default_compatibility, std::nullopt};
  auto layer = [&c](const ConfigValue* v) {
    if (!v) return;
    if (v->compatibility) c.compatibility = v->compatibility;
    if (v->normalize) c.normalize = v->normalize;
  };
  layer(store_.config(std::nullopt));
  if (subject) layer(store_.config(subject));
  return c;
}

}  // namespace kb::registry
