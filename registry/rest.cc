#include "registry/rest.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>

#include "registry/rest_json.h"

namespace kb::registry {

namespace {

using rest_json::json;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kV1Json = "application/vnd.schemaregistry.v1+json";
constexpr std::string_view kDefaultJson = "application/vnd.schemaregistry+json";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kOctetStream = "application/octet-stream";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// The media type of a Content-Type header, without parameters, lower case.
std::string media_type(std::string_view header) { return lower(trim(header.substr(0, header.find(';')))); }

// The answer's media type: of Confluent's three, the one the Accept header names first; v1
// when it names none (absent, */*, or something else: Confluent's default).
std::string negotiate(std::string_view accept) {
  const std::string a = lower(accept);
  size_t best = std::string::npos;
  std::string_view chosen = kV1Json;
  for (std::string_view candidate : {kV1Json, kDefaultJson, kJson}) {
    if (size_t at = a.find(candidate); at < best) {
      best = at;
      chosen = candidate;
    }
  }
  return std::string(chosen);
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Query {
  std::map<std::string, std::string> params;
  bool flag(const std::string& name) const {
    auto it = params.find(name);
    return it != params.end() && lower(trim(it->second)) == "true";
  }
  std::string get(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
  std::optional<std::string> maybe(const std::string& name) const {
    auto it = params.find(name);
    if (it == params.end()) return std::nullopt;
    return it->second;
  }
};

Query parse_query(std::string_view q) {
  Query out;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    auto eq = part.find('=');
    std::string name = percent_decode(part.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : percent_decode(part.substr(eq + 1), true);
    if (!name.empty()) out.params.emplace(std::move(name), std::move(value));  // the first one counts
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segs;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    segs.push_back(percent_decode(path.substr(0, slash), false));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return segs;
}

// Jersey answers a path parameter that is not an Integer with 404.
std::optional<int32_t> parse_id(const std::string& s) {
  if (s.empty() || s.size() > 11) return std::nullopt;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size() || !std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(), ::isdigit)) {
    return std::nullopt;
  }
  long long v = std::stoll(s);
  if (v < INT32_MIN || v > INT32_MAX) return std::nullopt;
  return static_cast<int32_t>(v);
}

// Confluent's VersionId: "latest" (any case) or -1 is the latest, else 1..2^31-1.
Reply<int32_t> parse_version(const std::string& s) {
  std::string t = trim(s);
  if (lower(t) == "latest") return -1;
  auto v = parse_id(t);
  if (!v || (*v <= 0 && *v != -1)) return errors::invalid_version(s);
  return *v;
}

// Confluent refuses empty subjects and those with control characters.
bool valid_subject(const std::string& s) {
  return !s.empty() &&
         std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

ApiError http_error(int status, std::string_view reason) {
  return ApiError{status, status, "HTTP " + std::to_string(status) + " " + std::string(reason)};
}

// One request in flight: answers once, with metrics.
struct Call {
  std::function<void(HttpResponse)> done;
  std::string content_type;
  std::string route = "unmatched";
  Clock::time_point start = Clock::now();
  RestMetrics* metrics = nullptr;

  void send(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    if (metrics) metrics->on_request(route, status, Clock::now() - start);
    done(HttpResponse{status, content_type, std::move(body), std::move(headers)});
  }
  void ok(const json& j) { send(200, rest_json::dump(j)); }
  void fail(const ApiError& e) { send(e.status, rest_json::dump(rest_json::error_body(e))); }
  // Answers a registry reply with `render` of its value, or its error.
  template <class T, class F>
  Callback<T> answer(std::shared_ptr<Call> self, F render) {
    return [self, render](Reply<T> r) {
      if (!r.ok()) return self->fail(r.error());
      self->ok(render(r.value()));
    };
  }
};

struct Args {
  std::vector<std::string> path;  // the route's {parameters}, in order
  Query query;
  std::string body;
};

using Handler = std::function<void(Registry&, Args&, std::shared_ptr<Call>)>;

json to_json(const std::vector<int32_t>& v) { return json(v); }
json to_json(const std::vector<std::string>& v) { return json(v); }
json mode_json(Mode m) {
  json j;
  j["mode"] = to_string(m);
  return j;
}

// Reads `v` of a {version} parameter or fails the call.
std::optional<int32_t> version_arg(const std::string& s, Call& call) {
  auto v = parse_version(s);
  if (!v.ok()) {
    call.fail(v.error());
    return std::nullopt;
  }
  return v.value();
}

std::optional<SchemaRequest> schema_body(const Args& a, Call& call) {
  auto r = rest_json::schema_request(a.body);
  if (!r.ok()) {
    call.fail(r.error());
    return std::nullopt;
  }
  return std::move(r).value();
}

Deleted deleted_filter(const Query& q) {
  if (q.flag("deletedOnly")) return Deleted::kOnly;
  return q.flag("deleted") ? Deleted::kInclude : Deleted::kExclude;
}

// GET/PUT/DELETE on /config and /config/{subject}; `subject` is nullopt for the global one.
void config_handlers(std::map<std::string, Handler>& t, const std::string& path, bool with_subject) {
  auto subject_of = [with_subject](const Args& a) {
    return with_subject ? std::optional<std::string>(a.path[0]) : std::nullopt;
  };
  t["GET " + path] = [subject_of](Registry& r, Args& a, std::shared_ptr<Call> c) {
    r.get_config(subject_of(a), a.query.flag("defaultToGlobal"),
                 c->answer<Config>(c, [](const Config& v) { return rest_json::config(v, false); }));
  };
  t["PUT " + path] = [subject_of](Registry& r, Args& a, std::shared_ptr<Call> c) {
    auto subject = subject_of(a);
    if (subject && !valid_subject(*subject)) return c->fail(errors::invalid_subject(*subject));
    auto update = rest_json::config_update(a.body);
    if (!update.ok()) return c->fail(update.error());
    r.put_config(subject, std::move(update).value(),
                 c->answer<Config>(c, [](const Config& v) { return rest_json::config(v, true); }));
  };
  t["DELETE " + path] = [subject_of](Registry& r, Args& a, std::shared_ptr<Call> c) {
    r.delete_config(subject_of(a),
                    c->answer<Config>(c, [](const Config& v) { return rest_json::config(v, false); }));
  };
}

void mode_handlers(std::map<std::string, Handler>& t, const std::string& path, bool with_subject) {
  auto subject_of = [with_subject](const Args& a) {
    return with_subject ? std::optional<std::string>(a.path[0]) : std::nullopt;
  };
  t["GET " + path] = [subject_of](Registry& r, Args& a, std::shared_ptr<Call> c) {
    r.get_mode(subject_of(a), a.query.flag("defaultToGlobal"), c->answer<Mode>(c, mode_json));
  };
  t["PUT " + path] = [subject_of](Registry& r, Args& a, std::shared_ptr<Call> c) {
    auto subject = subject_of(a);
    if (subject && !valid_subject(*subject)) return c->fail(errors::invalid_subject(*subject));
    auto mode = rest_json::mode_update(a.body);
    if (!mode.ok()) return c->fail(mode.error());
    // Confluent answers with the request as sent.
    r.put_mode(subject, mode.value(), a.query.flag("force"), c->answer<Mode>(c, [sent = mode.value()](Mode) {
      json j;
      j["mode"] = sent;
      return j;
    }));
  };
  t["DELETE " + path] = [subject_of](Registry& r, Args& a, std::shared_ptr<Call> c) {
    r.delete_mode(subject_of(a), c->answer<Mode>(c, mode_json));
  };
}

void compatibility_handler(Registry& r, Args& a, std::shared_ptr<Call> c, std::optional<int32_t> version) {
  auto request = schema_body(a, *c);
  if (!request) return;
  const bool verbose = a.query.flag("verbose");
  r.check_compatibility(a.path[0], version, std::move(*request), a.query.flag("normalize"), verbose,
                        c->answer<CompatibilityResult>(c, [verbose](const CompatibilityResult& v) {
                          json j;
                          j["is_compatible"] = v.compatible;
                          if (verbose) j["messages"] = v.messages;
                          return j;
                        }));
}

const std::map<std::string, Handler>& handlers() {
  static const std::map<std::string, Handler> table = [] {
    std::map<std::string, Handler> t;
    // Confluent's root answers an empty object (a liveness probe).
    t["GET /"] = [](Registry&, Args&, std::shared_ptr<Call> c) { c->ok(json::object()); };
    t["POST /"] = [](Registry&, Args&, std::shared_ptr<Call> c) { c->ok(json::object()); };
    t["GET /schemas/types"] = [](Registry&, Args&, std::shared_ptr<Call> c) {
      c->ok(json::array({"JSON", "PROTOBUF", "AVRO"}));
    };
    t["GET /schemas"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      r.schemas(a.query.get("subjectPrefix"), a.query.flag("deleted"), a.query.flag("latestOnly"),
                c->answer<std::vector<SubjectSchema>>(c, [](const std::vector<SubjectSchema>& v) {
                  json j = json::array();
                  for (const auto& s : v) j.push_back(rest_json::subject_schema(s));
                  return j;
                }));
    };
    t["GET /schemas/ids/{id}"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      auto id = parse_id(a.path[0]);
      if (!id) return c->fail(http_error(404, "Not Found"));
      r.schema_by_id(*id, a.query.maybe("subject"), a.query.get("format"),
                     c->answer<SchemaById>(c, rest_json::schema_by_id));
    };
    t["GET /schemas/ids/{id}/schema"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      auto id = parse_id(a.path[0]);
      if (!id) return c->fail(http_error(404, "Not Found"));
      r.schema_by_id(*id, a.query.maybe("subject"), a.query.get("format"), [c](Reply<SchemaById> v) {
        if (!v.ok()) return c->fail(v.error());
        c->send(200, v.value().schema);  // the schema itself, not a JSON string
      });
    };
    auto versions_of_id = [](bool subjects_only) {
      return [subjects_only](Registry& r, Args& a, std::shared_ptr<Call> c) {
        auto id = parse_id(a.path[0]);
        if (!id) return c->fail(http_error(404, "Not Found"));
        r.versions_of_id(
            *id, a.query.flag("deleted"),
            c->answer<std::vector<SubjectVersion>>(c, [subjects_only](const std::vector<SubjectVersion>& v) {
              json j = json::array();
              for (const auto& sv : v) {
                if (subjects_only) {
                  if (std::find(j.begin(), j.end(), json(sv.subject)) == j.end()) j.push_back(sv.subject);
                  continue;
                }
                json o;
                o["subject"] = sv.subject;
                o["version"] = sv.version;
                j.push_back(std::move(o));
              }
              return j;
            }));
      };
    };
    t["GET /schemas/ids/{id}/versions"] = versions_of_id(false);
    t["GET /schemas/ids/{id}/subjects"] = versions_of_id(true);
    t["GET /subjects"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      r.subjects(a.query.get("subjectPrefix"), deleted_filter(a.query),
                 c->answer<std::vector<std::string>>(c, [](const auto& v) { return to_json(v); }));
    };
    t["POST /subjects/{subject}"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      auto request = schema_body(a, *c);
      if (!request) return;
      r.lookup(a.path[0], std::move(*request), a.query.flag("normalize"), a.query.flag("deleted"),
               c->answer<SubjectSchema>(c, rest_json::subject_schema));
    };
    t["DELETE /subjects/{subject}"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      r.delete_subject(a.path[0], a.query.flag("permanent"),
                       c->answer<std::vector<int32_t>>(c, [](const auto& v) { return to_json(v); }));
    };
    t["GET /subjects/{subject}/versions"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      r.versions(a.path[0], deleted_filter(a.query),
                 c->answer<std::vector<int32_t>>(c, [](const auto& v) { return to_json(v); }));
    };
    t["POST /subjects/{subject}/versions"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      if (!valid_subject(a.path[0])) return c->fail(errors::invalid_subject(a.path[0]));
      auto request = schema_body(a, *c);
      if (!request) return;
      r.register_schema(a.path[0], std::move(*request), a.query.flag("normalize"),
                        c->answer<SubjectSchema>(c, [](const SubjectSchema& s) {
                          json j;
                          j["id"] = s.id;
                          j["version"] = s.version;
                          if (s.type != SchemaType::kAvro) j["schemaType"] = to_string(s.type);
                          if (!s.references.empty()) j["references"] = rest_json::references(s.references);
                          j["schema"] = s.schema;
                          return j;
                        }));
    };
    t["GET /subjects/{subject}/versions/{version}"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      auto v = version_arg(a.path[1], *c);
      if (!v) return;
      r.version(a.path[0], *v, a.query.flag("deleted"), a.query.get("format"),
                c->answer<SubjectSchema>(c, rest_json::subject_schema));
    };
    t["GET /subjects/{subject}/versions/{version}/schema"] = [](Registry& r, Args& a,
                                                                std::shared_ptr<Call> c) {
      auto v = version_arg(a.path[1], *c);
      if (!v) return;
      r.version(a.path[0], *v, a.query.flag("deleted"), a.query.get("format"), [c](Reply<SubjectSchema> s) {
        if (!s.ok()) return c->fail(s.error());
        c->send(200, s.value().schema);
      });
    };
    t["GET /subjects/{subject}/versions/{version}/referencedby"] = [](Registry& r, Args& a,
                                                                      std::shared_ptr<Call> c) {
      auto v = version_arg(a.path[1], *c);
      if (!v) return;
      r.referenced_by(a.path[0], *v, a.query.flag("deleted"),
                      c->answer<std::vector<int32_t>>(c, [](const auto& ids) { return to_json(ids); }));
    };
    t["DELETE /subjects/{subject}/versions/{version}"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      auto v = version_arg(a.path[1], *c);
      if (!v) return;
      r.delete_version(a.path[0], *v, a.query.flag("permanent"),
                       c->answer<int32_t>(c, [](int32_t n) { return json(n); }));
    };
    t["POST /compatibility/subjects/{subject}/versions"] = [](Registry& r, Args& a, std::shared_ptr<Call> c) {
      compatibility_handler(r, a, c, std::nullopt);
    };
    t["POST /compatibility/subjects/{subject}/versions/{version}"] = [](Registry& r, Args& a,
                                                                        std::shared_ptr<Call> c) {
      auto v = version_arg(a.path[1], *c);
      if (!v) return;
      compatibility_handler(r, a, c, *v);
    };
    config_handlers(t, "/config", false);
    config_handlers(t, "/config/{subject}", true);
    mode_handlers(t, "/mode", false);
    mode_handlers(t, "/mode/{subject}", true);
    return t;
  }();
  return table;
}

// The route a path matches ("/subjects/{subject}/versions"), with its parameters.
std::optional<std::string> route_of(const std::vector<std::string>& segs, std::vector<std::string>& params) {
  static const std::vector<std::vector<std::string_view>> routes = {
      {},
      {"schemas"},
      {"schemas", "types"},
      {"schemas", "ids", "{id}"},
      {"schemas", "ids", "{id}", "schema"},
      {"schemas", "ids", "{id}", "versions"},
      {"schemas", "ids", "{id}", "subjects"},
      {"subjects"},
      {"subjects", "{subject}"},
      {"subjects", "{subject}", "versions"},
      {"subjects", "{subject}", "versions", "{version}"},
      {"subjects", "{subject}", "versions", "{version}", "schema"},
      {"subjects", "{subject}", "versions", "{version}", "referencedby"},
      {"compatibility", "subjects", "{subject}", "versions"},
      {"compatibility", "subjects", "{subject}", "versions", "{version}"},
      {"config"},
      {"config", "{subject}"},
      {"mode"},
      {"mode", "{subject}"},
  };
  for (const auto& route : routes) {
    if (route.size() != segs.size()) continue;
    std::vector<std::string> found;
    bool match = true;
    for (size_t i = 0; i < route.size() && match; ++i) {
      if (route[i].front() == '{') {
        found.push_back(segs[i]);
      } else {
        match = route[i] == segs[i];
      }
    }
    if (!match) continue;
    params = std::move(found);
    std::string name;
    for (const auto& part : route) {
      name += '/';
      name += part;
    }
    return name.empty() ? "/" : name;
  }
  return std::nullopt;
}

}  // namespace

void Rest::handle(HttpRequest request, std::function<void(HttpResponse)> done) {
  auto call = std::make_shared<Call>();
  call->done = std::move(done);
  call->content_type = negotiate(request.accept);
  call->metrics = metrics_;

  std::string_view target = request.target;
  const auto qmark = target.find('?');
  Args args;
  const auto route = route_of(split_path(target.substr(0, qmark)), args.path);
  // Metrics label known routes only: a client's made-up paths and methods must not grow them.
  auto it = handlers().end();
  if (route) it = handlers().find(request.method + " " + *route);
  if (it != handlers().end()) call->route = it->first;

  auto refuse = [&call](const AuthDecision& d) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!d.challenge.empty()) headers.emplace_back("WWW-Authenticate", d.challenge);
    ApiError e{d.status, d.error_code ? d.error_code : d.status, d.message.empty() ? "Unauthorized" : d.message};
    call->send(e.status, rest_json::dump(rest_json::error_body(e)), std::move(headers));
  };
  AuthDecision auth = authenticator_.authenticate(request.authorization);
  if (!auth.allowed) return refuse(auth);
  if (it != handlers().end()) {
    AuthDecision may = authenticator_.authorize(auth.principal, it->first);
    if (!may.allowed) return refuse(may);
  }

  if (!route) return call->fail(http_error(404, "Not Found"));
  if (it == handlers().end()) return call->fail(http_error(405, "Method Not Allowed"));
  args.query = parse_query(qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1));
  if (request.method == "POST" || request.method == "PUT") {
    std::string type = media_type(request.content_type);
    if (!type.empty() && type != kV1Json && type != kDefaultJson && type != kJson && type != kOctetStream) {
      return call->fail(http_error(415, "Unsupported Media Type"));
    }
  }
  args.body = std::move(request.body);
  it->second(registry_, args, call);
}

}  // namespace kb::registry
