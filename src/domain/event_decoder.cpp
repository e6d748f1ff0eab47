#include "domain/event_decoder.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>

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
  return std::unexpected<Rejection>(
      Rejection{std::string(code), std::move(field), std::move(message)});
}

/// At most 64 bytes of a producer's member name, cut on a UTF-8 character boundary, so that a
/// rejection naming it stays small.
std::string_view BoundedName(std::string_view name) {
  constexpr std::size_t kMaxNameInRejection = 64;
  if (name.size() <= kMaxNameInRejection) return name;
  std::size_t cut = kMaxNameInRejection;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return name.substr(0, cut);
}

/// The members of one object of an event (the event itself, its `data`), read in one pass over
/// the DOM: the first name that repeats an earlier one, and otherwise each name's value for the
/// lookups that follow, which then need not walk the DOM again. JSON leaves the meaning of a
/// repeated name open (RFC 8259, 4) and parsers disagree on which copy wins, so the contract
/// refuses it. This runs for every event, so the common case, a dozen distinct names compared
/// pairwise, must cost about what the lookups save. An object of more than kInline members (no
/// real event has one) is sorted by name instead, which keeps it O(n log n). Refers to the DOM of
/// `object`, which must outlive it.
class Members {
 public:
  explicit Members(dom::object object) {
    if (object.size() > kInline) {
      SortLarge(object);
      return;
    }
    for (auto it = object.begin(); it != object.end(); ++it) {
      const std::string_view name = it.key();
      if (Index(name)) {
        duplicate_ = name;  // the event is refused: no lookups follow
        return;
      }
      names_[count_] = name.data();
      sizes_[count_] = name.size();
      std::construct_at(&values_[count_].element, it.value());
      ++count_;
    }
  }

  Members(const Members&) = delete;
  Members& operator=(const Members&) = delete;

  /// The first name, in document order, that repeats an earlier one.
  const std::optional<std::string_view>& Duplicate() const { return duplicate_; }

  /// The value named `name`, or null; valid as long as this object. Only meaningful when there
  /// is no Duplicate(). A pointer, not a copy: copying the element just stored costs a stall.
  const dom::element* Find(std::string_view name) const {
    if (!large_.empty()) {
      const auto it = std::ranges::lower_bound(large_, name, {}, &LargeEntry::name);
      return it != large_.end() && it->name == name ? &it->value : nullptr;
    }
    const auto index = Index(name);
    return index ? &values_[*index].element : nullptr;
  }

 private:
  static constexpr std::size_t kInline = 16;

  struct LargeEntry {
    std::string_view name;
    std::size_t position;
    dom::element value;
  };

  std::optional<std::size_t> Index(std::string_view name) const {
    for (std::size_t i = 0; i < count_; ++i) {
      // The first byte settles most names of equal length (userId, planId, tokens) without a
      // call to memcmp.
      if (sizes_[i] == name.size() &&
          (name.empty() ||
           (names_[i][0] == name[0] && std::memcmp(names_[i], name.data(), name.size()) == 0))) {
        return i;
      }
    }
    return std::nullopt;
  }

  void SortLarge(dom::object object) {
    large_.reserve(object.size());
    for (auto it = object.begin(); it != object.end(); ++it) {
      large_.push_back(LargeEntry{it.key(), large_.size(), it.value()});
    }
    std::ranges::sort(large_, {},
                      [](const LargeEntry& e) { return std::pair(e.name, e.position); });
    // Of all repeats, the one met first in the document, as the one-pass check reports it.
    std::optional<std::size_t> first;
    for (std::size_t i = 1; i < large_.size(); ++i) {
      if (large_[i].name == large_[i - 1].name && (!first || large_[i].position < *first)) {
        first = large_[i].position;
        duplicate_ = large_[i].name;
      }
    }
  }

  // Filled up to count_ by the constructor; not zeroed, which would cost more than the pass.
  union Value {
    Value() {}
    dom::element element;
  };
  std::size_t count_ = 0;
  std::optional<std::string_view> duplicate_;
  std::vector<LargeEntry> large_;
  const char* names_[kInline];
  std::size_t sizes_[kInline];
  Value values_[kInline];
};

std::unexpected<Rejection> RejectDuplicateKey(std::string_view prefix, std::string_view name) {
  std::string path = fmt::format("{}{}", prefix, BoundedName(name));
  std::string message = fmt::format("{} appears more than once", path);
  return Reject(reason::kDuplicateKey, std::move(path), std::move(message));
}

/// Whether a JSON number token (RFC 8259 grammar, already validated) denotes a whole number.
/// Decided on the digits as written: the parsed double has lost what matters (1e-400 parses as
/// 0, 1.0000000000000000001 as 1).
bool IsWholeNumberText(std::string_view text) {
  std::size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  const std::size_t int_begin = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  const std::string_view integer = text.substr(int_begin, i - int_begin);
  std::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    const std::size_t frac_begin = ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    fraction = text.substr(frac_begin, i - frac_begin);
  }
  // Saturated far beyond any count of digits an input can hold, so the result is still exact.
  constexpr std::int64_t kExponentCap = 1'000'000'000'000'000;
  std::int64_t exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      exponent = std::min(exponent * 10 + (text[i] - '0'), kExponentCap);
    }
    if (negative) exponent = -exponent;
  }
  if (i != text.size()) return false;
  // The value is digits(integer fraction) * 10^(exponent - |fraction|); it is whole iff the
  // last non-zero digit lands at or left of the decimal point.
  const auto last_fraction = fraction.find_last_not_of('0');
  if (last_fraction != std::string_view::npos) {
    return exponent >= static_cast<std::int64_t>(last_fraction + 1);
  }
  const auto last_integer = integer.find_last_not_of('0');
  if (last_integer == std::string_view::npos) return true;  // zero
  const auto trailing_zeros = static_cast<std::int64_t>(integer.size() - 1 - last_integer);
  return exponent + trailing_zeros >= 0;
}

/// Whether a JSON number token has a non-zero digit before its exponent.
bool IsNonZeroNumberText(std::string_view text) {
  for (const char c : text) {
    if (c == 'e' || c == 'E') break;
    if (c >= '1' && c <= '9') return true;
  }
  return false;
}

/// The number at `data.<key>` exactly as written in `event_text`, from a second, on-demand pass
/// over the event: the DOM keeps only the parsed double. Called only for numbers written with a
/// fraction or an exponent whose double is not conclusive, so ordinary events never pay for it.
std::optional<std::string_view> DataNumberText(std::string_view event_text, std::string_view key) {
  namespace ondemand = simdjson::ondemand;
  thread_local ondemand::parser parser;
  const simdjson::padded_string padded(event_text);
  ondemand::document doc;
  ondemand::object top;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(top) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  for (auto member : top) {
    std::string_view name;
    if (member.unescaped_key().get(name) != simdjson::SUCCESS) return std::nullopt;
    if (name != "data") continue;
    ondemand::object data;
    if (member.value().get_object().get(data) != simdjson::SUCCESS) return std::nullopt;
    for (auto field : data) {
      if (field.unescaped_key().get(name) != simdjson::SUCCESS) return std::nullopt;
      if (name != key) continue;
      std::string_view raw;
      if (field.value().raw_json_token().get(raw) != simdjson::SUCCESS) return std::nullopt;
      // The token may carry the whitespace that follows it.
      const auto end = raw.find_first_of(" \t\r\n");
      if (end != std::string_view::npos) raw = raw.substr(0, end);
      return event_text.substr(static_cast<std::size_t>(raw.data() - padded.data()), raw.size());
    }
    return std::nullopt;
  }
  return std::nullopt;
}

/// Whether `value`, a number read at `data.<key>`, is whole as written.
bool IsWholeDataNumber(dom::element value, std::string_view event_text, std::string_view key) {
  if (value.type() != dom::element_type::DOUBLE) return true;  // written as digits only
  const auto text = DataNumberText(event_text, key);
  return text && IsWholeNumberText(*text);
}

/// Reads the fields of `data`, recording the first problem met.
class DataReader {
 public:
  DataReader(const Members& data, std::string_view event_text)
      : data_(data), event_text_(event_text) {}

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
    } else if (v->type() == dom::element_type::DOUBLE &&
               v->get_double().get(d) == simdjson::SUCCESS && d >= 0 &&
               d <= static_cast<double>(max) && IsWholeDataNumber(*v, event_text_, key)) {
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
    // Rounding to `digits` decimals is documented; a non-zero number that no double can hold
    // (1e-400) is not rounding but a producer bug, and storing it as 0 would hide it.
    if (d == 0 && v->type() == dom::element_type::DOUBLE) {
      const auto text = DataNumberText(event_text_, key);
      if (!text || IsNonZeroNumberText(*text)) {
        Fail(reason::kInvalidField, key,
             "is not zero but too small for a JSON number (below 5e-324); send 0 or a decimal "
             "string");
        return std::nullopt;
      }
    }
    return static_cast<std::int64_t>(std::llround(d * static_cast<double>(scale)));
  }

  const dom::element* Find(std::string_view key, bool optional) {
    if (failed_) return nullptr;
    const dom::element* v = data_.Find(key);
    if (v == nullptr || v->is_null()) {
      if (!optional) Fail(reason::kMissingField, key, "is required");
      return nullptr;
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

  const Members& data_;
  std::string_view event_text_;
  bool failed_ = false;
  Rejection rejection_;
};

std::expected<base::TimePoint, Rejection> ReadTimestamp(const Members& data,
                                                        std::string_view event_text,
                                                        const DecodeLimits& limits,
                                                        base::TimePoint now) {
  const dom::element* found = data.Find("timestamp");
  if (found == nullptr || found->is_null()) {
    return Reject(reason::kMissingField, "data.timestamp", "data.timestamp is required");
  }
  const dom::element& v = *found;
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
              std::abs(d) < 1e15 && IsWholeDataNumber(v, event_text, "timestamp") &&
              (ms = static_cast<std::int64_t>(d), true))) {
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
                  fmt::format("data.timestamp {} is more than {} s in the future", FormatIsoUtc(*t),
                              limits.max_future_skew.count() / 1000));
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
        if (e.currency.size() != 3) {
          r.Fail(reason::kInvalidField, "currency", "must be a 3-letter ISO 4217 code");
        }
        for (char& c : e.currency) {
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
          if (c < 'A' || c > 'Z') {
            r.Fail(reason::kInvalidField, "currency", "must be a 3-letter ISO 4217 code");
          }
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
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

base::Error TooMany(const DecodeLimits& limits) {
  return base::Error{base::ErrorCode::kPayloadTooLarge,
                     fmt::format("a batch holds at most {} events", limits.max_batch_events), ""};
}

/// Validates one parsed event; `text` is the JSON it was parsed from.
DecodeResult DecodeElement(dom::element value, std::string_view text, const DecodeLimits& limits,
                           base::TimePoint now);

std::string JsonErrorMessage(simdjson::error_code error) { return simdjson::error_message(error); }

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
      out.push_back(Reject(
          reason::kEventTooLarge, "",
          fmt::format("event is {} bytes, the limit is {}", line.size(), limits.max_event_bytes)));
      continue;
    }
    dom::element v;
    if (const auto error = Parse(line, end).get(v); error != simdjson::SUCCESS) {
      out.push_back(Reject(reason::kInvalidJson, "",
                           fmt::format("line is not JSON: {}", JsonErrorMessage(error))));
      continue;
    }
    out.push_back(DecodeElement(v, line, limits, now));
  }
  if (out.empty()) {
    return base::Fail(base::Error::InvalidArgument("the body holds no events", "body"));
  }
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
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        ++depth;
        break;
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
      default:
        break;
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
                                                    const DecodeLimits& limits,
                                                    base::TimePoint now) {
  const auto elements = SplitArray(text);
  if (!elements) {
    return base::Fail(base::Error::InvalidArgument(
        "the body is not a well-formed JSON array; send one event, an array, or NDJSON", "body"));
  }
  if (elements->empty()) {
    return base::Fail(base::Error::InvalidArgument("the body holds no events", "body"));
  }
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
    out.push_back(DecodeElement(v, element, limits, now));
  }
  return out;
}

DecodeResult DecodeElement(dom::element value, std::string_view text, const DecodeLimits& limits,
                           base::TimePoint now) {
  if (text.size() > limits.max_event_bytes) {
    return Reject(
        reason::kEventTooLarge, "",
        fmt::format("event is {} bytes, the limit is {}", text.size(), limits.max_event_bytes));
  }
  dom::object obj;
  if (value.get_object().get(obj) != simdjson::SUCCESS) {
    return Reject(reason::kNotAnObject, "", "an event must be a JSON object");
  }
  const Members top(obj);
  if (top.Duplicate()) return RejectDuplicateKey("", *top.Duplicate());

  DecodedEvent out;
  if (const auto id = top.Find("id"); id && !id->is_null()) {
    std::string_view id_text;
    if (id->get_string().get(id_text) != simdjson::SUCCESS || id_text.empty() ||
        id_text.size() > kMaxIdBytes) {
      return Reject(reason::kInvalidField, "id",
                    fmt::format("id must be a non-empty string of at most {} bytes", kMaxIdBytes));
    }
    out.event.event_id.assign(id_text);
    out.id_was_sent = true;
  }
  const auto type_value = top.Find("type");
  if (!type_value) return Reject(reason::kMissingField, "type", "type is required");
  std::string_view type_name;
  if (type_value->get_string().get(type_name) != simdjson::SUCCESS) {
    return Reject(reason::kInvalidField, "type", "type must be a string");
  }
  const auto type = ParseEventType(type_name);
  if (!type) {
    return Reject(reason::kUnknownType, "type",
                  fmt::format("unknown event type '{}'", type_name.substr(0, 64)));
  }
  out.event.type = *type;
  const auto data_value = top.Find("data");
  if (!data_value) return Reject(reason::kMissingField, "data", "data is required");
  dom::object data_object;
  if (data_value->get_object().get(data_object) != simdjson::SUCCESS) {
    return Reject(reason::kInvalidField, "data", "data must be an object");
  }
  const Members data(data_object);
  if (data.Duplicate()) return RejectDuplicateKey("data.", *data.Duplicate());

  auto ts = ReadTimestamp(data, text, limits, now);
  if (!ts) return std::unexpected(std::move(ts.error()));
  out.event.timestamp = *ts;

  DataReader reader(data, text);
  ReadTypeFields(*type, reader, out.event);
  if (reader.Failed()) return std::unexpected(reader.TakeRejection());
  return out;
}

}  // namespace

DecodeResult DecodeEventBytes(std::string_view bytes, const DecodeLimits& limits,
                              base::TimePoint now) {
  if (bytes.size() > limits.max_event_bytes) {
    return Reject(
        reason::kEventTooLarge, "",
        fmt::format("event is {} bytes, the limit is {}", bytes.size(), limits.max_event_bytes));
  }
  dom::element v;
  if (const auto error = Parse(bytes, bytes.data() + bytes.size()).get(v);
      error != simdjson::SUCCESS) {
    return Reject(reason::kInvalidJson, "", fmt::format("not JSON: {}", JsonErrorMessage(error)));
  }
  return DecodeElement(v, bytes, limits, now);
}

base::Result<std::vector<DecodeResult>> DecodeBody(std::string_view body, BodyFormat format,
                                                   const DecodeLimits& limits,
                                                   base::TimePoint now) {
  const std::string_view trimmed = Trim(body);
  if (trimmed.empty()) return base::Fail(base::Error::InvalidArgument("the body is empty", "body"));
  if (format == BodyFormat::kNdjson) return DecodeNdjson(trimmed, limits, now);

  if (trimmed.front() == '[') return DecodeArray(trimmed, body.data() + body.size(), limits, now);
  dom::element v;
  if (const auto error = Parse(trimmed, body.data() + body.size()).get(v);
      error != simdjson::SUCCESS) {
    // Several objects one per line, sent without an NDJSON content type.
    if (format == BodyFormat::kAuto && trimmed.front() == '{') {
      return DecodeNdjson(trimmed, limits, now);
    }
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("the body is not JSON ({}); send one event, an array, or NDJSON",
                    JsonErrorMessage(error)),
        "body"));
  }
  std::vector<DecodeResult> out;
  out.push_back(DecodeElement(v, trimmed, limits, now));
  return out;
}

std::string CanonicalForm(const Event& e) {
  // Each field as <length>:<bytes>, so no choice of field contents can make two different
  // events read the same.
  std::string out;
  out.reserve(256);
  auto field = [&out](std::string_view v) {
    fmt::format_to(std::back_inserter(out), "{}:{}", v.size(), v);
  };
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
