// Untrusted bytes reach the event decoder from every HTTP ingest body and every RabbitMQ message.
// Besides crashes, leaks and undefined behaviour (ASan, UBSan), this checks what must hold for
// any input: one result per event of a body, accepted events within the contract's limits,
// rejections with a documented code, and the same answer however the event arrives (alone, as
// the only line of an NDJSON body, as the only element of an array, decoded a second time).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "domain/event_decoder.hpp"

namespace {

using domain::BodyFormat;
using domain::DecodeLimits;
using domain::DecodeResult;

// Mid-2025, fixed: an input must decode the same way on every run for a crash to replay.
const base::TimePoint kNow = base::TimePoint(std::chrono::milliseconds(1'750'000'000'000));

void Check(bool holds, const char* invariant, std::string_view input) {
  if (holds) return;
  std::fprintf(stderr, "invariant violated: %s\ninput (%zu bytes): %.*s\n", invariant, input.size(),
               static_cast<int>(std::min<std::size_t>(input.size(), 2000)), input.data());
  std::abort();
}

bool IsDocumentedCode(std::string_view code) {
  namespace r = domain::reason;
  for (const auto known : {r::kInvalidJson, r::kNotAnObject, r::kUnknownType, r::kMissingField,
                           r::kInvalidField, r::kInvalidTimestamp, r::kTimestampInFuture,
                           r::kTimestampTooOld, r::kEventTooLarge, r::kDuplicateKey}) {
    if (code == known) return true;
  }
  return false;
}

void CheckResult(const DecodeResult& result, const DecodeLimits& limits, std::string_view input) {
  if (!result) {
    const auto& rejection = result.error();
    Check(IsDocumentedCode(rejection.code), "rejection code is documented", input);
    Check(!rejection.message.empty(), "rejection has a message", input);
    Check(rejection.message.size() <= 512, "rejection message is bounded", input);
    Check(rejection.field.size() <= 5 + 64, "rejection field is bounded", input);
    const bool whole_event = rejection.code == domain::reason::kInvalidJson ||
                             rejection.code == domain::reason::kNotAnObject ||
                             rejection.code == domain::reason::kEventTooLarge;
    Check(
        whole_event == (rejection.field.empty() && rejection.code != domain::reason::kDuplicateKey),
        "field is absent exactly for rejections of the whole event", input);
    return;
  }
  const domain::Event& e = result->event;
  Check(!e.user_id.empty() && e.user_id.size() <= 256, "userId is 1..256 bytes", input);
  Check(e.event_id.size() <= 256, "id is at most 256 bytes", input);
  Check(result->id_was_sent == !e.event_id.empty(), "id_was_sent matches the id", input);
  Check(e.timestamp >= limits.min_timestamp, "timestamp not before the minimum", input);
  Check(e.timestamp <= kNow + limits.max_future_skew, "timestamp not beyond the skew", input);
  Check(e.amount.units >= 0 && e.amount.units <= 10'000'000'000'000'000, "amount in range", input);
  Check(!e.cost_usd || (e.cost_usd->units >= 0 && e.cost_usd->units <= 1'000'000'000'000'000),
        "costUsd in range", input);
  Check(e.tokens <= 200'000'000, "tokens in range", input);
  Check(!e.input_tokens || *e.input_tokens <= 100'000'000, "inputTokens in range", input);
  Check(!e.output_tokens || *e.output_tokens <= 100'000'000, "outputTokens in range", input);
  Check(!e.latency_ms || *e.latency_ms <= 86'400'000, "latencyMs in range", input);
  Check(e.currency.empty() ||
            (e.currency.size() == 3 &&
             std::ranges::all_of(e.currency, [](char c) { return c >= 'A' && c <= 'Z'; })),
        "currency is empty or 3 upper-case letters", input);
  Check(!domain::CanonicalForm(e).empty(), "canonical form is not empty", input);
}

bool SameResult(const DecodeResult& a, const DecodeResult& b) {
  if (a.has_value() != b.has_value()) return false;
  if (a) return a->event == b->event && a->id_was_sent == b->id_was_sent;
  return a.error().code == b.error().code && a.error().field == b.error().field;
}

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

std::size_t NonBlankLines(std::string_view body) {
  std::size_t lines = 0;
  for (std::size_t pos = 0; pos <= body.size();) {
    std::size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    if (!Trim(body.substr(pos, nl - pos)).empty()) ++lines;
    pos = nl + 1;
  }
  return lines;
}

void DecodeBodyAndCheck(std::string_view body, BodyFormat format, const DecodeLimits& limits) {
  const auto decoded = domain::DecodeBody(body, format, limits, kNow);
  const std::string_view trimmed = Trim(body);
  if (!decoded) {
    const auto code = decoded.error().code;
    Check(code == base::ErrorCode::kInvalidArgument || code == base::ErrorCode::kPayloadTooLarge,
          "a body fails as invalid or too large only", body);
    Check(!decoded.error().message.empty(), "a failed body has a message", body);
    if (format == BodyFormat::kNdjson) {
      const std::size_t lines = NonBlankLines(body);
      Check(
          code == base::ErrorCode::kPayloadTooLarge ? lines > limits.max_batch_events : lines == 0,
          "an NDJSON body fails only when it holds no line or too many", body);
    }
    return;
  }
  Check(!decoded->empty(), "a decoded body holds an event", body);
  Check(decoded->size() <= limits.max_batch_events, "no more events than the batch limit", body);
  Check(decoded->size() <= trimmed.size(), "no more events than bytes", body);
  if (format == BodyFormat::kNdjson) {
    Check(decoded->size() == NonBlankLines(body), "one result per non-blank NDJSON line", body);
  } else if (trimmed.front() != '[' && format == BodyFormat::kJson) {
    Check(decoded->size() == 1, "a JSON body that is not an array is one event", body);
  }
  for (const auto& result : *decoded) CheckResult(result, limits, body);

  // The thread's parsers are reused from call to call; a second pass must not differ.
  const auto again = domain::DecodeBody(body, format, limits, kNow);
  Check(again.has_value() && again->size() == decoded->size(), "decoding is repeatable", body);
  for (std::size_t i = 0; i < decoded->size(); ++i) {
    Check(SameResult((*decoded)[i], (*again)[i]), "decoding is repeatable", body);
  }
}

void DecodeOneEventAndCheck(std::string_view bytes, const DecodeLimits& limits) {
  const auto alone = domain::DecodeEventBytes(bytes, limits, kNow);
  CheckResult(alone, limits, bytes);
  const std::string_view event = Trim(bytes);
  if (event.empty() || event.find('\n') != std::string_view::npos) return;
  if (event.size() != bytes.size()) {
    Check(SameResult(alone, domain::DecodeEventBytes(event, limits, kNow)) ||
              event.size() > limits.max_event_bytes || bytes.size() > limits.max_event_bytes,
          "blanks around an event do not change it", bytes);
  }
  const auto line = domain::DecodeBody(event, BodyFormat::kNdjson, limits, kNow);
  Check(line.has_value() && line->size() == 1, "one NDJSON line is one event", bytes);
  Check(SameResult((*line)[0], domain::DecodeEventBytes(event, limits, kNow)),
        "an NDJSON line decodes as the same message", bytes);
  // Valid JSON has no comma outside its brackets and strings, so an array of it has one
  // element, decoded as the message is. (A too large event was never parsed.)
  const auto& reference = (*line)[0];
  if (reference || (reference.error().code != domain::reason::kInvalidJson &&
                    reference.error().code != domain::reason::kEventTooLarge)) {
    const std::string array = "[" + std::string(event) + "]";
    const auto element = domain::DecodeBody(array, BodyFormat::kJson, limits, kNow);
    Check(element.has_value() && element->size() == 1, "an array of one event is one event", bytes);
    Check(SameResult((*element)[0], reference), "an array element decodes as the same message",
          bytes);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Tight limits reach the size and count checks with small inputs.
  DecodeLimits tight;
  tight.max_event_bytes = 512;
  tight.max_batch_events = 8;
  for (const DecodeLimits& limits : {DecodeLimits{}, tight}) {
    DecodeOneEventAndCheck(input, limits);
    for (const auto format : {BodyFormat::kAuto, BodyFormat::kJson, BodyFormat::kNdjson}) {
      DecodeBodyAndCheck(input, format, limits);
    }
  }
  return 0;
}
