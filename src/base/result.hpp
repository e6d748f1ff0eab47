#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace base {

/// Protocol-neutral failure classes. Exactly one function per protocol maps them (HTTP status,
/// AMQP ack/dead-letter); nothing else looks at them to decide a status.
enum class ErrorCode {
  kInvalidArgument,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kPayloadTooLarge,
  kResourceExhausted,
  kUnavailable,
  kFailedPrecondition,
  kInternal,
};

std::string_view ErrorCodeName(ErrorCode code);

/// An expected failure: a code, a message safe to show to a client, and the offending field or
/// parameter where there is one. Cheap to copy; holds no resources.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string field;

  static Error InvalidArgument(std::string message, std::string field = {}) {
    return {ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
  }
  static Error Unavailable(std::string message) {
    return {ErrorCode::kUnavailable, std::move(message), {}};
  }
  static Error Internal(std::string message) {
    return {ErrorCode::kInternal, std::move(message), {}};
  }
};

/// Result of an operation that can fail in an expected way. Exceptions are for bugs and for
/// third-party code, caught at the adapter that wraps it.
template <typename T>
using Result = std::expected<T, Error>;

/// Result of an operation with no value.
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(Error error) { return std::unexpected<Error>(std::move(error)); }

}  // namespace base

/// Declares `var` as the result of `expr` and returns its error from the enclosing function
/// (which returns a Result or Status) when it failed.
#define TRY_ASSIGN(var, expr)   \
  auto var = (expr);            \
  if (!var) return ::base::Fail(var.error());
