#include "registry/errors.h"

#include <fmt/format.h>

namespace kb::registry::errors {

namespace {
ApiError not_found(int code, std::string message) { return ApiError{404, code, std::move(message)}; }
ApiError unprocessable(int code, std::string message) { return ApiError{422, code, std::move(message)}; }
}  // namespace

ApiError subject_not_found(std::string_view subject) {
  return not_found(kSubjectNotFound, fmt::format("Subject '{}' not found.", subject));
}
ApiError version_not_found(int32_t version) {
  return not_found(kVersionNotFound, fmt::format("Version {} not found.", version));
}
ApiError schema_not_found() { return not_found(kSchemaNotFound, "Schema not found"); }
ApiError schema_id_not_found(int32_t id) {
  return not_found(kSchemaNotFound, fmt::format("Schema {} not found", id));
}
// Confluent's texts lack the space after the first sentence; kept for clients matching on them.
ApiError subject_soft_deleted(std::string_view subject) {
  return not_found(
      kSubjectSoftDeleted,
      fmt::format("Subject '{}' was soft deleted.Set permanent=true to delete permanently", subject));
}
ApiError subject_not_soft_deleted(std::string_view subject) {
  return not_found(
      kSubjectNotSoftDeleted,
      fmt::format("Subject '{}' was not deleted first before being permanently deleted", subject));
}
ApiError version_soft_deleted(std::string_view subject, int32_t version) {
  return not_found(
      kVersionSoftDeleted,
      fmt::format("Subject '{}' Version {} was soft deleted.Set permanent=true to delete permanently",
                  subject, version));
}
ApiError version_not_soft_deleted(std::string_view subject, int32_t version) {
  return not_found(
      kVersionNotSoftDeleted,
      fmt::format("Subject '{}' Version {} was not deleted first before being permanently deleted", subject,
                  version));
}
ApiError subject_compatibility_not_configured(std::string_view subject) {
  return not_found(kSubjectCompatibilityNotConfigured,
                   fmt::format("Subject '{}' does not have subject-level compatibility configured", subject));
}
ApiError subject_mode_not_configured(std::string_view subject) {
  return not_found(kSubjectModeNotConfigured,
                   fmt::format("Subject '{}' does not have subject-level mode configured", subject));
}
ApiError incompatible_schema(std::string_view subject, const std::vector<std::string>& details) {
  return ApiError{
      409, kIncompatibleSchema,
      fmt::format("Schema being registered is incompatible with an earlier schema for subject \"{}\", "
                  "details: [{}]",
                  subject, fmt::join(details, ", "))};
}
ApiError invalid_schema(std::string message) { return unprocessable(kInvalidSchema, std::move(message)); }
ApiError invalid_version(std::string_view version) {
  return unprocessable(kInvalidVersion,
                       fmt::format("The specified version '{}' is not a valid version id. Allowed "
                                   "values are between [1, 2^31-1] and the string \"latest\"",
                                   version));
}
ApiError invalid_compatibility_level() {
  return unprocessable(kInvalidCompatibilityLevel,
                       "Invalid compatibility level. Valid values are none, backward, forward, full, "
                       "backward_transitive, forward_transitive, and full_transitive");
}
// Confluent also lists FORWARD (a leader-forwarding mode of its own clusters); we do not take it.
ApiError invalid_mode() {
  return unprocessable(kInvalidMode,
                       "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT.");
}
ApiError not_permitted(std::string message) {
  return unprocessable(kOperationNotPermitted, std::move(message));
}
ApiError reference_exists(std::string_view subject, int32_t version) {
  // Confluent prints the SchemaKey's toString().
  return unprocessable(kReferenceExists, fmt::format("One or more references exist to the schema "
                                                     "{{magic=1,keytype=SCHEMA,subject={},version={}}}.",
                                                     subject, version));
}
ApiError invalid_subject(std::string_view subject) {
  return unprocessable(kInvalidSubject, fmt::format("The specified subject '{}' is not a valid.", subject));
}
ApiError store_error(std::string message) { return ApiError{500, kStoreError, std::move(message)}; }
ApiError timeout(std::string message) { return ApiError{500, kOperationTimeout, std::move(message)}; }
ApiError read_only(std::string_view subject) {
  return not_permitted(fmt::format("Subject {} in context  is in read-only mode", subject));
}

}  // namespace kb::registry::errors
