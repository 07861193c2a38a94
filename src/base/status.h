// Status and Result<T>: georep's error values.
//
// Error policy (see docs/architecture.md): environmental failures (network, disk, a remote
// command, bad user input) are returned as a Status and handled by the caller; exceptions
// thrown by third-party libraries are caught at the edge that calls them and turned into a
// Status. Impossible states are assertions. Every Status is [[nodiscard]].
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace georep {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // the caller's input is wrong; nothing was changed
  kNotFound,            // the named object does not exist
  kAlreadyExists,       // a unique name or key is taken
  kFailedPrecondition,  // the object is in a state where the operation is not allowed
  kUnauthenticated,     // missing or bad credentials
  kPermissionDenied,    // authenticated but not allowed
  kUnavailable,         // a host, database or service cannot be reached right now
  kIOError,             // local disk or file-system failure
  kCorruption,          // stored data is not what it must be
  kInternal,            // a bug or an unexpected library failure
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not_found: volume 'x' does not exist"
  std::string ToString() const;

  // Prefixes the message with context, keeping the code and the field.
  Status WithContext(std::string_view context) const;

  // The one input an InvalidArgument is about, named as the request names it ("ssh_port",
  // "path"); empty when the error is not about one input. The API sends it as `error.field`,
  // so a form can show the message on that field.
  const std::string& field() const { return field_; }
  Status WithField(std::string field) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace georep

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define GEOREP_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::georep::Status georep_status_ = (expr);        \
    if (!georep_status_.ok()) return georep_status_; \
  } while (false)

#define GEOREP_CONCAT_INNER(a, b) a##b
#define GEOREP_CONCAT(a, b) GEOREP_CONCAT_INNER(a, b)
// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a declaration; it cannot be parenthesised.
#define GEOREP_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
// `GEOREP_ASSIGN_OR_RETURN(auto x, Foo());` declares x from Foo()'s value or returns its Status.
#define GEOREP_ASSIGN_OR_RETURN(lhs, expr) \
  GEOREP_ASSIGN_OR_RETURN_IMPL(GEOREP_CONCAT(georep_result_, __LINE__), lhs, expr)
// NOLINTEND(bugprone-macro-parentheses)
