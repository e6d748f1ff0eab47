#include "domain/event_decoder.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "domain/timestamp.hpp"

namespace domain {
namespace dom = simdjson::dom;
namespace {

constexpr std::size_t kMaxIdBytes = 256;
constexpr std::size_t kMaxNameBytes = 128;
constexpr std::size_t kMaxReasonBytes = 1024;
constexpr std::uint64_t kMaxTokens = 100'000'000;
constexpr std::uint64_t kMaxLatencyMs = 24ULL * 3600 * 1000;
constexpr double kMaxAmount = 1e12;
constexpr double kMaxCostUsd = 1e6;

std::unexpected<Rejection> Reject(std::string_view code, std::string field, std::string message) {
  return std::unexpected<Rejection>(Rejection{std::string(code), std::move(field),
                                              std::move(message)});
}

/// Reads the fields of `data`, recording the first problem met.
class DataReader {
 public:
  explicit DataReader(dom::object data) : data_(data) {}

  bool Failed() const { return failed_; }
  Rejection TakeRejection() { return std::move(rejection_); }

  /// Required unless `optional`; a present field of the wrong type is always an error.
  std::string String(std::string_view key, std::size_t max_bytes, bool optional = false) {
    const auto v = Find(key, optional);
    if (!v) return {};
    std::string_view s;
    if (v->get_string().get(s) != simdjson::SUCCESS) {
      Fail(reason::kInvalidField, key, "must be a string");
      return {};
    }
    if (s.empty() && !optional) {
      Fail(reason::kInvalidField, key, "must not be empty");
      return {};
    }
    if (s.size() > max_bytes) {
      Fail(reason::kInvalidField, key, fmt::format("is longer than {} bytes", max_bytes));
      return {};
    }
    return std::string(s);
  }

  std::optional<std::uint64_t> Unsigned(std::string_view key, std::uint64_t max, bool optional) {
    const auto v = Find(key, optional);
    if (!v) return std::nullopt;
    std::uint64_t out = 0;
    double d = 0;
    if (v->get_uint64().get(out) == simdjson::SUCCESS) {
      // an unsigned integer
    } else if (v->is_double() && v->get_double().get(d) == simdjson::SUCCESS && d >= 0 &&
               std::floor(d) == d && d <= static_cast<double>(max)) {
      out = static_cast<std::uint64_t>(d);
    } else {
      Fail(reason::kInvalidField, key, "must be a non-negative integer");
      return std::nullopt;
    }
    if (out > max) {
      Fail(reason::kInvalidField, key, fmt::format("must be at most {}", max));
      return std::nullopt;
    }
    return out;
  }

  /// A non-negative decimal (JSON number or numeric string) scaled to `digits` places.
  std::optional<std::int64_t> Decimal(std::string_view key, int digits, double max, bool optional) {
    const auto v = Find(key, optional);
    if (!v) return std::nullopt;
    std::int64_t scale = 1;
    for (int i = 0; i < digits; ++i) scale *= 10;
    std::string_view text;
    if (v->get_string().get(text) == simdjson::SUCCESS) {
      return DecimalFromString(key, text, digits, scale, max);
    }
    double d = 0;
    if (!v->is_number() || v->get_double().get(d) != simdjson::SUCCESS) {
      Fail(reason::kInvalidField, key, "must be a number");
      return std::nullopt;
    }
    if (!(d >= 0) || d > max) {
      Fail(reason::kInvalidField, key, fmt::format("must be between 0 and {}", max));
      return std::nullopt;
    }
    return static_cast<std::int64_t>(std::llround(d * static_cast<double>(scale)));
  }

  std::optional<dom::element> Find(std::string_view key, bool optional) {
    if (failed_) return std::nullopt;
    dom::element v;
    if (data_.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) {
      if (!optional) Fail(reason::kMissingField, key, "is required");
      return std::nullopt;
    }
    return v;
  }

  void Fail(std::string_view code, std::string_view key, std::string_view what) {
    if (failed_) return;
    failed_ = true;
    rejection_ = Rejection{std::string(code), fmt::format("data.{}", key),
                           fmt::format("data.{} {}", key, what)};
  }

 private:
  std::optional<std::int64_t> DecimalFromString(std::string_view key, std::string_view s,
                                                int digits, std::int64_t scale, double max) {
    std::int64_t whole = 0;
    std::int64_t frac = 0;
    int frac_digits = 0;
    std::size_t i = 0;
    bool any = false;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      whole = whole * 10 + (s[i] - '0');
      any = true;
      if (static_cast<double>(whole) > max) break;
    }
    if (i < s.size() && s[i] == '.') {
      for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
        any = true;
        if (frac_digits < digits) {
          frac = frac * 10 + (s[i] - '0');
          ++frac_digits;
        } else if (s[i] != '0') {
          Fail(reason::kInvalidField, key, fmt::format("has more than {} decimals", digits));
          return std::nullopt;
        }
      }
    }
    if (!any || i != s.size() || static_cast<double>(whole) > max) {
      Fail(reason::kInvalidField, key, "must be a non-negative decimal number");
      return std::nullopt;
    }
    for (int k = frac_digits; k < digits; ++k) frac *= 10;
    const std::int64_t units = whole * scale + frac;
    if (units > static_cast<std::int64_t>(max) * scale) {
      Fail(reason::kInvalidField, key, fmt::format("must be between 0 and {}", max));
      return std::nullopt;
    }
    return units;
  }

  dom::object data_;
  bool failed_ = false;
  Rejection rejection_;
};

std::expected<base::TimePoint, Rejection> ReadTimestamp(dom::object data,
                                                        const DecodeLimits& limits,
                                                        base::TimePoint now) {
  dom::element v;
  if (data.at_key("timestamp").get(v) != simdjson::SUCCESS || v.is_null()) {
    return Reject(reason::kMissingField, "data.timestamp", "data.timestamp is required");
  }
  std::optional<base::TimePoint> t;
  std::string_view text;
  std::int64_t ms = 0;
  double d = 0;
  if (v.get_string().get(text) == simdjson::SUCCESS) {
    t = ParseIsoDateTime(text);
    if (!t) {
      return Reject(reason::kInvalidTimestamp, "data.timestamp",
                    "data.timestamp must be ISO 8601 with an offset (2025-01-31T12:00:00Z) or "
                    "epoch milliseconds");
    }
  } else if (v.get_int64().get(ms) == simdjson::SUCCESS ||
             (v.get_double().get(d) == simdjson::SUCCESS && std::floor(d) == d &&
              std::abs(d) < 1e15 && (ms = static_cast<std::int64_t>(d), true))) {
    // Beyond about year 33000 either way: keeps the arithmetic below far from overflow.
    if (ms > 1'000'000'000'000'000 || ms < -1'000'000'000'000'000) {
      return Reject(reason::kInvalidTimestamp, "data.timestamp", "data.timestamp is out of range");
    }
    t = base::TimePoint(std::chrono::milliseconds(ms));
  } else {
    return Reject(reason::kInvalidTimestamp, "data.timestamp",
                  "data.timestamp must be an ISO 8601 string or epoch milliseconds");
  }
  if (*t > now + limits.max_future_skew) {
    return Reject(reason::kTimestampInFuture, "data.timestamp",
                  fmt::format("data.timestamp {} is more than {} s in the future",
                              FormatIsoUtc(*t), limits.max_future_skew.count() / 1000));
  }
  if (*t < limits.min_timestamp) {
    return Reject(reason::kTimestampTooOld, "data.timestamp",
                  fmt::format("data.timestamp {} is before {} (epoch seconds instead of "
                              "milliseconds?)",
                              FormatIsoUtc(*t), FormatIsoUtc(limits.min_timestamp)));
  }
  return *t;
}

void ReadTypeFields(EventType type, DataReader& r, Event& e) {
  e.user_id = r.String("userId", kMaxIdBytes);
  switch (type) {
    case EventType::kUserSignup:
      r.String("email", kMaxReasonBytes, /*optional=*/true);  // checked for type, never kept
      e.plan = r.String("planTier", kMaxNameBytes);
      break;
    case EventType::kUserSignin:
      e.ip_prefix = TruncateIp(r.String("ip", kMaxNameBytes, /*optional=*/true));
      break;
    case EventType::kUserSignout:
      break;
    case EventType::kUserPlanUpgrade:
    case EventType::kUserPlanDowngrade:
      e.from_plan = r.String("fromPlan", kMaxNameBytes);
      e.to_plan = r.String("toPlan", kMaxNameBytes);
      break;
    case EventType::kChatMessageSent: {
      e.conversation_id = r.String("conversationId", kMaxIdBytes);
      e.provider = r.String("provider", kMaxNameBytes);
      e.model = r.String("model", kMaxNameBytes);
      e.input_tokens = r.Unsigned("inputTokens", kMaxTokens, true);
      e.output_tokens = r.Unsigned("outputTokens", kMaxTokens, true);
      // tokens may be left out only when both halves of the split are sent.
      const bool split = e.input_tokens && e.output_tokens;
      const auto tokens = r.Unsigned("tokens", kMaxTokens, split);
      e.tokens = static_cast<std::uint32_t>(
          tokens ? *tokens : (split ? *e.input_tokens + *e.output_tokens : 0));
      e.latency_ms = r.Unsigned("latencyMs", kMaxLatencyMs, true);
      if (auto cost = r.Decimal("costUsd", CostUsd::kDigits, kMaxCostUsd, true)) {
        e.cost_usd = CostUsd{*cost};
      }
      break;
    }
    case EventType::kChatConversationCreated:
      e.conversation_id = r.String("conversationId", kMaxIdBytes);
      r.String("title", kMaxReasonBytes, /*optional=*/true);  // user content: never kept
      break;
    case EventType::kChatConversationDeleted:
      e.conversation_id = r.String("conversationId", kMaxIdBytes);
      break;
    case EventType::kBillingPaymentSuccess:
    case EventType::kBillingPaymentFailed: {
      const bool failed = type == EventType::kBillingPaymentFailed;
      if (auto amount = r.Decimal("amount", Amount::kDigits, kMaxAmount, false)) {
        e.amount = Amount{*amount};
      }
      e.currency = r.String("currency", 8, /*optional=*/failed);
      if (!e.currency.empty()) {
        if (e.currency.size() != 3) r.Fail(reason::kInvalidField, "currency", "must be a 3-letter ISO 4217 code");
        for (char& c : e.currency) {
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
          if (c < 'A' || c > 'Z') r.Fail(reason::kInvalidField, "currency", "must be a 3-letter ISO 4217 code");
        }
      }
      e.plan = r.String("planId", kMaxNameBytes, /*optional=*/failed);
      if (failed) e.reason = r.String("reason", kMaxReasonBytes);
      break;
    }
    case EventType::kBillingSubscriptionCreated:
      e.plan = r.String("planId", kMaxNameBytes);
      e.subscription_ref = r.String("stripeSubscriptionId", kMaxIdBytes, /*optional=*/true);
      break;
    case EventType::kBillingSubscriptionCancelled:
      e.plan = r.String("planId", kMaxNameBytes);
      e.subscription_ref = r.String("stripeSubscriptionId", kMaxIdBytes, /*optional=*/true);
      break;
  }
  e.session_id = r.String("sessionId", kMaxIdBytes, /*optional=*/true);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

base::Error TooMany(const DecodeLimits& limits) {
  return base::Error{base::ErrorCode::kPayloadTooLarge,
                     fmt::format("a batch holds at most {} events", limits.max_batch_events), ""};
}

DecodeResult DecodeElement(dom::element value, std::size_t bytes, const DecodeLimits& limits,
                           base::TimePoint now);

std::string JsonErrorMessage(simdjson::error_code error) {
  return simdjson::error_message(error);
}

/// One parser per thread, reused: its buffers grow to the largest document seen and stay.
dom::parser& ThreadParser() {
  thread_local dom::parser parser;
  return parser;
}

/// Parses `text`, a slice of a buffer that ends at `buffer_end`: the bytes after the slice are
/// readable, so only a slice too near the end is copied to get simdjson's padding.
simdjson::simdjson_result<dom::element> Parse(std::string_view text, const char* buffer_end) {
  const bool padded = text.data() + text.size() + simdjson::SIMDJSON_PADDING <= buffer_end;
  return ThreadParser().parse(text.data(), text.size(), !padded);
}

base::Result<std::vector<DecodeResult>> DecodeNdjson(std::string_view body,
                                                     const DecodeLimits& limits,
                                                     base::TimePoint now) {
  std::vector<DecodeResult> out;
  out.reserve(std::min<std::size_t>(
      static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n')) + 1,
      limits.max_batch_events));
  const char* end = body.data() + body.size();
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    const std::string_view line = Trim(body.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty()) continue;
    if (out.size() >= limits.max_batch_events) return base::Fail(TooMany(limits));
    if (line.size() > limits.max_event_bytes) {
      out.push_back(Reject(reason::kEventTooLarge, "",
                           fmt::format("event is {} bytes, the limit is {}", line.size(),
                                       limits.max_event_bytes)));
      continue;
    }
    dom::element v;
    if (const auto error = Parse(line, end).get(v); error != simdjson::SUCCESS) {
      out.push_back(Reject(reason::kInvalidJson, "",
                           fmt::format("line is not JSON: {}", JsonErrorMessage(error))));
      continue;
    }
    out.push_back(DecodeElement(v, line.size(), limits, now));
  }
  if (out.empty()) return base::Fail(base::Error::InvalidArgument("the body holds no events", "body"));
  return out;
}

/// The top-level elements of a JSON array, as text, without parsing them: each event of an
/// array body is then parsed on its own, so one bad element (an out-of-range number, say)
/// never takes the others down, and each one's size is exact. Nullopt if the brackets, quotes
/// or commas of the array itself do not add up.
std::optional<std::vector<std::string_view>> SplitArray(std::string_view text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  std::vector<std::string_view> out;
  int depth = 0;
  bool in_string = false;
  std::size_t start = 1;
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{': ++depth; break;
      case ']':
      case '}':
        if (--depth < 0) return std::nullopt;
        break;
      case ',':
        if (depth == 0) {
          const auto element = Trim(text.substr(start, i - start));
          if (element.empty()) return std::nullopt;
          out.push_back(element);
          start = i + 1;
        }
        break;
      default: break;
    }
  }
  if (in_string || depth != 0) return std::nullopt;
  const auto last = Trim(text.substr(start, text.size() - 1 - start));
  if (last.empty()) {
    if (!out.empty()) return std::nullopt;  // a trailing comma
  } else {
    out.push_back(last);
  }
  return out;
}

base::Result<std::vector<DecodeResult>> DecodeArray(std::string_view text, const char* buffer_end,
                                                    const DecodeLimits& limits, base::TimePoint now) {
  const auto elements = SplitArray(text);
  if (!elements) {
    return base::Fail(base::Error::InvalidArgument(
        "the body is not a well-formed JSON array; send one event, an array, or NDJSON", "body"));
  }
  if (elements->empty()) return base::Fail(base::Error::InvalidArgument("the body holds no events", "body"));
  if (elements->size() > limits.max_batch_events) return base::Fail(TooMany(limits));
  std::vector<DecodeResult> out;
  out.reserve(elements->size());
  for (const auto element : *elements) {
    if (element.size() > limits.max_event_bytes) {
      out.push_back(Reject(reason::kEventTooLarge, "",
                           fmt::format("event is {} bytes, the limit is {}", element.size(),
                                       limits.max_event_bytes)));
      continue;
    }
    dom::element v;
    if (const auto error = Parse(element, buffer_end).get(v); error != simdjson::SUCCESS) {
      out.push_back(Reject(reason::kInvalidJson, "",
                           fmt::format("element is not JSON: {}", JsonErrorMessage(error))));
      continue;
    }
    out.push_back(DecodeElement(v, element.size(), limits, now));
  }
  return out;
}

DecodeResult DecodeElement(dom::element value, std::size_t bytes, const DecodeLimits& limits,
                           base::TimePoint now) {
  if (bytes > limits.max_event_bytes) {
    return Reject(reason::kEventTooLarge, "",
                  fmt::format("event is {} bytes, the limit is {}", bytes, limits.max_event_bytes));
  }
  dom::object obj;
  if (value.get_object().get(obj) != simdjson::SUCCESS) {
    return Reject(reason::kNotAnObject, "", "an event must be a JSON object");
  }

  DecodedEvent out;
  dom::element id;
  if (obj.at_key("id").get(id) == simdjson::SUCCESS && !id.is_null()) {
    std::string_view text;
    if (id.get_string().get(text) != simdjson::SUCCESS || text.empty() || text.size() > kMaxIdBytes) {
      return Reject(reason::kInvalidField, "id",
                    fmt::format("id must be a non-empty string of at most {} bytes", kMaxIdBytes));
    }
    out.event.event_id.assign(text);
    out.id_was_sent = true;
  }
  dom::element type_value;
  if (obj.at_key("type").get(type_value) != simdjson::SUCCESS) {
    return Reject(reason::kMissingField, "type", "type is required");
  }
  std::string_view type_name;
  if (type_value.get_string().get(type_name) != simdjson::SUCCESS) {
    return Reject(reason::kInvalidField, "type", "type must be a string");
  }
  const auto type = ParseEventType(type_name);
  if (!type) {
    return Reject(reason::kUnknownType, "type",
                  fmt::format("unknown event type '{}'", type_name.substr(0, 64)));
  }
  out.event.type = *type;
  dom::element data_value;
  if (obj.at_key("data").get(data_value) != simdjson::SUCCESS) {
    return Reject(reason::kMissingField, "data", "data is required");
  }
  dom::object data;
  if (data_value.get_object().get(data) != simdjson::SUCCESS) {
    return Reject(reason::kInvalidField, "data", "data must be an object");
  }

  auto ts = ReadTimestamp(data, limits, now);
  if (!ts) return std::unexpected(std::move(ts.error()));
  out.event.timestamp = *ts;

  DataReader reader(data);
  ReadTypeFields(*type, reader, out.event);
  if (reader.Failed()) return std::unexpected(reader.TakeRejection());
  return out;
}

}  // namespace

DecodeResult DecodeEventBytes(std::string_view bytes, const DecodeLimits& limits,
                              base::TimePoint now) {
  if (bytes.size() > limits.max_event_bytes) {
    return Reject(reason::kEventTooLarge, "",
                  fmt::format("event is {} bytes, the limit is {}", bytes.size(),
                              limits.max_event_bytes));
  }
  dom::element v;
  if (const auto error = Parse(bytes, bytes.data() + bytes.size()).get(v); error != simdjson::SUCCESS) {
    return Reject(reason::kInvalidJson, "", fmt::format("not JSON: {}", JsonErrorMessage(error)));
  }
  return DecodeElement(v, bytes.size(), limits, now);
}

base::Result<std::vector<DecodeResult>> DecodeBody(std::string_view body, BodyFormat format,
                                                   const DecodeLimits& limits,
                                                   base::TimePoint now) {
  const std::string_view trimmed = Trim(body);
  if (trimmed.empty()) return base::Fail(base::Error::InvalidArgument("the body is empty", "body"));
  if (format == BodyFormat::kNdjson) return DecodeNdjson(trimmed, limits, now);

  if (trimmed.front() == '[') return DecodeArray(trimmed, body.data() + body.size(), limits, now);
  dom::element v;
  if (const auto error = Parse(trimmed, body.data() + body.size()).get(v); error != simdjson::SUCCESS) {
    // Several objects one per line, sent without an NDJSON content type.
    if (format == BodyFormat::kAuto && trimmed.front() == '{') return DecodeNdjson(trimmed, limits, now);
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("the body is not JSON ({}); send one event, an array, or NDJSON",
                    JsonErrorMessage(error)),
        "body"));
  }
  std::vector<DecodeResult> out;
  out.push_back(DecodeElement(v, trimmed.size(), limits, now));
  return out;
}

std::string CanonicalForm(const Event& e) {
  // Each field as <length>:<bytes>, so no choice of field contents can make two different
  // events read the same.
  std::string out;
  out.reserve(256);
  auto field = [&out](std::string_view v) { fmt::format_to(std::back_inserter(out), "{}:{}", v.size(), v); };
  auto number = [&field](const auto& v) { field(fmt::format("{}", v)); };
  auto optional = [&field](const auto& v) { field(v ? fmt::format("{}", *v) : std::string("-")); };
  field(EventTypeName(e.type));
  number(e.timestamp.time_since_epoch().count());
  field(e.user_id);
  field(e.plan);
  field(e.from_plan);
  field(e.to_plan);
  field(e.conversation_id);
  field(e.session_id);
  field(e.provider);
  field(e.model);
  number(e.tokens);
  optional(e.input_tokens);
  optional(e.output_tokens);
  optional(e.latency_ms);
  field(e.cost_usd ? fmt::format("{}", e.cost_usd->units) : std::string("-"));
  number(e.amount.units);
  field(e.currency);
  field(e.reason);
  field(e.subscription_ref);
  field(e.ip_prefix);
  return out;
}

std::string TruncateIp(std::string_view ip) {
  if (ip.empty() || ip.size() > 64 || ip.find('\0') != std::string_view::npos) return {};
  const std::string text(ip);
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    buf[3] = 0;
    if (inet_ntop(AF_INET, buf, out, sizeof out) != nullptr) return std::string(out) + "/24";
  } else if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    static constexpr unsigned char kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(buf, buf + 12, kV4Mapped)) {
      buf[15] = 0;  // an IPv4 address in IPv6 form: truncate it as IPv4
      if (inet_ntop(AF_INET, buf + 12, out, sizeof out) != nullptr) return std::string(out) + "/24";
      return {};
    }
    for (int i = 6; i < 16; ++i) buf[i] = 0;
    if (inet_ntop(AF_INET6, buf, out, sizeof out) != nullptr) return std::string(out) + "/48";
  }
  return {};
}

}  // namespace domain
