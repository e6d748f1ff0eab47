#include "loadgen/generator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loadgen {
namespace {

using domain::EventType;
using namespace std::chrono_literals;

// No JSON library may be linked here, so the tests carry a small strict parser: enough to tell
// well-formed JSON from the malformed kinds and to read the fields back.
struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  std::string text;  // a string's unescaped value, or a number's literal
  std::vector<std::pair<std::string, Json>> members;
  std::vector<Json> items;

  const Json* Find(std::string_view key) const {
    for (const auto& [k, v] : members) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

class JsonParser {
 public:
  static std::optional<Json> Parse(std::string_view text) {
    JsonParser p(text);
    Json value;
    p.SkipSpace();
    if (!p.Value(value, 0)) return std::nullopt;
    p.SkipSpace();
    if (p.pos_ != text.size()) return std::nullopt;
    return value;
  }

 private:
  explicit JsonParser(std::string_view text) : s_(text) {}

  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool Value(Json& out, int depth) {
    if (depth > 32 || pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (c == '{') return Object(out, depth);
    if (c == '[') return Array(out, depth);
    if (c == '"') {
      out.kind = Json::Kind::kString;
      return String(out.text);
    }
    if (c == 't' || c == 'f') {
      out.kind = Json::Kind::kBool;
      return Literal(c == 't' ? "true" : "false");
    }
    if (c == 'n') return Literal("null");
    out.kind = Json::Kind::kNumber;
    return Number(out.text);
  }

  bool Object(Json& out, int depth) {
    out.kind = Json::Kind::kObject;
    ++pos_;
    SkipSpace();
    if (Eat('}')) return true;
    while (true) {
      SkipSpace();
      std::string key;
      if (pos_ >= s_.size() || s_[pos_] != '"' || !String(key)) return false;
      SkipSpace();
      if (!Eat(':')) return false;
      SkipSpace();
      Json value;
      if (!Value(value, depth + 1)) return false;
      out.members.emplace_back(std::move(key), std::move(value));
      SkipSpace();
      if (Eat('}')) return true;
      if (!Eat(',')) return false;
    }
  }

  bool Array(Json& out, int depth) {
    out.kind = Json::Kind::kArray;
    ++pos_;
    SkipSpace();
    if (Eat(']')) return true;
    while (true) {
      SkipSpace();
      Json item;
      if (!Value(item, depth + 1)) return false;
      out.items.push_back(std::move(item));
      SkipSpace();
      if (Eat(']')) return true;
      if (!Eat(',')) return false;
    }
  }

  bool String(std::string& out) {
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;  // raw control characters
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) return false;
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return false;
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            const char h = s_[pos_++];
            code <<= 4;
            if (h >= '0' && h <= '9') {
              code |= static_cast<unsigned>(h - '0');
            } else if (h >= 'a' && h <= 'f') {
              code |= static_cast<unsigned>(h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
              code |= static_cast<unsigned>(h - 'A' + 10);
            } else {
              return false;
            }
          }
          if (code < 0x80) {
            out += static_cast<char>(code);
          } else if (code < 0x800) {
            out += static_cast<char>(0xc0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3f));
          } else {
            out += static_cast<char>(0xe0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (code & 0x3f));
          }
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  bool Number(std::string& out) {
    const std::size_t begin = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    Eat('-');
    if (Eat('0')) {
      // no leading zeros
    } else if (digits() == 0) {
      return false;
    }
    if (Eat('.') && digits() == 0) return false;
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (!Eat('+')) Eat('-');
      if (digits() == 0) return false;
    }
    out.assign(s_.substr(begin, pos_ - begin));
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A non-negative JSON integer literal.
std::optional<std::int64_t> AsCount(const Json& v) {
  if (v.kind != Json::Kind::kNumber || !IsDigits(v.text) || v.text.size() > 15) return std::nullopt;
  return std::stoll(v.text);
}

// A non-negative decimal with at most `max_decimals` decimals, in units of 10^-max_decimals.
std::optional<std::int64_t> AsDecimal(const Json& v, std::size_t max_decimals) {
  if (v.kind != Json::Kind::kNumber) return std::nullopt;
  const std::string_view t = v.text;
  const std::size_t dot = t.find('.');
  const std::string_view whole = t.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : t.substr(dot + 1);
  if (!IsDigits(whole) || fraction.size() > max_decimals ||
      (!fraction.empty() && !IsDigits(fraction))) {
    return std::nullopt;
  }
  std::int64_t units = std::stoll(std::string(whole));
  for (std::size_t i = 0; i < max_decimals; ++i) {
    units = units * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  }
  return units;
}

// Exactly the documented form, 2026-11-28T14:03:05.123Z.
std::optional<base::TimePoint> ParseIso(std::string_view s) {
  if (s.size() != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != '.' || s[23] != 'Z') {
    return std::nullopt;
  }
  for (const std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  const auto num = [&](std::size_t pos, std::size_t len) {
    return std::stoi(std::string(s.substr(pos, len)));
  };
  const std::chrono::year_month_day ymd{std::chrono::year{num(0, 4)},
                                        std::chrono::month{static_cast<unsigned>(num(5, 2))},
                                        std::chrono::day{static_cast<unsigned>(num(8, 2))}};
  if (!ymd.ok() || num(11, 2) > 23 || num(14, 2) > 59 || num(17, 2) > 59) return std::nullopt;
  return std::chrono::sys_days{ymd} + std::chrono::hours{num(11, 2)} +
         std::chrono::minutes{num(14, 2)} + std::chrono::seconds{num(17, 2)} +
         std::chrono::milliseconds{num(20, 3)};
}

enum class Problem {
  kNone,
  kNotJson,
  kBadEnvelope,
  kUnknownType,
  kMissingUserId,
  kMissingField,
  kWrongFieldType,
  kBadTimestamp,
};

enum class Field { kUserId, kText, kPlan, kCount, kMoney, kCost, kCurrency, kReason };

struct FieldSpec {
  std::string_view key;
  Field kind;
};

// The documented data fields of each type, timestamp aside.
std::vector<FieldSpec> RequiredFields(EventType type) {
  switch (type) {
    case EventType::kUserSignup:
      return {{"email", Field::kText}, {"planTier", Field::kPlan}};
    case EventType::kUserSignin:
      return {{"ip", Field::kText}};
    case EventType::kUserSignout:
      return {};
    case EventType::kUserPlanUpgrade:
    case EventType::kUserPlanDowngrade:
      return {{"fromPlan", Field::kPlan}, {"toPlan", Field::kPlan}};
    case EventType::kChatMessageSent:
      return {{"conversationId", Field::kText}, {"provider", Field::kText},
              {"model", Field::kText},          {"tokens", Field::kCount},
              {"inputTokens", Field::kCount},   {"outputTokens", Field::kCount},
              {"latencyMs", Field::kCount},     {"sessionId", Field::kText}};
    case EventType::kChatConversationCreated:
      return {{"conversationId", Field::kText}, {"title", Field::kText}};
    case EventType::kChatConversationDeleted:
      return {{"conversationId", Field::kText}};
    case EventType::kBillingPaymentSuccess:
      return {{"amount", Field::kMoney}, {"currency", Field::kCurrency}, {"planId", Field::kPlan}};
    case EventType::kBillingPaymentFailed:
      return {
          {"amount", Field::kMoney}, {"currency", Field::kCurrency}, {"reason", Field::kReason}};
    case EventType::kBillingSubscriptionCreated:
      return {{"planId", Field::kPlan}, {"stripeSubscriptionId", Field::kText}};
    case EventType::kBillingSubscriptionCancelled:
      return {{"planId", Field::kPlan}};
  }
  return {};
}

bool HasKind(const Json& v, Field kind) {
  const auto is_one_of = [&](std::initializer_list<std::string_view> names) {
    return v.kind == Json::Kind::kString &&
           std::find(names.begin(), names.end(), v.text) != names.end();
  };
  switch (kind) {
    case Field::kUserId:
      return v.kind == Json::Kind::kString && v.text.starts_with("user_") && v.text.size() >= 11 &&
             IsDigits(std::string_view(v.text).substr(5));
    case Field::kText:
      return v.kind == Json::Kind::kString && !v.text.empty();
    case Field::kPlan:
      return is_one_of({"free", "pro", "team"});
    case Field::kCount:
      return AsCount(v).has_value();
    case Field::kMoney:
      return AsDecimal(v, 2).value_or(0) > 0;
    case Field::kCost:
      return AsDecimal(v, 9).value_or(0) > 0;
    case Field::kCurrency:
      return is_one_of({"USD", "EUR", "GBP"});
    case Field::kReason:
      return is_one_of({"card_declined", "insufficient_funds", "expired_card"});
  }
  return false;
}

/// One event read back from its JSON line.
struct Parsed {
  EventType type = EventType::kUserSignup;
  std::optional<std::string> id;
  std::string user;
  base::TimePoint timestamp{};
  bool epoch_millis = false;
  Json data;

  const std::string& Text(std::string_view key) const { return data.Find(key)->text; }
  std::int64_t Count(std::string_view key) const { return *AsCount(*data.Find(key)); }
};

/// Checks a line against the documented wire format; on success fills `out`.
Problem Check(std::string_view line, const Scenario& scenario, Parsed& out) {
  const std::optional<Json> root = JsonParser::Parse(line);
  if (!root) return Problem::kNotJson;
  if (root->kind != Json::Kind::kObject) return Problem::kBadEnvelope;
  for (const auto& [key, value] : root->members) {
    if (key != "id" && key != "type" && key != "data") return Problem::kBadEnvelope;
  }
  if (const Json* id = root->Find("id")) {
    if (id->kind != Json::Kind::kString || id->text.empty()) return Problem::kBadEnvelope;
    out.id = id->text;
  }
  const Json* type = root->Find("type");
  const Json* data = root->Find("data");
  if (type == nullptr || type->kind != Json::Kind::kString || data == nullptr ||
      data->kind != Json::Kind::kObject) {
    return Problem::kBadEnvelope;
  }
  const std::optional<EventType> parsed_type = domain::ParseEventType(type->text);
  if (!parsed_type) return Problem::kUnknownType;
  out.type = *parsed_type;

  const Json* user = data->Find("userId");
  if (user == nullptr) return Problem::kMissingUserId;
  if (!HasKind(*user, Field::kUserId)) return Problem::kWrongFieldType;
  out.user = user->text;

  std::set<std::string_view> expected = {"userId", "timestamp"};
  for (const FieldSpec& f : RequiredFields(out.type)) {
    const Json* v = data->Find(f.key);
    if (v == nullptr) return Problem::kMissingField;
    if (!HasKind(*v, f.kind)) return Problem::kWrongFieldType;
    expected.insert(f.key);
  }
  if (out.type == EventType::kChatMessageSent) {
    expected.insert("costUsd");
    if (const Json* cost = data->Find("costUsd");
        cost != nullptr && !HasKind(*cost, Field::kCost)) {
      return Problem::kWrongFieldType;
    }
  }
  for (const auto& [key, value] : data->members) {
    if (!expected.contains(key)) return Problem::kBadEnvelope;
  }

  const Json* ts = data->Find("timestamp");
  if (ts == nullptr) return Problem::kMissingField;
  if (ts->kind == Json::Kind::kString) {
    const auto t = ParseIso(ts->text);
    if (!t) return Problem::kBadTimestamp;
    out.timestamp = *t;
  } else if (const auto ms = AsCount(*ts)) {
    out.timestamp = base::TimePoint(std::chrono::milliseconds(*ms));
    out.epoch_millis = true;
  } else {
    return Problem::kBadTimestamp;
  }
  if (out.timestamp < scenario.start || out.timestamp >= scenario.end)
    return Problem::kBadTimestamp;
  out.data = *data;
  return Problem::kNone;
}

const base::TimePoint kStart = std::chrono::sys_days{std::chrono::year{2026} / 7 / 1};

Scenario MakeScenario(std::uint64_t seed, int users, std::chrono::days days) {
  Scenario s;
  s.seed = seed;
  s.users = users;
  s.start = kStart;
  s.end = kStart + days;
  return s;
}

std::vector<GeneratedEvent> GenerateAll(const Scenario& scenario) {
  std::vector<GeneratedEvent> out;
  const std::uint64_t n =
      Generator(scenario).Generate([&](GeneratedEvent&& e) { out.push_back(std::move(e)); });
  EXPECT_EQ(n, out.size());
  return out;
}

/// A run and its events read back, shared by the tests that only read it.
struct Corpus {
  Scenario scenario;
  std::vector<GeneratedEvent> events;
  std::vector<Parsed> parsed;

  explicit Corpus(Scenario s) : scenario(std::move(s)), events(GenerateAll(scenario)) {
    parsed.resize(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      const Problem p = Check(events[i].json, scenario, parsed[i]);
      if (p != Problem::kNone) {
        ADD_FAILURE() << "problem " << static_cast<int>(p) << ": " << events[i].json;
      }
    }
  }
};

/// 400 users over 120 days, without noise.
const Corpus& Clean() {
  static const Corpus corpus(MakeScenario(7, 400, std::chrono::days(120)));
  return corpus;
}

/// Many users over a year with little chat, for the rarer billing events.
const Corpus& Billing() {
  static const Corpus corpus = [] {
    Scenario s = MakeScenario(8, 3000, std::chrono::days(365));
    s.events_per_user_month = 5;
    return Corpus(s);
  }();
  return corpus;
}

/// Same users with every kind of noise switched on.
struct NoisyRun {
  Scenario scenario = [] {
    Scenario s = MakeScenario(7, 400, std::chrono::days(120));
    s.duplicate_rate = 0.1;
    s.invalid_rate = 0.1;
    return s;
  }();
  std::vector<GeneratedEvent> events = GenerateAll(scenario);
};

const NoisyRun& Noisy() {
  static const NoisyRun run;
  return run;
}

/// Events grouped per user, in emission order.
std::map<std::string, std::vector<const Parsed*>> ByUser(const std::vector<Parsed>& events) {
  std::map<std::string, std::vector<const Parsed*>> out;
  for (const Parsed& e : events) out[e.user].push_back(&e);
  return out;
}

// Lower-case 8-4-4-4-12 hex with version 4 and the RFC 4122 variant, as docs/events.md asks.
bool IsUuidV4(std::string_view id) {
  if (id.size() != 36 || id[14] != '4' ||
      std::string_view("89ab").find(id[19]) == std::string_view::npos) {
    return false;
  }
  for (std::size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const bool hex = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (dash ? id[i] != '-' : !hex) return false;
  }
  return true;
}

int PlanRank(std::string_view plan) { return plan == "free" ? 0 : plan == "pro" ? 1 : 2; }

TEST(GeneratorDeterminism, SameScenarioGivesSameBytes) {
  Scenario s = MakeScenario(11, 60, std::chrono::days(45));
  s.duplicate_rate = 0.05;
  s.invalid_rate = 0.05;
  const auto a = GenerateAll(s);
  const auto b = GenerateAll(s);
  ASSERT_GT(a.size(), 1000u);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].json, b[i].json) << "at " << i;
    ASSERT_EQ(a[i].valid, b[i].valid);
    ASSERT_EQ(a[i].duplicate, b[i].duplicate);
    ASSERT_EQ(a[i].type, b[i].type);
  }
}

TEST(GeneratorDeterminism, OtherSeedGivesOtherSimulation) {
  // Without ids, so that a difference cannot come from the id key alone.
  Scenario s = MakeScenario(11, 60, std::chrono::days(45));
  s.with_ids = false;
  const auto a = GenerateAll(s);
  s.seed = 12;
  const auto b = GenerateAll(s);
  std::set<std::string> lines_a;
  for (const auto& e : a) lines_a.insert(e.json);
  std::size_t shared = 0;
  for (const auto& e : b) shared += lines_a.contains(e.json) ? 1 : 0;
  EXPECT_LT(shared, b.size() / 100) << "seed 12 repeats seed 11's events";
}

TEST(GeneratorShape, EveryValidEventHasTheDocumentedShape) {
  const Corpus& run = Clean();
  ASSERT_GT(run.events.size(), 20000u);
  std::array<std::uint64_t, domain::kEventTypeCount> seen{};
  for (std::size_t i = 0; i < run.events.size(); ++i) {
    const GeneratedEvent& e = run.events[i];
    const Parsed& p = run.parsed[i];
    EXPECT_TRUE(e.valid);
    EXPECT_EQ(e.type, p.type) << e.json;
    EXPECT_EQ(e.timestamp, p.timestamp) << e.json;
    EXPECT_EQ(e.json.find('\n'), std::string::npos);
    ASSERT_TRUE(p.id.has_value()) << e.json;
    EXPECT_TRUE(IsUuidV4(*p.id)) << e.json;
    EXPECT_TRUE(e.json.starts_with(R"({"id":")")) << e.json;
    EXPECT_NE(e.json.find(R"("type":")" + std::string(domain::EventTypeName(e.type)) + "\""),
              std::string::npos);
    ++seen[static_cast<std::size_t>(p.type)];
  }
  for (std::size_t t = 0; t < seen.size(); ++t) {
    EXPECT_GT(seen[t], 0u) << domain::EventTypeName(static_cast<EventType>(t)) << " never seen";
  }
}

TEST(GeneratorShape, IdsOfUserContentAndPeopleFollowTheConventions) {
  for (const Parsed& p : Clean().parsed) {
    const std::string number = p.user.substr(5);
    if (p.type == EventType::kUserSignup) {
      EXPECT_EQ(p.Text("email"), "user" + std::to_string(std::stoull(number)) + "@example.com");
    }
    if (const Json* conv = p.data.Find("conversationId")) {
      EXPECT_TRUE(conv->text.starts_with("conv_" + number + "_")) << conv->text;
    }
    if (const Json* session = p.data.Find("sessionId")) {
      EXPECT_TRUE(session->text.starts_with("sess_" + number + "_")) << session->text;
    }
    if (p.type == EventType::kBillingSubscriptionCreated) {
      EXPECT_TRUE(p.Text("stripeSubscriptionId").starts_with("sub_"));
    }
    if (p.type == EventType::kUserSignin) {
      const std::string& ip = p.Text("ip");
      int parts = 0;
      std::size_t from = 0;
      while (from <= ip.size()) {
        const std::size_t dot = std::min(ip.find('.', from), ip.size());
        const std::string part = ip.substr(from, dot - from);
        ASSERT_TRUE(IsDigits(part) && part.size() <= 3 && std::stoi(part) <= 255) << ip;
        ++parts;
        from = dot + 1;
      }
      EXPECT_EQ(parts, 4) << ip;
      EXPECT_NE(ip.substr(0, 3), "10.");
      EXPECT_FALSE(ip.starts_with("127.") || ip.starts_with("192.168."));
    }
  }
}

TEST(GeneratorShape, TimestampsLieInThePeriodAndIncreasePerUser) {
  const Corpus& run = Clean();
  std::uint64_t epoch = 0;
  base::TimePoint first = run.scenario.end;
  base::TimePoint last = run.scenario.start;
  for (const auto& [user, events] : ByUser(run.parsed)) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      ASSERT_GE(events[i]->timestamp, run.scenario.start);
      ASSERT_LT(events[i]->timestamp, run.scenario.end);
      if (i > 0) {
        ASSERT_GT(events[i]->timestamp, events[i - 1]->timestamp) << user;
      }
    }
    first = std::min(first, events.front()->timestamp);
    last = std::max(last, events.back()->timestamp);
  }
  for (const Parsed& p : run.parsed) epoch += p.epoch_millis ? 1 : 0;
  // The period is used from end to end, and about a tenth of timestamps are epoch milliseconds.
  EXPECT_LT(first, run.scenario.start + std::chrono::days(2));
  EXPECT_GT(last, run.scenario.end - std::chrono::days(1));
  const double epoch_share = static_cast<double>(epoch) / static_cast<double>(run.parsed.size());
  EXPECT_GT(epoch_share, 0.07);
  EXPECT_LT(epoch_share, 0.13);
}

TEST(GeneratorShape, UsersComeOneAfterAnotherInSignupOrder) {
  const Corpus& run = Clean();
  std::vector<std::string> order;
  for (const Parsed& p : run.parsed) {
    if (order.empty() || order.back() != p.user) {
      order.push_back(p.user);
      EXPECT_EQ(p.type, EventType::kUserSignup) << "a user's first event is the signup";
    }
  }
  EXPECT_EQ(order.size(), 400u) << "a user's events are contiguous";
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(order.front(), "user_000001");
  // Signups grow over the period: the second half sees more of them than the first.
  const auto middle = run.scenario.start + (run.scenario.end - run.scenario.start) / 2;
  int late = 0;
  for (const Parsed& p : run.parsed) {
    if (p.type == EventType::kUserSignup && p.timestamp >= middle) ++late;
  }
  EXPECT_GT(late, 220);
}

TEST(GeneratorShape, ShortPeriodKeepsEverythingInside) {
  Scenario s = MakeScenario(3, 200, std::chrono::days(0));
  s.end = s.start + std::chrono::hours(1);
  const auto events = GenerateAll(s);
  ASSERT_GE(events.size(), 200u);
  for (const auto& e : events) {
    Parsed p;
    ASSERT_EQ(Check(e.json, s, p), Problem::kNone) << e.json;
  }
}

TEST(GeneratorShape, UserContentIsEscaped) {
  std::set<std::string> titles;
  for (const Parsed& p : Clean().parsed) {
    if (p.type == EventType::kChatConversationCreated) titles.insert(p.Text("title"));
  }
  const auto any = [&](auto pred) { return std::any_of(titles.begin(), titles.end(), pred); };
  // The parser above undid the escaping: these characters made it through intact.
  EXPECT_TRUE(any([](const std::string& t) { return t.find('"') != std::string::npos; }));
  EXPECT_TRUE(any([](const std::string& t) { return t.find('\\') != std::string::npos; }));
  EXPECT_TRUE(any([](const std::string& t) { return t.find('\t') != std::string::npos; }));
  EXPECT_TRUE(any([](const std::string& t) { return t.find("\xc3\xa9") != std::string::npos; }));
  EXPECT_TRUE(titles.contains("New chat"));
}

TEST(GeneratorNoise, DuplicatesAreExactCopiesOfTheEventBefore) {
  const NoisyRun& run = Noisy();
  std::uint64_t duplicates = 0;
  std::uint64_t originals = 0;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < run.events.size(); ++i) {
    const GeneratedEvent& e = run.events[i];
    if (!e.duplicate) {
      if (e.valid) {
        ++originals;
        Parsed p;
        ASSERT_EQ(Check(e.json, run.scenario, p), Problem::kNone);
        EXPECT_TRUE(ids.insert(*p.id).second) << "id reused by distinct events: " << *p.id;
      }
      continue;
    }
    ++duplicates;
    ASSERT_GT(i, 0u);
    EXPECT_TRUE(e.valid);
    EXPECT_EQ(e.json, run.events[i - 1].json);
    EXPECT_FALSE(run.events[i - 1].duplicate);
    EXPECT_EQ(e.type, run.events[i - 1].type);
    EXPECT_EQ(e.timestamp, run.events[i - 1].timestamp);
  }
  const double rate = static_cast<double>(duplicates) / static_cast<double>(originals);
  EXPECT_GT(rate, 0.08);
  EXPECT_LT(rate, 0.12);
}

TEST(GeneratorNoise, InvalidEventsAreFlaggedAndMalformedInEveryWay) {
  const NoisyRun& run = Noisy();
  std::map<Problem, std::uint64_t> problems;
  std::uint64_t valid = 0;
  std::uint64_t invalid = 0;
  for (const GeneratedEvent& e : run.events) {
    Parsed p;
    const Problem problem = Check(e.json, run.scenario, p);
    if (e.valid) {
      ++valid;
      EXPECT_EQ(problem, Problem::kNone) << e.json;
    } else {
      ++invalid;
      EXPECT_FALSE(e.duplicate);
      EXPECT_NE(problem, Problem::kNone) << "flagged invalid but well-formed: " << e.json;
      ++problems[problem];
    }
  }
  for (const Problem p : {Problem::kNotJson, Problem::kUnknownType, Problem::kMissingUserId,
                          Problem::kBadTimestamp, Problem::kWrongFieldType}) {
    EXPECT_GT(problems[p], 50u) << "kind " << static_cast<int>(p) << " missing";
  }
  const double rate = static_cast<double>(invalid) / static_cast<double>(valid);
  EXPECT_GT(rate, 0.07);  // per valid event, duplicates included in the denominator
  EXPECT_LT(rate, 0.11);
}

TEST(GeneratorNoise, ValidEventsDoNotDependOnTheNoiseRates) {
  std::vector<std::string> noisy;
  for (const GeneratedEvent& e : Noisy().events) {
    if (e.valid && !e.duplicate) noisy.push_back(e.json);
  }
  std::vector<std::string> clean;
  for (const GeneratedEvent& e : Clean().events) clean.push_back(e.json);
  EXPECT_EQ(noisy, clean);
}

TEST(GeneratorLimits, MaxEventsGivesAPrefixOfTheFullOutput) {
  Scenario s = MakeScenario(5, 30, std::chrono::days(30));
  s.duplicate_rate = 0.2;
  s.invalid_rate = 0.2;
  const auto full = GenerateAll(s);
  ASSERT_GT(full.size(), 1000u);
  for (const std::uint64_t limit : std::vector<std::uint64_t>{1, 2, 777, full.size()}) {
    s.max_events = limit;
    const auto part = GenerateAll(s);
    ASSERT_EQ(part.size(), limit);
    for (std::size_t i = 0; i < part.size(); ++i) ASSERT_EQ(part[i].json, full[i].json);
  }
  s.max_events = full.size() + 10;
  EXPECT_EQ(Generator(s).Generate([](GeneratedEvent&&) {}), full.size());
}

TEST(GeneratorLimits, EmptyPeriodOrNoUsersGivesNothing) {
  Scenario s = MakeScenario(5, 10, std::chrono::days(0));
  EXPECT_EQ(Generator(s).Generate([](GeneratedEvent&&) { FAIL(); }), 0u);
  s = MakeScenario(5, 0, std::chrono::days(10));
  EXPECT_EQ(Generator(s).Generate([](GeneratedEvent&&) { FAIL(); }), 0u);
  s = MakeScenario(5, 10, std::chrono::days(10));
  std::swap(s.start, s.end);
  EXPECT_EQ(Generator(s).Generate([](GeneratedEvent&&) { FAIL(); }), 0u);
}

TEST(GeneratorIds, WithoutIdsNoEventCarriesOne) {
  Scenario s = MakeScenario(9, 40, std::chrono::days(30));
  s.with_ids = false;
  s.invalid_rate = 0.2;
  s.duplicate_rate = 0.1;
  std::uint64_t checked = 0;
  for (const GeneratedEvent& e : GenerateAll(s)) {
    if (const auto root = JsonParser::Parse(e.json)) {
      EXPECT_EQ(root->Find("id"), nullptr) << e.json;
      ++checked;
    }
    EXPECT_EQ(e.json.find(R"("id")"), std::string::npos) << e.json;
    EXPECT_TRUE(e.json.starts_with(R"({"type":")") || !e.valid) << e.json;
  }
  EXPECT_GT(checked, 1000u);
}

TEST(GeneratorIds, DisjointUserRangesDoNotCollide) {
  Scenario a = MakeScenario(9, 20, std::chrono::days(20));
  Scenario b = a;
  b.first_user_number = 21;
  std::set<std::string> ids_a;
  std::set<std::string> users_a;
  for (const auto& e : GenerateAll(a)) {
    Parsed p;
    ASSERT_EQ(Check(e.json, a, p), Problem::kNone);
    ids_a.insert(*p.id);
    users_a.insert(p.user);
  }
  EXPECT_TRUE(users_a.contains("user_000020"));
  for (const auto& e : GenerateAll(b)) {
    Parsed p;
    ASSERT_EQ(Check(e.json, b, p), Problem::kNone);
    EXPECT_FALSE(ids_a.contains(*p.id));
    EXPECT_FALSE(users_a.contains(p.user)) << p.user;
  }
}

TEST(GeneratorBilling, PaymentsOnlyForPayingUsers) {
  std::uint64_t payments = 0;
  for (const auto& [user, events] : ByUser(Billing().parsed)) {
    std::string plan;
    bool subscribed = false;
    for (const Parsed* e : events) {
      switch (e->type) {
        case EventType::kUserSignup:
          plan = e->Text("planTier");
          break;
        case EventType::kUserPlanUpgrade:
        case EventType::kUserPlanDowngrade:
          ASSERT_EQ(e->Text("fromPlan"), plan) << user;
          plan = e->Text("toPlan");
          // Leaving free starts a subscription; returning to free follows its cancellation; a
          // change between paid plans keeps it.
          if (e->Text("fromPlan") == "free") {
            EXPECT_FALSE(subscribed) << user;
          } else {
            EXPECT_EQ(subscribed, plan != "free") << user;
          }
          break;
        case EventType::kBillingSubscriptionCreated:
          ASSERT_FALSE(subscribed) << user << " subscribed twice";
          ASSERT_EQ(e->Text("planId"), plan) << user;
          subscribed = true;
          break;
        case EventType::kBillingSubscriptionCancelled:
          subscribed = false;
          break;
        case EventType::kBillingPaymentSuccess:
          ++payments;
          ASSERT_TRUE(subscribed) << user << " paid without a subscription";
          ASSERT_NE(plan, "free") << user;
          ASSERT_EQ(e->Text("planId"), plan) << user;
          break;
        case EventType::kBillingPaymentFailed:
          ASSERT_TRUE(subscribed) << user << " was charged without a subscription";
          ASSERT_NE(plan, "free") << user;
          break;
        default:
          break;
      }
    }
  }
  EXPECT_GT(payments, 3000u);
}

TEST(GeneratorBilling, CancellationsFollowCreationsOfTheSameUser) {
  std::uint64_t cancellations = 0;
  std::uint64_t reactivations = 0;
  for (const auto& [user, events] : ByUser(Billing().parsed)) {
    int open = 0;
    int created = 0;
    for (const Parsed* e : events) {
      if (e->type == EventType::kBillingSubscriptionCreated) {
        ++open;
        if (++created > 1) ++reactivations;
      }
      if (e->type == EventType::kBillingSubscriptionCancelled) {
        ASSERT_EQ(open, 1) << user << " cancelled a subscription never created";
        --open;
        ++cancellations;
      }
    }
  }
  EXPECT_GT(cancellations, 100u);
  EXPECT_GT(reactivations, 5u);
}

TEST(GeneratorBilling, FailedPaymentsEndInARetrySuccessOrACancellation) {
  const Corpus& run = Billing();
  std::uint64_t failures = 0;
  std::uint64_t recovered = 0;
  std::uint64_t churned = 0;
  for (const auto& [user, events] : ByUser(run.parsed)) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (events[i]->type != EventType::kBillingPaymentFailed) continue;
      ++failures;
      const Parsed* next = nullptr;
      for (std::size_t j = i + 1; j < events.size() && next == nullptr; ++j) {
        const EventType t = events[j]->type;
        if (t == EventType::kBillingPaymentFailed || t == EventType::kBillingPaymentSuccess ||
            t == EventType::kBillingSubscriptionCancelled) {
          next = events[j];
        }
      }
      if (next == nullptr) {
        // Only the end of the period may cut a dunning short.
        EXPECT_GT(events[i]->timestamp, run.scenario.end - std::chrono::days(10)) << user;
        continue;
      }
      EXPECT_LE(next->timestamp - events[i]->timestamp, std::chrono::days(10)) << user;
      recovered += next->type == EventType::kBillingPaymentSuccess ? 1 : 0;
      churned += next->type == EventType::kBillingSubscriptionCancelled ? 1 : 0;
    }
  }
  EXPECT_GT(failures, 100u);
  EXPECT_GT(recovered, 10u);
  EXPECT_GT(churned, 5u);
}

TEST(GeneratorBilling, PlansPricesAndCurrenciesAreRealistic) {
  const Corpus& run = Billing();
  std::map<std::string, int> tiers;
  std::map<std::string, int> currencies;
  int upgrades = 0;
  int downgrades = 0;
  std::set<std::int64_t> pro_usd_amounts;
  for (const Parsed& p : run.parsed) {
    if (p.type == EventType::kUserSignup) ++tiers[p.Text("planTier")];
    if (p.type == EventType::kUserPlanUpgrade) {
      ++upgrades;
      EXPECT_GT(PlanRank(p.Text("toPlan")), PlanRank(p.Text("fromPlan")));
    }
    if (p.type == EventType::kUserPlanDowngrade) {
      ++downgrades;
      EXPECT_LT(PlanRank(p.Text("toPlan")), PlanRank(p.Text("fromPlan")));
    }
    if (p.type == EventType::kBillingPaymentSuccess) {
      ++currencies[p.Text("currency")];
      const std::int64_t cents = *AsDecimal(*p.data.Find("amount"), 2);
      EXPECT_LE(cents, 500'00) << "more than ten team seats";
      if (p.Text("planId") == "pro" && p.Text("currency") == "USD") pro_usd_amounts.insert(cents);
    }
  }
  EXPECT_NEAR(tiers["free"] / 3000.0, 0.70, 0.03);
  EXPECT_NEAR(tiers["pro"] / 3000.0, 0.22, 0.03);
  EXPECT_NEAR(tiers["team"] / 3000.0, 0.08, 0.02);
  EXPECT_GT(upgrades, downgrades);
  EXPECT_GT(downgrades, 0);
  EXPECT_TRUE(pro_usd_amounts.contains(20'00));
  const int payments = currencies["USD"] + currencies["EUR"] + currencies["GBP"];
  EXPECT_GT(currencies["USD"], payments / 2);
  EXPECT_GT(currencies["EUR"], 0);
  EXPECT_GT(currencies["GBP"], 0);
}

TEST(GeneratorChat, EveryMessageHasTokensThatAddUp) {
  std::uint64_t messages = 0;
  std::uint64_t with_cost = 0;
  for (const Parsed& p : Clean().parsed) {
    if (p.type != EventType::kChatMessageSent) continue;
    ++messages;
    const std::int64_t input = p.Count("inputTokens");
    const std::int64_t output = p.Count("outputTokens");
    ASSERT_EQ(p.Count("tokens"), input + output) << p.Text("conversationId");
    EXPECT_GE(input, 50);
    EXPECT_LE(input, 4000);
    EXPECT_GE(output, 20);
    EXPECT_LE(output, 2000);
    EXPECT_GE(p.Count("latencyMs"), 100);
    EXPECT_LE(p.Count("latencyMs"), 25'000);
    if (const Json* cost = p.data.Find("costUsd")) {
      ++with_cost;
      // Between $0.05 and $20 per million tokens: the range of the models offered.
      const double usd = static_cast<double>(*AsDecimal(*cost, 9)) * 1e-9;
      const double per_million = usd / static_cast<double>(input + output) * 1e6;
      EXPECT_GT(per_million, 0.05);
      EXPECT_LT(per_million, 20.0);
    }
  }
  ASSERT_GT(messages, 10000u);
  const double share = static_cast<double>(with_cost) / static_cast<double>(messages);
  EXPECT_NEAR(share, 0.30, 0.03);
}

TEST(GeneratorChat, ModelsAreSkewedAndMatchTheirProviders) {
  const std::map<std::string, std::string> provider_of = {{"gpt-4o", "openai"},
                                                          {"gpt-4o-mini", "openai"},
                                                          {"o3-mini", "openai"},
                                                          {"claude-sonnet-4", "anthropic"},
                                                          {"claude-haiku-3.5", "anthropic"},
                                                          {"gemini-2.0-flash", "google"},
                                                          {"gemini-1.5-pro", "google"},
                                                          {"mistral-large", "mistral"}};
  std::map<std::string, int> uses;
  int messages = 0;
  for (const Parsed& p : Clean().parsed) {
    if (p.type != EventType::kChatMessageSent) continue;
    ++messages;
    const std::string& model = p.Text("model");
    ASSERT_TRUE(provider_of.contains(model)) << model;
    EXPECT_EQ(p.Text("provider"), provider_of.at(model));
    ++uses[model];
  }
  EXPECT_EQ(uses.size(), provider_of.size());
  const int openai = uses["gpt-4o"] + uses["gpt-4o-mini"] + uses["o3-mini"];
  EXPECT_GT(openai, messages * 4 / 10) << "OpenAI leads";
  EXPECT_LT(uses["mistral-large"], messages / 10) << "Mistral is niche";
  for (const auto& [model, n] : uses) EXPECT_GT(n, messages / 100) << model;
}

TEST(GeneratorChat, ConversationsAreCreatedBeforeUseAndNotUsedAfterDeletion) {
  std::uint64_t deletions = 0;
  for (const auto& [user, events] : ByUser(Clean().parsed)) {
    std::set<std::string> live;
    std::set<std::string> deleted;
    for (const Parsed* e : events) {
      if (e->type == EventType::kChatConversationCreated) {
        EXPECT_TRUE(live.insert(e->Text("conversationId")).second);
      } else if (e->type == EventType::kChatMessageSent) {
        EXPECT_TRUE(live.contains(e->Text("conversationId"))) << e->Text("conversationId");
      } else if (e->type == EventType::kChatConversationDeleted) {
        const std::string& conv = e->Text("conversationId");
        EXPECT_EQ(live.erase(conv), 1u) << conv;
        EXPECT_TRUE(deleted.insert(conv).second);
        ++deletions;
      }
    }
  }
  EXPECT_GT(deletions, 100u);
}

TEST(GeneratorChat, SessionsAreBurstsOfMessages) {
  std::map<std::string, std::pair<base::TimePoint, base::TimePoint>> sessions;
  std::vector<std::chrono::milliseconds> gaps;
  for (const auto& [user, events] : ByUser(Clean().parsed)) {
    const Parsed* previous = nullptr;
    for (const Parsed* e : events) {
      if (e->type != EventType::kChatMessageSent) continue;
      auto [it, fresh] = sessions.try_emplace(e->Text("sessionId"), e->timestamp, e->timestamp);
      if (!fresh) {
        EXPECT_LE(e->timestamp - it->second.second, std::chrono::minutes(12))
            << e->Text("sessionId");
        it->second.second = e->timestamp;
      }
      if (previous != nullptr && previous->Text("sessionId") != e->Text("sessionId")) {
        gaps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(e->timestamp -
                                                                             previous->timestamp));
      }
      previous = e;
    }
  }
  ASSERT_GT(sessions.size(), 1000u);
  // Sessions are apart by hours, not seconds.
  std::sort(gaps.begin(), gaps.end());
  EXPECT_GE(gaps[gaps.size() / 10], std::chrono::minutes(50));
  const double messages_per_session =
      static_cast<double>(
          std::count_if(Clean().parsed.begin(), Clean().parsed.end(),
                        [](const Parsed& p) { return p.type == EventType::kChatMessageSent; })) /
      static_cast<double>(sessions.size());
  EXPECT_GT(messages_per_session, 3.0);
  EXPECT_LT(messages_per_session, 12.0);
}

TEST(GeneratorVolume, DefaultsGiveHundredsOfEventsPerUserMonth) {
  const Corpus& run = Clean();
  double user_months = 0;
  for (const Parsed& p : run.parsed) {
    if (p.type == EventType::kUserSignup) {
      user_months +=
          std::chrono::duration<double>(run.scenario.end - p.timestamp).count() / (30 * 86400.0);
    }
  }
  const double rate = static_cast<double>(run.parsed.size()) / user_months;
  EXPECT_GT(rate, 100.0);
  EXPECT_LT(rate, 300.0);
}

TEST(GeneratorVolume, EventsPerUserMonthScalesTheVolume) {
  Scenario s = MakeScenario(21, 100, std::chrono::days(60));
  s.events_per_user_month = 40;
  const Summary low = Summarize(s);
  s.events_per_user_month = 240;
  const Summary high = Summarize(s);
  EXPECT_GT(static_cast<double>(high.total), 3.0 * static_cast<double>(low.total));
}

TEST(GeneratorSummary, CountsWhatGenerateEmits) {
  const NoisyRun& run = Noisy();
  const Summary summary = Summarize(run.scenario);
  std::uint64_t valid = 0;
  std::uint64_t invalid = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t bytes = 0;
  std::array<std::uint64_t, domain::kEventTypeCount> by_type{};
  for (const GeneratedEvent& e : run.events) {
    (e.valid ? valid : invalid) += 1;
    duplicates += e.duplicate ? 1 : 0;
    bytes += e.json.size();
    if (e.valid && !e.duplicate) ++by_type[static_cast<std::size_t>(e.type)];
  }
  EXPECT_EQ(summary.total, run.events.size());
  EXPECT_EQ(summary.valid, valid);
  EXPECT_EQ(summary.invalid, invalid);
  EXPECT_EQ(summary.duplicates, duplicates);
  EXPECT_EQ(summary.bytes, bytes);
  EXPECT_EQ(summary.by_type, by_type);
  std::uint64_t stored = 0;
  for (const auto n : summary.by_type) stored += n;
  EXPECT_EQ(stored, summary.valid - summary.duplicates);
}

TEST(GeneratorSink, MayKeepTheEventsItIsHanded) {
  Scenario s = MakeScenario(4, 5, std::chrono::days(10));
  std::vector<std::string> kept;
  std::vector<std::string> copied;
  Generator(s).Generate([&](GeneratedEvent&& e) {
    copied.push_back(e.json);
    kept.push_back(std::move(e.json));
  });
  EXPECT_EQ(kept, copied);
  EXPECT_GT(kept.size(), 10u);
}

}  // namespace
}  // namespace loadgen
