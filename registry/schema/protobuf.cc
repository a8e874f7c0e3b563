// PROTOBUF schemas: reading .proto text or a base64 FileDescriptorProto, resolving imports
// through references and the well-known types, and building the descriptors.
#include "registry/schema/protobuf.h"

#include <google/protobuf/compiler/parser.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <mutex>
#include <utility>
#include <variant>

#include "protocol/base64.h"
#include "registry/schema/schema_types.h"

namespace kb::registry {
namespace pb {
namespace {

namespace gp = google::protobuf;

// Confluent gives a schema typed in as text no file name of its own; it calls it "default".
constexpr std::string_view kDefaultFileName = "default";
// How many of the parser's errors one message carries (it recovers and reports follow-ups).
constexpr size_t kMaxErrors = 3;

// "what: message", or the message alone for the schema's own file.
std::string in(const std::string& what, const std::string& message) {
  return what.empty() ? message : what + ": " + message;
}

std::string join_errors(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += (out.empty() ? "" : "; ") + e;
  return out;
}

std::string at(int line, int column) {
  return "line " + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": ";
}

class TextErrors final : public gp::io::ErrorCollector {
 public:
  void AddError(int line, gp::io::ColumnNumber column, const std::string& message) override {
    if (errors.size() < kMaxErrors) errors.push_back(at(line, column) + message);
  }
  std::vector<std::string> errors;
};

// Errors of DescriptorPool::BuildFile (undefined types, duplicate numbers, proto3 rules...),
// placed at their line and column when the file came as text.
class BuildErrors final : public gp::DescriptorPool::ErrorCollector {
 public:
  explicit BuildErrors(const gp::compiler::SourceLocationTable* locations) : locations_(locations) {}
  void AddError(const std::string& /*filename*/, const std::string& element_name,
                const gp::Message* descriptor, ErrorLocation location, const std::string& message) override {
    if (errors.size() >= kMaxErrors) return;
    int line = -1, column = 0;
    if (locations_ != nullptr) locations_->Find(descriptor, location, &line, &column);
    if (line >= 0) {
      errors.push_back(at(line, column) + message);
    } else {
      errors.push_back(element_name.empty() ? message : element_name + ": " + message);
    }
  }
  std::vector<std::string> errors;

 private:
  const gp::compiler::SourceLocationTable* locations_;
};

// One file before it is built; `locations` maps its elements to lines when it came as text.
struct FileInput {
  std::unique_ptr<gp::FileDescriptorProto> proto = std::make_unique<gp::FileDescriptorProto>();
  std::unique_ptr<gp::compiler::SourceLocationTable> locations;
};

// Text made only of base64 characters cannot be a .proto file (every statement ends in ";"
// or a block), so it is taken for a serialized FileDescriptorProto first.
bool looks_like_base64(std::string_view text) {
  return !text.empty() &&
         text.find_first_not_of(std::string(kBase64Alphabet) + "=") == std::string_view::npos;
}

std::optional<FileInput> read_descriptor(std::string_view text) {
  auto bytes = base64_decode(text);
  if (!bytes) return std::nullopt;
  FileInput input;
  if (!input.proto->ParseFromString(*bytes)) return std::nullopt;
  return input;
}

// libprotobuf logs a warning for a file without a syntax statement; a registry takes such
// files (proto2) from clients, so warnings are not worth a log line each. Errors still print.
void quiet_protobuf_warnings() {
  static std::once_flag once;
  std::call_once(once, [] {
    gp::SetLogHandler([](gp::LogLevel level, const char* file, int line, const std::string& message) {
      if (level >= gp::LOGLEVEL_ERROR)
        std::fprintf(stderr, "[libprotobuf %s:%d] %s\n", file, line, message.c_str());
    });
  });
}

// A base64 FileDescriptorProto or .proto text, as Confluent reads a schema: when both fail,
// the text parser's reason.
std::variant<FileInput, std::string> read_input(std::string_view text) {
  if (looks_like_base64(text)) {
    if (auto input = read_descriptor(text)) return std::move(*input);
  }
  quiet_protobuf_warnings();
  FileInput input;
  input.locations = std::make_unique<gp::compiler::SourceLocationTable>();
  TextErrors errors;
  gp::io::ArrayInputStream stream(text.data(), int(text.size()));
  gp::io::Tokenizer tokenizer(&stream, &errors);
  gp::compiler::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.RecordSourceLocationsTo(input.locations.get());
  if (parser.Parse(&tokenizer, input.proto.get()) && errors.errors.empty()) return input;
  return "Could not parse Protobuf - " + join_errors(errors.errors);
}

// Builds a schema's file and, first, every file it imports into one pool.
class Builder {
 public:
  Builder(gp::DescriptorPool& pool, const ReferenceResolver& resolve) : pool_(pool), resolve_(resolve) {}

  // Builds `input` after its imports, which resolve through `references` or are well-known.
  // `what` names the file in error messages. Returns the error, or nullopt.
  std::optional<std::string> build(FileInput& input, const std::vector<SchemaReference>& references,
                                   const std::string& what) {
    building_.push_back(input.proto->name());
    for (const std::string& import : input.proto->dependency()) {
      if (auto error = build_import(import, references, what)) return error;
    }
    BuildErrors errors(input.locations.get());
    if (pool_.BuildFileCollectingErrors(*input.proto, &errors) == nullptr) {
      return in(what, errors.errors.empty() ? "not a valid Protobuf schema" : join_errors(errors.errors));
    }
    building_.pop_back();
    return std::nullopt;
  }

  // The direct references of the root schema, by the file name each one was imported as.
  std::map<std::string, SchemaReference> imported_through;

 private:
  std::optional<std::string> build_import(const std::string& import,
                                          const std::vector<SchemaReference>& references,
                                          const std::string& what) {
    if (pool_.FindFileByName(import) != nullptr) return std::nullopt;
    if (std::find(building_.begin(), building_.end(), import) != building_.end()) {
      return in(what, "import cycle through \"" + import + "\"");
    }
    auto ref = std::find_if(references.begin(), references.end(), [&](auto& r) { return r.name == import; });
    if (ref != references.end()) {
      if (building_.size() == 1) imported_through.emplace(import, *ref);
      std::string ref_what = "reference \"" + import + "\" (subject \"" + ref->subject + "\" version " +
                             std::to_string(ref->version) + ")";
      std::optional<ResolvedReference> resolved = resolve_ ? resolve_(*ref) : std::nullopt;
      if (!resolved) return ref_what + " not found";
      if (resolved->type != SchemaType::kProtobuf) return ref_what + " is not a PROTOBUF schema";
      auto input = read_input(resolved->schema);
      if (auto* error = std::get_if<std::string>(&input)) return ref_what + ": " + *error;
      FileInput& file = std::get<FileInput>(input);
      file.proto->set_name(import);  // the importer's name for it is the one that counts
      return build(file, resolved->references, ref_what);
    }
    // Confluent resolves the google/protobuf/*.proto files without a reference; libprotobuf
    // carries their descriptors.
    if (const gp::FileDescriptor* known = gp::DescriptorPool::generated_pool()->FindFileByName(import)) {
      FileInput file;
      known->CopyTo(file.proto.get());
      return build(file, {}, "well-known \"" + import + "\"");
    }
    return in(what,
              "import \"" + import + "\" is neither one of the schema's references nor a well-known type");
  }

  gp::DescriptorPool& pool_;
  const ReferenceResolver& resolve_;
  std::vector<std::string> building_;  // files whose imports are being built, outermost first
};

}  // namespace

ProtobufSchema::ProtobufSchema(std::unique_ptr<gp::DescriptorPool> pool, const gp::FileDescriptor* file,
                               std::vector<SchemaReference> references,
                               std::map<std::string, SchemaReference> imported_through)
    : pool_(std::move(pool)),
      file_(file),
      references_(std::move(references)),
      imported_through_(std::move(imported_through)),
      canonical_(render(*file_, {})) {}

std::string ProtobufSchema::normalized() const { return render(*file_, {.normalize = true}); }

std::optional<std::string> ProtobufSchema::record_name(const std::vector<int32_t>& message_indexes) const {
  if (message_indexes.empty()) return std::nullopt;
  const google::protobuf::Descriptor* d = nullptr;
  for (int32_t i : message_indexes) {
    const int count = d ? d->nested_type_count() : file_->message_type_count();
    if (i < 0 || i >= count) return std::nullopt;
    d = d ? d->nested_type(i) : file_->message_type(i);
  }
  return d->full_name();
}

std::optional<std::string> ProtobufSchema::formatted(std::string_view format) const {
  if (format.empty() || format == "default") return canonical_;
  if (format == "ignore_extensions") return render(*file_, {.ignore_extensions = true});
  if (format == "serialized") {
    gp::FileDescriptorProto proto;
    file_->CopyTo(&proto);
    proto.set_name(std::string(kDefaultFileName));
    return base64_encode(proto.SerializeAsString());
  }
  return std::nullopt;
}

const SchemaReference* ProtobufSchema::reference_of(const gp::FileDescriptor& file) const {
  if (&file == file_) return nullptr;
  auto it = imported_through_.find(file.name());
  return it == imported_through_.end() ? nullptr : &it->second;
}

}  // namespace pb

ParseResult detail::parse_protobuf(std::string_view text, const std::vector<SchemaReference>& references,
                                   const ReferenceResolver& resolve) {
  auto input = pb::read_input(text);
  if (auto* error = std::get_if<std::string>(&input)) return SchemaError{*error};
  pb::FileInput& file = std::get<pb::FileInput>(input);
  if (file.proto->name().empty()) file.proto->set_name(std::string(pb::kDefaultFileName));

  auto pool = std::make_unique<google::protobuf::DescriptorPool>();
  pb::Builder builder(*pool, resolve);
  if (auto error = builder.build(file, references, "")) return SchemaError{*error};
  const google::protobuf::FileDescriptor* built = pool->FindFileByName(file.proto->name());
  return std::make_shared<const pb::ProtobufSchema>(std::move(pool), built, references,
                                                    std::move(builder.imported_through));
}

}  // namespace kb::registry
