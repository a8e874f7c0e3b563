// The Schema Registry's error answers: an HTTP status, Confluent's numeric error_code and the
// message, with the wording of Confluent's Errors / Rest*Exception classes so that clients
// matching on them (confluent-kafka's SchemaRegistryError, scripts grepping curl output) see
// what a Confluent registry would say.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kb::registry {

struct ApiError {
  int status = 500;  // HTTP status
  int code = 50001;  // Confluent's error_code
  std::string message;
};

// Errors as values: a T or an ApiError (the registry never throws across its interface).
template <class T>
class [[nodiscard]] Reply {
 public:
  Reply(T value) : v_(std::move(value)) {}
  Reply(ApiError e) : v_(std::move(e)) {}
  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T* operator->() const { return &value(); }
  const T& operator*() const& { return value(); }
  const ApiError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

namespace errors {

// Confluent's error codes (io.confluent.kafka.schemaregistry.rest.exceptions.Errors).
constexpr int kSubjectNotFound = 40401;
constexpr int kVersionNotFound = 40402;
constexpr int kSchemaNotFound = 40403;
constexpr int kSubjectSoftDeleted = 40404;
constexpr int kSubjectNotSoftDeleted = 40405;
constexpr int kVersionSoftDeleted = 40406;
constexpr int kVersionNotSoftDeleted = 40407;
constexpr int kSubjectCompatibilityNotConfigured = 40408;
constexpr int kSubjectModeNotConfigured = 40409;
constexpr int kIncompatibleSchema = 409;
constexpr int kInvalidSchema = 42201;
constexpr int kInvalidVersion = 42202;
constexpr int kInvalidCompatibilityLevel = 42203;
constexpr int kInvalidMode = 42204;
constexpr int kOperationNotPermitted = 42205;
constexpr int kReferenceExists = 42206;
constexpr int kIdDoesNotMatch = 42207;
constexpr int kInvalidSubject = 42208;
constexpr int kStoreError = 50001;
constexpr int kOperationTimeout = 50002;

ApiError subject_not_found(std::string_view subject);
ApiError version_not_found(int32_t version);
ApiError schema_not_found();               // "Schema not found" (lookup, /ids/{id}/versions)
ApiError schema_id_not_found(int32_t id);  // "Schema 7 not found" (GET /schemas/ids/7)
ApiError subject_soft_deleted(std::string_view subject);
ApiError subject_not_soft_deleted(std::string_view subject);
ApiError version_soft_deleted(std::string_view subject, int32_t version);
ApiError version_not_soft_deleted(std::string_view subject, int32_t version);
ApiError subject_compatibility_not_configured(std::string_view subject);
ApiError subject_mode_not_configured(std::string_view subject);
// 409; `details` are the compatibility checker's messages, shown as Java prints a list.
ApiError incompatible_schema(std::string_view subject, const std::vector<std::string>& details);
ApiError invalid_schema(std::string message);
ApiError invalid_version(std::string_view version);
ApiError invalid_compatibility_level();
ApiError invalid_mode();
ApiError not_permitted(std::string message);
ApiError reference_exists(std::string_view subject, int32_t version);
ApiError invalid_subject(std::string_view subject);
ApiError store_error(std::string message);
ApiError timeout(std::string message);

// Confluent's "Subject x in context  is in read-only mode" family: the default context prints
// as an empty string, hence the double space Confluent's own messages have.
ApiError read_only(std::string_view subject);

}  // namespace errors
}  // namespace kb::registry
