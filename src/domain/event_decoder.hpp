#pragma once

#include <chrono>
#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "domain/event.hpp"

namespace domain {

/// Why one event was refused. `code` is a stable machine-readable reason (also the label of the
/// rejection metric and the dead-letter header); `field` is a JSON path such as `data.userId`.
struct Rejection {
  std::string code;
  std::string field;
  std::string message;
};

/// Reason codes; the full list with meanings is in docs/events.md.
namespace reason {
inline constexpr std::string_view kInvalidJson = "invalid_json";
inline constexpr std::string_view kNotAnObject = "not_an_object";
inline constexpr std::string_view kUnknownType = "unknown_type";
inline constexpr std::string_view kMissingField = "missing_field";
inline constexpr std::string_view kInvalidField = "invalid_field";
inline constexpr std::string_view kInvalidTimestamp = "invalid_timestamp";
inline constexpr std::string_view kTimestampInFuture = "timestamp_in_future";
inline constexpr std::string_view kTimestampTooOld = "timestamp_too_old";
inline constexpr std::string_view kEventTooLarge = "event_too_large";
inline constexpr std::string_view kDuplicateKey = "duplicate_key";
}  // namespace reason

struct DecodeLimits {
  std::size_t max_event_bytes = 32 * 1024;
  std::size_t max_batch_events = 10'000;
  std::chrono::milliseconds max_future_skew = std::chrono::hours(24);
  base::TimePoint min_timestamp = base::TimePoint(std::chrono::milliseconds(946'684'800'000));
};

/// An event as decoded and validated, before pseudonymisation: `user_id` and
/// `subscription_ref` still hold the platform's raw ids (the caller pseudonymises them at once),
/// `id_was_sent` says whether `event_id` came from the producer.
struct DecodedEvent {
  Event event;
  bool id_was_sent = false;
};

using DecodeResult = std::expected<DecodedEvent, Rejection>;

/// Parses and validates one serialized event `{"id"?, "type", "data": {...}}` (an AMQP message
/// body, one NDJSON line). Pure apart from a per-thread parser; never throws.
DecodeResult DecodeEventBytes(std::string_view bytes, const DecodeLimits& limits,
                              base::TimePoint now);

enum class BodyFormat { kAuto, kJson, kNdjson };

/// Splits an HTTP ingest body (one event, a JSON array, or NDJSON) and decodes each event.
/// The result has one entry per event in body order; one bad event never affects another.
/// Fails as a whole only when the body holds no events, is not JSON/NDJSON at all, or holds
/// more than `limits.max_batch_events` events (kPayloadTooLarge).
base::Result<std::vector<DecodeResult>> DecodeBody(std::string_view body, BodyFormat format,
                                                   const DecodeLimits& limits, base::TimePoint now);

/// The stable text from which an event's id is derived when the producer sent none: every
/// stored field in a fixed order. Equal for redelivered copies, different for distinct events.
std::string CanonicalForm(const Event& event);

/// Truncates an IP address for storage: IPv4 to its /24, IPv6 to its /48. Empty for anything
/// that is not an address.
std::string TruncateIp(std::string_view ip);

}  // namespace domain
