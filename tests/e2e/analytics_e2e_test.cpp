// Black-box tests of the analytics API: every endpoint of the real binary, over real HTTP, on a
// generated data set, compared with the answers of an independent reference implementation
// (analytics_oracle.hpp) computed from the very events that were sent.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/analytics_oracle.hpp"
#include "e2e/service_process.hpp"

namespace e2e {
namespace {

namespace json = boost::json;
namespace o = oracle;
using o::EventType;

// Building events.

const date::time_zone* Zone(const std::string& name) { return date::locate_zone(name); }

o::Instant At(std::string_view iso) {
  const auto t = o::ResolveDateParam(iso, Zone("UTC"), false);
  if (!t) throw std::invalid_argument("bad instant in the test: " + std::string(iso));
  return *t;
}

/// A fluent builder for one event.
class Ev {
 public:
  Ev(EventType type, std::string id, std::string user, o::Instant when) {
    e_.type = type;
    e_.id = std::move(id);
    e_.user_id = std::move(user);
    e_.timestamp = when;
  }
  Ev(EventType type, std::string id, std::string user, std::string_view when)
      : Ev(type, std::move(id), std::move(user), At(when)) {}

  Ev& Plan(std::string plan) {
    e_.plan = std::move(plan);
    return *this;
  }
  Ev& Change(std::string from, std::string to) {
    e_.from_plan = std::move(from);
    e_.to_plan = std::move(to);
    return *this;
  }
  Ev& Conv(std::string conversation) {
    e_.conversation_id = std::move(conversation);
    return *this;
  }
  Ev& Model(std::string provider, std::string model) {
    e_.provider = std::move(provider);
    e_.model = std::move(model);
    return *this;
  }
  Ev& Tokens(std::int64_t tokens) {
    e_.tokens = tokens;
    return *this;
  }
  Ev& Split(std::int64_t in, std::int64_t out) {
    e_.input_tokens = in;
    e_.output_tokens = out;
    e_.tokens = in + out;
    return *this;
  }
  Ev& Latency(std::int64_t ms) {
    e_.latency_ms = ms;
    return *this;
  }
  Ev& Cost(std::string_view usd) {
    e_.cost_usd = o::ParseDecimal(usd, o::kCostDecimals).value();
    return *this;
  }
  Ev& Amount(std::string_view major, std::string currency) {
    e_.amount = o::ParseDecimal(major, o::kAmountDecimals).value();
    e_.currency = std::move(currency);
    return *this;
  }
  operator o::Event() const { return e_; }  // NOLINT(google-explicit-constructor): builder

 private:
  o::Event e_;
};

Ev Signup(std::string id, std::string user, std::string_view when, std::string plan) {
  return Ev(EventType::kSignup, std::move(id), std::move(user), when).Plan(std::move(plan));
}
Ev Signin(std::string id, std::string user, std::string_view when) {
  return Ev(EventType::kSignin, std::move(id), std::move(user), when);
}
Ev Message(std::string id, std::string user, std::string_view when, std::string provider,
           std::string model) {
  std::string conversation = "conv-" + user;
  return Ev(EventType::kMessageSent, std::move(id), std::move(user), when)
      .Conv(std::move(conversation))
      .Model(std::move(provider), std::move(model))
      .Tokens(100);
}
Ev Pay(std::string id, std::string user, std::string_view when, std::string_view amount,
       std::string currency, std::string plan) {
  return Ev(EventType::kPaymentSuccess, std::move(id), std::move(user), when)
      .Amount(amount, std::move(currency))
      .Plan(std::move(plan));
}
Ev Sub(EventType type, std::string id, std::string user, std::string_view when, std::string plan) {
  return Ev(type, std::move(id), std::move(user), when).Plan(std::move(plan));
}

/// The event as the platform would send it: one NDJSON line, epoch-millisecond timestamp,
/// money as decimal strings.
std::string ToJson(const o::Event& e) {
  json::object data{{"userId", e.user_id}, {"timestamp", e.timestamp.time_since_epoch().count()}};
  const bool odd = (e.id.size() + static_cast<unsigned char>(e.id.back())) % 2 == 1;
  switch (e.type) {
    case EventType::kSignup:
      data["planTier"] = e.plan;
      data["email"] = e.user_id + "@example.com";
      break;
    case EventType::kSignin:
      data["ip"] = "203.0.113.7";
      break;
    case EventType::kSignout:
      break;
    case EventType::kPlanUpgrade:
    case EventType::kPlanDowngrade:
      data["fromPlan"] = e.from_plan;
      data["toPlan"] = e.to_plan;
      break;
    case EventType::kMessageSent:
      data["conversationId"] = e.conversation_id;
      data["provider"] = e.provider;
      data["model"] = e.model;
      if (e.input_tokens) data["inputTokens"] = *e.input_tokens;
      if (e.output_tokens) data["outputTokens"] = *e.output_tokens;
      // With the split, `tokens` may be left out (the service stores the sum).
      if (!(e.input_tokens && e.output_tokens && e.tokens == *e.input_tokens + *e.output_tokens &&
            odd)) {
        data["tokens"] = e.tokens;
      }
      if (e.latency_ms) data["latencyMs"] = *e.latency_ms;
      if (e.cost_usd) data["costUsd"] = o::FormatDecimal(*e.cost_usd, o::kCostDecimals);
      break;
    case EventType::kConversationCreated:
      data["conversationId"] = e.conversation_id;
      data["title"] = "never stored";
      break;
    case EventType::kConversationDeleted:
      data["conversationId"] = e.conversation_id;
      break;
    case EventType::kPaymentSuccess:
      data["amount"] = o::FormatDecimal(e.amount, o::kAmountDecimals);
      // Currency is case-insensitive on the wire; the oracle holds it upper case.
      data["currency"] = odd && e.currency == "EUR" ? std::string("eur") : e.currency;
      data["planId"] = e.plan;
      break;
    case EventType::kPaymentFailed:
      data["amount"] = o::FormatDecimal(e.amount, o::kAmountDecimals);
      data["reason"] = "card_declined";
      if (!e.currency.empty()) data["currency"] = e.currency;
      if (!e.plan.empty()) data["planId"] = e.plan;
      break;
    case EventType::kSubscriptionCreated:
    case EventType::kSubscriptionCancelled:
      data["planId"] = e.plan;
      data["stripeSubscriptionId"] = "sub_" + e.user_id;
      break;
  }
  return json::serialize(json::object{{"id", e.id}, {"type", o::TypeName(e.type)}, {"data", data}});
}

// Configuration files.

constexpr const char* kPlanCatalog = R"({"plans": [
  {"id": "pro", "billingIntervalMonths": 1},
  {"id": "team", "billingIntervalMonths": 1},
  {"id": "team_quarterly", "billingIntervalMonths": 3},
  {"id": "pro_yearly", "billingIntervalMonths": 12}
]})";

o::PlanCatalog PlanCatalog() {
  return {{{"pro", 1}, {"team", 1}, {"team_quarterly", 3}, {"pro_yearly", 12}}};
}

// Two entries for gpt-4o (a price cut in the middle of the data), split-only and blended-only
// entries, an entry that starts inside the range (mistral), a later blended-only entry replacing a
// split one (haiku), numbers as well as strings, and a model with no entry at all (local/llama-3).
constexpr const char* kModelPrices = R"({"prices": [
  {"provider": "openai", "model": "gpt-4o", "effectiveFrom": "2024-08-06",
   "inputPerMillion": "2.50", "outputPerMillion": "10.00"},
  {"provider": "openai", "model": "gpt-4o", "effectiveFrom": "2025-03-15",
   "inputPerMillion": "2.00", "outputPerMillion": "8.00"},
  {"provider": "openai", "model": "gpt-4o-mini", "effectiveFrom": "2024-07-18",
   "inputPerMillion": "0.15", "outputPerMillion": "0.60", "blendedPerMillion": "0.30"},
  {"provider": "anthropic", "model": "claude-3-5-sonnet", "effectiveFrom": "2024-06-20",
   "inputPerMillion": "3.00", "outputPerMillion": "15.00"},
  {"provider": "anthropic", "model": "claude-3-5-haiku", "effectiveFrom": "2024-11-04",
   "inputPerMillion": "0.80", "outputPerMillion": "4.00", "blendedPerMillion": "1.60"},
  {"provider": "anthropic", "model": "claude-3-5-haiku", "effectiveFrom": "2025-04-01",
   "blendedPerMillion": "1.20"},
  {"provider": "google", "model": "gemini-1.5-pro", "effectiveFrom": "2024-05-01",
   "blendedPerMillion": 3.5},
  {"provider": "google", "model": "gemini-1.5-flash", "effectiveFrom": "2024-05-01",
   "inputPerMillion": 0.075, "outputPerMillion": 0.3},
  {"provider": "mistral", "model": "mistral-large", "effectiveFrom": "2025-04-01",
   "inputPerMillion": "2", "outputPerMillion": "6"},
  {"provider": "acme", "model": "m1", "effectiveFrom": "2024-01-01", "blendedPerMillion": "1.00"}
]})";

std::vector<o::ModelPrice> ModelPrices() {
  std::vector<o::ModelPrice> out;
  const auto file = json::parse(kModelPrices);
  for (const auto& p : file.at("prices").as_array()) {
    o::ModelPrice m;
    m.provider = std::string(p.at("provider").as_string());
    m.model = std::string(p.at("model").as_string());
    const auto from = At(std::string(p.at("effectiveFrom").as_string()) + "T00:00:00Z");
    m.effective_from = std::chrono::floor<date::days>(from);
    auto price = [&](const char* key) -> std::optional<std::int64_t> {
      const auto* v = p.as_object().if_contains(key);
      if (v == nullptr) return std::nullopt;
      // Numbers in the file are short decimals: rounding to 9 decimals gives them back exactly.
      std::string text;
      if (v->is_string()) {
        text = std::string(v->as_string());
      } else {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.9f", v->to_number<double>());
        text = buf;
      }
      return o::ParseDecimal(text, o::kCostDecimals).value();
    };
    m.input_per_million = price("inputPerMillion");
    m.output_per_million = price("outputPerMillion");
    m.blended_per_million = price("blendedPerMillion");
    out.push_back(std::move(m));
  }
  return out;
}

// Comparing answers.

enum class Kind { kExact, kInteger, kMoney, kCost, kDouble, kPercentile };

Kind KindOf(std::string_view key) {
  static const std::set<std::string_view> kMoney = {
      "revenue",         "mrr", "newMrr",  "expansionMrr", "contractionMrr", "churnedMrr",
      "reactivationMrr", "arr", "startMrr"};
  static const std::set<std::string_view> kDouble = {"share",
                                                     "rate",
                                                     "stickiness",
                                                     "avgTokensPerMessage",
                                                     "avgDurationSeconds",
                                                     "medianDurationSeconds",
                                                     "avgLatencyMs",
                                                     "customerChurnRate",
                                                     "grossMrrChurnRate",
                                                     "netMrrChurnRate"};
  if (kMoney.contains(key)) return Kind::kMoney;
  if (kDouble.contains(key)) return Kind::kDouble;
  if (key == "costUsd") return Kind::kCost;
  if (key == "p50LatencyMs" || key == "p95LatencyMs" || key == "p99LatencyMs")
    return Kind::kPercentile;
  return Kind::kInteger;
}

std::string Short(const json::value& v, std::size_t max = 600) {
  auto s = json::serialize(v);
  if (s.size() > max) s = s.substr(0, max) + "...(" + std::to_string(s.size()) + " chars)";
  return s;
}

/// Appends a line per difference; integers and strings exactly, money to the cent, costUsd to
/// 1e-6, doubles to 1e-9 relative, percentiles to 1% + 1 ms.
void Compare(const json::value& want, const json::value& got, const std::string& path, Kind kind,
             std::vector<std::string>& diffs) {
  auto differ = [&](const std::string& why) {
    diffs.push_back(path + ": want " + Short(want) + ", got " + Short(got) +
                    (why.empty() ? "" : " (" + why + ")"));
  };
  if (want.is_object()) {
    if (!got.is_object()) return differ("not an object");
    for (const auto& kv : want.as_object()) {
      const auto* g = got.as_object().if_contains(kv.key());
      const std::string child = path + "." + std::string(kv.key());
      if (g == nullptr) {
        diffs.push_back(child + ": missing (want " + Short(kv.value()) + ")");
      } else {
        Compare(kv.value(), *g, child, KindOf(kv.key()), diffs);
      }
    }
    for (const auto& kv : got.as_object()) {
      if (!want.as_object().contains(kv.key())) {
        diffs.push_back(path + "." + std::string(kv.key()) + ": unexpected field " +
                        Short(kv.value()));
      }
    }
    return;
  }
  if (want.is_array()) {
    if (!got.is_array()) return differ("not an array");
    const auto& w = want.as_array();
    const auto& g = got.as_array();
    if (w.size() != g.size()) {
      diffs.push_back(path + ": want " + std::to_string(w.size()) + " rows, got " +
                      std::to_string(g.size()));
    }
    for (std::size_t i = 0; i < std::min(w.size(), g.size()) && diffs.size() < 40; ++i) {
      Compare(w[i], g[i], path + "[" + std::to_string(i) + "]", kind, diffs);
    }
    return;
  }
  if (want.is_null()) {
    if (!got.is_null()) differ("");
    return;
  }
  if (want.is_string() || want.is_bool()) {
    if (want != got) differ("");
    return;
  }
  if (!got.is_number()) return differ("not a number");
  const double w = want.to_number<double>();
  const double g = got.to_number<double>();
  switch (kind) {
    case Kind::kExact:
    case Kind::kInteger:
      if (!got.is_int64() && !got.is_uint64()) return differ("not an integer");
      if (want.to_number<std::int64_t>() != got.to_number<std::int64_t>()) differ("");
      return;
    case Kind::kMoney: {
      const double cents = std::round(w * 100);
      if (std::round(g * 100) != cents || std::abs(g * 100 - cents) > 1e-6)
        differ("money, exact to the cent");
      return;
    }
    case Kind::kCost:
      if (std::abs(g - w) > 1.0000001e-6) differ("costUsd, to 1e-6");
      return;
    case Kind::kDouble:
      if (std::abs(g - w) > 1e-9 * std::max(std::abs(w), std::abs(g)) && std::abs(g - w) > 1e-12)
        differ("1e-9 relative");
      return;
    case Kind::kPercentile:
      if (std::abs(g - w) > 0.01 * std::abs(w) + 1.0) differ("percentile, 1% + 1 ms");
      return;
  }
}

/// What the expected answers of this process exercised: "key>0", "key<0", "key=null",
/// "share in (0,1)" style facts and "provider=(other)", so each test can assert that its data
/// set reaches the cases it is meant to check.
std::set<std::string>& Seen() {
  static std::set<std::string> seen;
  return seen;
}

void NoteCoverage(const json::value& v, const std::string& key = "") {
  if (v.is_object()) {
    for (const auto& kv : v.as_object()) NoteCoverage(kv.value(), std::string(kv.key()));
  } else if (v.is_array()) {
    for (const auto& e : v.as_array()) NoteCoverage(e, key);
  } else if (v.is_null()) {
    Seen().insert(key + "=null");
  } else if (v.is_string()) {
    if (key == "provider") Seen().insert(key + "=" + std::string(v.as_string()));
  } else if (v.is_number()) {
    const double x = v.to_number<double>();
    if (x > 0) Seen().insert(key + ">0");
    if (x < 0) Seen().insert(key + "<0");
    if (x > 0 && x < 1) Seen().insert(key + " in (0,1)");
  }
}

void ExpectCovered(std::initializer_list<const char*> facts) {
  for (const char* f : facts)
    EXPECT_TRUE(Seen().contains(f)) << "the data set never produced " << f;
}

int& Compared() {
  static int n = 0;
  return n;
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

using Params = std::vector<std::pair<std::string, std::string>>;

std::string Target(const std::string& endpoint, const Params& params) {
  std::string t = "/api/analytics/" + endpoint;
  for (std::size_t i = 0; i < params.size(); ++i) {
    t += (i == 0 ? "?" : "&") + params[i].first + "=" + UrlEncode(params[i].second);
  }
  return t;
}

std::optional<std::string> Get(const Params& params, const std::string& name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return std::nullopt;
}

/// The oracle query for a request; every comparison request names both dates.
o::Query ToQuery(const std::string& endpoint, const Params& params) {
  o::Query q;
  q.endpoint = endpoint;
  q.zone = Zone(Get(params, "tz").value_or("UTC"));
  const auto g = Get(params, "granularity");
  q.granularity =
      g ? o::ParseGranularity(*g).value()
        : (endpoint == "users/retention" ? o::Granularity::kWeek : o::Granularity::kDay);
  q.start = o::ResolveDateParam(Get(params, "startDate").value(), q.zone, false).value();
  q.end = o::ResolveDateParam(Get(params, "endDate").value(), q.zone, true).value();
  q.group_by = Get(params, "groupBy").value_or("");
  if (const auto limit = Get(params, "limit")) q.limit = std::stoi(*limit);
  return q;
}

/// Asks the service and the oracle, compares data, summary and meta. Failures name the request.
void CheckAgainstOracle(loadgen::HttpClient& client, const o::Oracle& oracle,
                        const std::string& endpoint, const Params& params,
                        bool want_cached = false) {
  const auto target = Target(endpoint, params);
  SCOPED_TRACE(target);
  const auto q = ToQuery(endpoint, params);
  const auto want = oracle.Expect(q);
  NoteCoverage(want);
  ++Compared();
  const auto reply = client.Send("GET", target);
  ASSERT_TRUE(reply) << "GET " << target << ": no answer";
  ASSERT_EQ(reply->status, 200) << "GET " << target << "\n" << reply->body.substr(0, 2000);
  json::value got;
  try {
    got = json::parse(reply->body);
  } catch (const std::exception& e) {
    FAIL() << "GET " << target << ": not JSON: " << e.what();
  }
  ASSERT_TRUE(got.is_object()) << target;
  std::vector<std::string> diffs;
  Compare(want.at("data"), got.as_object().contains("data") ? got.at("data") : json::value(),
          "data", Kind::kExact, diffs);
  if (want.contains("summary")) {
    const auto* s = got.as_object().if_contains("summary");
    Compare(want.at("summary"), s ? *s : json::value(), "summary", Kind::kExact, diffs);
  } else if (got.as_object().contains("summary")) {
    diffs.push_back("summary: unexpected on this endpoint");
  }
  const json::object want_meta{{"startDate", o::FormatInstant(q.start, q.zone)},
                               {"endDate", o::FormatInstant(q.end, q.zone)},
                               {"granularity", o::GranularityName(q.granularity)},
                               {"tz", Get(params, "tz").value_or("UTC")},
                               {"cached", want_cached}};
  const auto* meta = got.as_object().if_contains("meta");
  if (meta == nullptr || !meta->is_object()) {
    diffs.push_back("meta: missing");
  } else {
    for (const auto& kv : want_meta) {
      const auto* m = meta->as_object().if_contains(kv.key());
      if (m == nullptr || *m != kv.value()) {
        diffs.push_back("meta." + std::string(kv.key()) + ": want " + Short(kv.value()) + ", got " +
                        (m ? Short(*m) : std::string("(missing)")));
      }
    }
    const auto* elapsed = meta->as_object().if_contains("elapsedMs");
    if (elapsed == nullptr || !elapsed->is_number())
      diffs.push_back("meta.elapsedMs: missing or not a number");
  }
  if (!diffs.empty()) {
    std::ostringstream msg;
    msg << "GET " << target << "\n  " << diffs.size() << " difference(s):";
    for (std::size_t i = 0; i < diffs.size() && i < 15; ++i) msg << "\n  " << diffs[i];
    const auto& wd = want.at("data").as_array();
    const auto* gd = got.as_object().if_contains("data");
    msg << "\n  expected data (" << wd.size() << " rows): " << Short(want.at("data"), 1500);
    msg << "\n  service data: " << (gd ? Short(*gd, 1500) : std::string("(none)"));
    ADD_FAILURE() << msg.str();
  }
}

// The hand-computed data set for the oracle's self-check.

// Range 2025-03-01..2025-03-02 (UTC: [03-01 00:00, 03-03 00:00)), users a, b, c.
std::vector<o::Event> TinyEvents() {
  return {
      Signup("t01", "a", "2025-03-01T10:00:00Z", "free"),
      Ev(EventType::kConversationCreated, "t14", "a", "2025-03-01T10:05:00Z").Conv("conv1"),
      Message("t02", "a", "2025-03-01T10:10:00Z", "openai", "gpt-4o")
          .Conv("conv1")
          .Split(1000, 500)
          .Latency(100),
      // 30:00 after t02: the same session.
      Message("t03", "a", "2025-03-01T10:40:00Z", "anthropic", "claude-3-5-sonnet")
          .Conv("conv1")
          .Tokens(200)
          .Latency(300),
      // 30:00.001 after t03: a new session.
      Message("t04", "a", "2025-03-01T11:10:00.001Z", "openai", "gpt-4o")
          .Conv("conv1")
          .Tokens(10)
          .Cost("0.5")
          .Latency(200),
      // b never signs up; 23:30 UTC is already 03-02 in Berlin.
      Message("t05", "b", "2025-03-01T23:30:00Z", "openai", "gpt-4o-mini")
          .Conv("conv2")
          .Tokens(100),
      Signin("t15", "b", "2025-03-01T23:40:00Z"),
      Ev(EventType::kPaymentFailed, "t13", "b", "2025-03-01T12:00:00Z").Amount("5", ""),
      Ev(EventType::kPlanUpgrade, "t06", "a", "2025-03-02T09:00:00Z").Change("free", "pro"),
      Sub(EventType::kSubscriptionCreated, "t07", "a", "2025-03-02T09:00:00Z", "pro"),
      Pay("t08", "a", "2025-03-02T09:00:01Z", "19.99", "USD", "pro"),
      Pay("t08", "a", "2025-03-02T09:00:01Z", "19.99", "USD", "pro"),  // a redelivered copy
      Signup("t09", "c", "2025-02-20T08:00:00Z", "pro"),
      Sub(EventType::kSubscriptionCreated, "t10", "c", "2025-02-20T08:00:00Z", "pro_yearly"),
      Pay("t11", "c", "2025-02-20T08:00:01Z", "100.00", "USD", "pro_yearly"),
      Sub(EventType::kSubscriptionCancelled, "t12", "c", "2025-03-02T12:00:00Z", "pro_yearly"),
  };
}

const Params kTinyUtc = {{"startDate", "2025-03-01"}, {"endDate", "2025-03-02"}};

json::value Data(const o::Oracle& oracle, const std::string& endpoint, Params params = kTinyUtc) {
  return oracle.Expect(ToQuery(endpoint, params)).at("data");
}
json::value Summary(const o::Oracle& oracle, const std::string& endpoint,
                    Params params = kTinyUtc) {
  return oracle.Expect(ToQuery(endpoint, params)).at("summary");
}

void ExpectSame(const json::value& want, const json::value& got) {
  std::vector<std::string> diffs;
  Compare(want, got, "", Kind::kExact, diffs);
  std::string all;
  for (const auto& d : diffs) all += "\n" + d;
  EXPECT_TRUE(diffs.empty()) << "hand-computed vs oracle:" << all;
}

TEST(AnalyticsOracle, ComparisonCatchesEveryKindOfDifference) {
  auto diffs = [](const char* want, const char* got) {
    std::vector<std::string> d;
    Compare(json::parse(want), json::parse(got), "", Kind::kExact, d);
    return d.size();
  };
  EXPECT_EQ(diffs(R"({"revenue": 19.99, "users": 3})", R"({"users": 3, "revenue": 19.99})"), 0u);
  EXPECT_EQ(diffs(R"({"revenue": 19.99})", R"({"revenue": 19.98})"), 1u);
  EXPECT_EQ(diffs(R"({"revenue": 19.99})", R"({"revenue": 19.994})"), 1u);  // not rounded to cents
  EXPECT_EQ(diffs(R"({"users": 3})", R"({"users": 3.0})"), 1u);  // a count must be an integer
  EXPECT_EQ(diffs(R"({"users": 3})", R"({"users": "3"})"), 1u);
  EXPECT_EQ(diffs(R"({"users": 3})", R"({})"), 1u);
  EXPECT_EQ(diffs(R"({"users": 3})", R"({"users": 3, "extra": 1})"), 1u);
  EXPECT_EQ(diffs(R"({"share": null})", R"({"share": 0})"), 1u);
  EXPECT_EQ(diffs(R"({"share": 0.25})", R"({"share": 0.250000001})"), 1u);
  EXPECT_EQ(diffs(R"({"share": 0.25})", R"({"share": 0.25000000000001})"), 0u);
  EXPECT_EQ(diffs(R"({"costUsd": 0.507530})", R"({"costUsd": 0.507531})"), 0u);
  EXPECT_EQ(diffs(R"({"costUsd": 0.507530})", R"({"costUsd": 0.507532})"), 1u);
  EXPECT_EQ(diffs(R"({"p95LatencyMs": 1000})", R"({"p95LatencyMs": 1011})"), 0u);
  EXPECT_EQ(diffs(R"({"p95LatencyMs": 1000})", R"({"p95LatencyMs": 1012})"), 1u);
  EXPECT_EQ(diffs(R"([{"a": 1}, {"a": 2}])", R"([{"a": 1}])"), 1u);
  EXPECT_EQ(diffs(R"([{"a": 1}, {"a": 2}])", R"([{"a": 2}, {"a": 1}])"), 2u);  // order matters
}

TEST(AnalyticsOracle, BucketsAlignInTheZoneAcrossDstAndHalfHourOffsets) {
  const auto* berlin = Zone("Europe/Berlin");
  const auto* kolkata = Zone("Asia/Kolkata");
  // The 23-hour day and the week that holds it.
  auto days = o::BucketStarts(At("2025-03-29T23:00:00Z"), At("2025-03-31T22:00:00Z"), berlin,
                              o::Granularity::kDay);
  ASSERT_EQ(days.size(), 2u);
  EXPECT_EQ(o::FormatInstant(days[0], berlin), "2025-03-30T00:00:00+01:00");
  EXPECT_EQ(o::FormatInstant(days[1], berlin), "2025-03-31T00:00:00+02:00");
  EXPECT_EQ(days[1] - days[0], std::chrono::hours(23));
  auto weeks = o::BucketStarts(At("2025-03-26T12:00:00Z"), At("2025-04-01T00:00:00Z"), berlin,
                               o::Granularity::kWeek);
  ASSERT_EQ(weeks.size(), 2u);
  EXPECT_EQ(o::FormatInstant(weeks[0], berlin),
            "2025-03-24T00:00:00+01:00");  // before the range start
  EXPECT_EQ(o::FormatInstant(weeks[1], berlin), "2025-03-31T00:00:00+02:00");
  // The repeated hour of 2025-10-26 is two buckets with the same local label, two offsets.
  auto hours = o::BucketStarts(At("2025-10-26T00:00:00Z"), At("2025-10-26T02:00:00Z"), berlin,
                               o::Granularity::kHour);
  ASSERT_EQ(hours.size(), 2u);
  EXPECT_EQ(o::FormatInstant(hours[0], berlin), "2025-10-26T02:00:00+02:00");
  EXPECT_EQ(o::FormatInstant(hours[1], berlin), "2025-10-26T02:00:00+01:00");
  // The 25-hour day.
  auto oct = o::BucketStarts(At("2025-10-26T00:00:00Z"), At("2025-10-26T23:30:00Z"), berlin,
                             o::Granularity::kDay);
  ASSERT_EQ(oct.size(), 2u);
  EXPECT_EQ(oct[1] - oct[0], std::chrono::hours(25));
  // Months in Berlin: April starts at 22:00 UTC.
  EXPECT_EQ(o::FormatInstant(
                o::AlignBucket(At("2025-03-31T22:30:00Z"), berlin, o::Granularity::kMonth), berlin),
            "2025-04-01T00:00:00+02:00");
  EXPECT_EQ(o::AlignBucket(At("2025-03-31T21:59:59.999Z"), berlin, o::Granularity::kMonth),
            At("2025-02-28T23:00:00Z"));
  // Kolkata: hours start at :30 UTC, days at 18:30 UTC.
  EXPECT_EQ(o::AlignBucket(At("2025-03-10T10:45:00Z"), kolkata, o::Granularity::kHour),
            At("2025-03-10T10:30:00Z"));
  EXPECT_EQ(o::FormatInstant(At("2025-03-10T18:30:00Z"), kolkata), "2025-03-11T00:00:00+05:30");
  EXPECT_EQ(o::AlignBucket(At("2025-03-10T18:29:59.999Z"), kolkata, o::Granularity::kDay),
            At("2025-03-09T18:30:00Z"));
  // Exactly 10,000 hourly buckets.
  EXPECT_EQ(o::BucketStarts(At("2024-01-01T00:00:00Z"), At("2025-02-20T16:00:00Z"), Zone("UTC"),
                            o::Granularity::kHour, 20'000)
                .size(),
            10'000u);
}

TEST(AnalyticsOracle, DateParametersResolveInTheZone) {
  const auto* berlin = Zone("Europe/Berlin");
  EXPECT_EQ(o::ResolveDateParam("2025-03-30", berlin, false), At("2025-03-29T23:00:00Z"));
  EXPECT_EQ(o::ResolveDateParam("2025-03-30", berlin, true),
            At("2025-03-30T22:00:00Z"));  // inclusive day
  EXPECT_EQ(o::ResolveDateParam("2025-03-20T08:00:00+01:00", berlin, true),
            At("2025-03-20T07:00:00Z"));
  EXPECT_EQ(o::ResolveDateParam("2025-03-20T08:00:00.250-02:30", berlin, true),
            At("2025-03-20T10:30:00.250Z"));
  EXPECT_FALSE(o::ResolveDateParam("2025-03-01T10:00:00", berlin, false));  // no offset
  EXPECT_FALSE(o::ResolveDateParam("2025-02-30", berlin, false));
  EXPECT_EQ(o::FormatInstant(At("2025-03-20T07:00:00.999Z"), Zone("UTC")),
            "2025-03-20T07:00:00+00:00");
  EXPECT_EQ(o::ParseDecimal("19.99", 4), 199900);
  EXPECT_EQ(o::ParseDecimal("19.9900000", 4), 199900);
  EXPECT_EQ(o::ParseDecimal(".5", 9), 500000000);
  EXPECT_FALSE(o::ParseDecimal("19.99999", 4));
  EXPECT_EQ(o::FormatDecimal(199900, 4), "19.99");
  EXPECT_EQ(o::FormatDecimal(461000, 9), "0.000461");
}

// Expectations below are worked out by hand from TinyEvents(); a raw JSON literal each.
json::value Json(const char* text) { return json::parse(text); }

TEST(AnalyticsOracle, UsersOnAHandComputedDataSet) {
  const o::Oracle oracle(TinyEvents(), PlanCatalog(), ModelPrices());
  // Signed up: a (03-01, in range) and c (02-20, before it); b never signed up.
  ExpectSame(Json(R"([{"totalUsers": 2, "newUsers": 1}])"), Data(oracle, "users/count"));
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "newUsers": 1, "totalUsers": 2},
    {"bucket": "2025-03-02T00:00:00+00:00", "newUsers": 0, "totalUsers": 2}])"),
             Data(oracle, "users/growth"));
  // a upgraded to pro on 03-02; c signed up on pro.
  ExpectSame(Json(R"([{"plan": "pro", "users": 2}])"), Data(oracle, "users/by-plan"));
  // 03-01: a and b; 03-02: a's upgrade (billing is not activity). Windows end 03-03 00:00:
  // 1 day {a}, 7 days (from 02-24) {a, b}, 30 days (from 02-01) {a, b, c (signup 02-20)}.
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "activeUsers": 2},
    {"bucket": "2025-03-02T00:00:00+00:00", "activeUsers": 1}])"),
             Data(oracle, "users/active"));
  ExpectSame(Json(R"({"dau": 1, "wau": 2, "mau": 3, "stickiness": 0.3333333333333333})"),
             Summary(oracle, "users/active"));
  // One daily cohort (a, 03-01), active on both days.
  ExpectSame(
      Json(R"([
    {"cohort": "2025-03-01T00:00:00+00:00", "users": 1, "periods": [
      {"period": 0, "activeUsers": 1, "rate": 1.0},
      {"period": 1, "activeUsers": 1, "rate": 1.0}]}])"),
      Data(oracle, "users/retention",
           {{"startDate", "2025-03-01"}, {"endDate", "2025-03-02"}, {"granularity", "day"}}));
}

TEST(AnalyticsOracle, ChatOnAHandComputedDataSet) {
  const o::Oracle oracle(TinyEvents(), PlanCatalog(), ModelPrices());
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "messages": 4},
    {"bucket": "2025-03-02T00:00:00+00:00", "messages": 0}])"),
             Data(oracle, "chat/messages"));
  ExpectSame(Json(R"({"messages": 4})"), Summary(oracle, "chat/messages"));
  Params by_provider = kTinyUtc;
  by_provider.emplace_back("groupBy", "provider");
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "provider": "anthropic", "messages": 1},
    {"bucket": "2025-03-01T00:00:00+00:00", "provider": "openai", "messages": 3},
    {"bucket": "2025-03-02T00:00:00+00:00", "provider": "anthropic", "messages": 0},
    {"bucket": "2025-03-02T00:00:00+00:00", "provider": "openai", "messages": 0}])"),
             Data(oracle, "chat/messages", by_provider));
  // In Berlin, b's 23:30 UTC message falls on 03-02.
  Params berlin = kTinyUtc;
  berlin.emplace_back("tz", "Europe/Berlin");
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+01:00", "messages": 3},
    {"bucket": "2025-03-02T00:00:00+01:00", "messages": 1}])"),
             Data(oracle, "chat/messages", berlin));
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "created": 1, "deleted": 0},
    {"bucket": "2025-03-02T00:00:00+00:00", "created": 0, "deleted": 0}])"),
             Data(oracle, "chat/conversations"));
  // openai: t02 1500 + t04 10 + t05 100 tokens, users a and b.
  ExpectSame(Json(R"([
    {"provider": "openai", "messages": 3, "tokens": 1610, "users": 2, "share": 0.75},
    {"provider": "anthropic", "messages": 1, "tokens": 200, "users": 1, "share": 0.25}])"),
             Data(oracle, "chat/by-provider"));
  // Only t02 carries the split; 1810 / 4 = 452.5.
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "tokens": 1810, "inputTokens": 1000,
     "outputTokens": 500, "messages": 4, "avgTokensPerMessage": 452.5},
    {"bucket": "2025-03-02T00:00:00+00:00", "tokens": 0, "inputTokens": 0,
     "outputTokens": 0, "messages": 0, "avgTokensPerMessage": null}])"),
             Data(oracle, "chat/tokens"));
  // a: 10:00-10:40 (2400 s), 11:10:00.001 alone (0 s), 03-02 09:00 alone (0 s); b: 23:30-23:40
  // (600 s). 03-01: {2400, 0, 600}; all: {0, 0, 600, 2400} -> mean 750, median 300.
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "sessions": 3, "avgDurationSeconds": 1000.0,
     "medianDurationSeconds": 600.0},
    {"bucket": "2025-03-02T00:00:00+00:00", "sessions": 1, "avgDurationSeconds": 0.0,
     "medianDurationSeconds": 0.0}])"),
             Data(oracle, "chat/average-session"));
  ExpectSame(
      Json(R"({"sessions": 4, "avgDurationSeconds": 750.0, "medianDurationSeconds": 300.0})"),
      Summary(oracle, "chat/average-session"));
}

TEST(AnalyticsOracle, RevenueOnAHandComputedDataSet) {
  const o::Oracle oracle(TinyEvents(), PlanCatalog(), ModelPrices());
  ExpectSame(Json(R"([{"currency": "USD", "revenue": 19.99, "payments": 1}])"),
             Data(oracle, "revenue/total"));
  ExpectSame(Json(R"({"payments": 1, "failedPayments": 1})"), Summary(oracle, "revenue/total"));
  ExpectSame(Json(R"([{"plan": "pro", "currency": "USD", "revenue": 19.99, "payments": 1}])"),
             Data(oracle, "revenue/by-plan"));
  // c: 100.00 yearly = 8.3333/month until cancelled on 03-02; a: 19.99 from 03-02 09:00.
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "currency": "USD", "mrr": 8.33, "newMrr": 0,
     "expansionMrr": 0, "contractionMrr": 0, "churnedMrr": 0, "reactivationMrr": 0},
    {"bucket": "2025-03-02T00:00:00+00:00", "currency": "USD", "mrr": 19.99, "newMrr": 19.99,
     "expansionMrr": 0, "contractionMrr": 0, "churnedMrr": 8.33, "reactivationMrr": 0}])"),
             Data(oracle, "revenue/mrr"));
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "currency": "USD", "arr": 100.00},
    {"bucket": "2025-03-02T00:00:00+00:00", "currency": "USD", "arr": 239.88}])"),
             Data(oracle, "revenue/arr"));
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "customersAtStart": 1, "churnedCustomers": 0,
     "customerChurnRate": 0.0, "mrr": {"USD": {
       "startMrr": 8.33, "churnedMrr": 0, "contractionMrr": 0, "expansionMrr": 0,
       "reactivationMrr": 0, "grossMrrChurnRate": 0.0, "netMrrChurnRate": 0.0}}},
    {"bucket": "2025-03-02T00:00:00+00:00", "customersAtStart": 1, "churnedCustomers": 1,
     "customerChurnRate": 1.0, "mrr": {"USD": {
       "startMrr": 8.33, "churnedMrr": 8.33, "contractionMrr": 0, "expansionMrr": 0,
       "reactivationMrr": 0, "grossMrrChurnRate": 1.0, "netMrrChurnRate": 1.0}}}])"),
             Data(oracle, "revenue/churn-rate"));
}

// Reactivation carrying the last payment, expansion, a currency switch, and three yearly
// customers whose MRR rounds to 8.33 each but sums to exactly 25.00.
TEST(AnalyticsOracle, MrrMovementsOnAHandComputedDataSet) {
  using T = EventType;
  const std::vector<o::Event> events = {
      Sub(T::kSubscriptionCreated, "d1", "d", "2025-02-01T00:00:00Z", "pro"),
      Pay("d2", "d", "2025-02-01T00:00:01Z", "10.00", "USD", "pro"),
      Sub(T::kSubscriptionCancelled, "d3", "d", "2025-02-10T00:00:00Z", "pro"),
      Sub(T::kSubscriptionCreated, "d4", "d", "2025-03-02T10:00:00Z", "pro"),
      Pay("d5", "d", "2025-03-03T10:00:00Z", "15.00", "USD", "pro"),
      Pay("d6", "d", "2025-03-04T10:00:00Z", "12.00", "EUR", "pro"),
      Sub(T::kSubscriptionCreated, "e1", "e", "2025-02-01T00:00:00Z", "pro_yearly"),
      Pay("e2", "e", "2025-02-01T00:00:01Z", "100.00", "USD", "pro_yearly"),
      Sub(T::kSubscriptionCreated, "f1", "f", "2025-02-01T00:00:00Z", "pro_yearly"),
      Pay("f2", "f", "2025-02-01T00:00:01Z", "100.00", "USD", "pro_yearly"),
      Sub(T::kSubscriptionCreated, "g1", "g", "2025-02-01T00:00:00Z", "pro_yearly"),
      Pay("g2", "g", "2025-02-01T00:00:01Z", "100.00", "USD", "pro_yearly"),
  };
  const o::Oracle oracle(events, PlanCatalog(), ModelPrices());
  const Params range = {{"startDate", "2025-03-01"}, {"endDate", "2025-03-04"}};
  auto row = [](const char* day, const char* c, double mrr, double fresh, double exp,
                double churned, double react) {
    return json::object{{"bucket", std::string(day) + "T00:00:00+00:00"},
                        {"currency", c},
                        {"mrr", mrr},
                        {"newMrr", fresh},
                        {"expansionMrr", exp},
                        {"contractionMrr", 0},
                        {"churnedMrr", churned},
                        {"reactivationMrr", react}};
  };
  json::array mrr;
  mrr.push_back(row("2025-03-01", "EUR", 0, 0, 0, 0, 0));
  mrr.push_back(row("2025-03-01", "USD", 25, 0, 0, 0, 0));
  mrr.push_back(row("2025-03-02", "EUR", 0, 0, 0, 0, 0));
  mrr.push_back(row("2025-03-02", "USD", 35, 0, 0, 0, 10));  // d re-subscribes carrying 10.00
  mrr.push_back(row("2025-03-03", "EUR", 0, 0, 0, 0, 0));
  mrr.push_back(row("2025-03-03", "USD", 40, 0, 5, 0, 0));   // d pays 15.00
  mrr.push_back(row("2025-03-04", "EUR", 12, 12, 0, 0, 0));  // d switches to EUR
  mrr.push_back(row("2025-03-04", "USD", 25, 0, 0, 15, 0));
  ExpectSame(mrr, Data(oracle, "revenue/mrr", range));
  const auto churn = Data(oracle, "revenue/churn-rate", range).as_array();
  ASSERT_EQ(churn.size(), 4u);
  // 03-02: d is not subscribed at its start; reactivation 10 against 25: net -0.4.
  ExpectSame(Json(R"({
    "bucket": "2025-03-02T00:00:00+00:00", "customersAtStart": 3, "churnedCustomers": 0,
    "customerChurnRate": 0.0, "mrr": {
      "EUR": {"startMrr": 0, "churnedMrr": 0, "contractionMrr": 0, "expansionMrr": 0,
              "reactivationMrr": 0, "grossMrrChurnRate": null, "netMrrChurnRate": null},
      "USD": {"startMrr": 25.00, "churnedMrr": 0, "contractionMrr": 0, "expansionMrr": 0,
              "reactivationMrr": 10.00, "grossMrrChurnRate": 0.0, "netMrrChurnRate": -0.4}}})"),
             churn[1]);
  // 03-04: d moves to EUR; USD loses 15 of 40.
  ExpectSame(Json(R"({
    "bucket": "2025-03-04T00:00:00+00:00", "customersAtStart": 4, "churnedCustomers": 0,
    "customerChurnRate": 0.0, "mrr": {
      "EUR": {"startMrr": 0, "churnedMrr": 0, "contractionMrr": 0, "expansionMrr": 0,
              "reactivationMrr": 0, "grossMrrChurnRate": null, "netMrrChurnRate": null},
      "USD": {"startMrr": 40.00, "churnedMrr": 15.00, "contractionMrr": 0, "expansionMrr": 0,
              "reactivationMrr": 0, "grossMrrChurnRate": 0.375, "netMrrChurnRate": 0.375}}})"),
             churn[3]);
  auto arr = Data(oracle, "revenue/arr", range).as_array();
  arr.resize(2);
  ExpectSame(Json(R"([
    {"bucket": "2025-03-01T00:00:00+00:00", "currency": "EUR", "arr": 0},
    {"bucket": "2025-03-01T00:00:00+00:00", "currency": "USD", "arr": 300.00}])"),
             arr);
}

TEST(AnalyticsOracle, ProvidersOnAHandComputedDataSet) {
  const o::Oracle oracle(TinyEvents(), PlanCatalog(), ModelPrices());
  // conversations: openai conv1 (t02, t04) and conv2 (t05); anthropic conv1.
  ExpectSame(Json(R"([
    {"provider": "openai", "messages": 3, "tokens": 1610, "inputTokens": 1000,
     "outputTokens": 500, "users": 2, "conversations": 2},
    {"provider": "anthropic", "messages": 1, "tokens": 200, "inputTokens": 0,
     "outputTokens": 0, "users": 1, "conversations": 1}])"),
             Data(oracle, "providers/usage"));
  // openai: t02 gpt-4o at the 2024-08-06 price 1000 x 2.50/1M + 500 x 10.00/1M = 0.0075; t04 sent
  // 0.5; t05 gpt-4o-mini without split, blended 100 x 0.30/1M = 0.00003: 0.50753. anthropic: sonnet
  // has split prices only and t03 has no split: unpriced.
  ExpectSame(Json(R"([
    {"provider": "openai", "costUsd": 0.50753, "messages": 3, "unpricedMessages": 0},
    {"provider": "anthropic", "costUsd": 0, "messages": 1, "unpricedMessages": 1}])"),
             Data(oracle, "providers/costs"));
  // gpt-4o 2 messages; then sonnet and mini with 1 each go to (other), users {a, b}.
  Params limit_one = kTinyUtc;
  limit_one.emplace_back("limit", "1");
  ExpectSame(Json(R"j([
    {"rank": 1, "provider": "openai", "model": "gpt-4o", "messages": 2, "users": 1,
     "share": 0.5},
    {"rank": 2, "provider": "(other)", "model": "(other)", "messages": 2, "users": 2,
     "share": 0.5}])j"),
             Data(oracle, "providers/popularity", limit_one));
  // openai latencies {100, 200}: p50 = v[floor(0.5 x 2)] = 200.
  ExpectSame(Json(R"([
    {"provider": "openai", "messages": 2, "avgLatencyMs": 150.0, "p50LatencyMs": 200,
     "p95LatencyMs": 200, "p99LatencyMs": 200},
    {"provider": "anthropic", "messages": 1, "avgLatencyMs": 300.0, "p50LatencyMs": 300,
     "p95LatencyMs": 300, "p99LatencyMs": 300}])"),
             Data(oracle, "providers/performance"));
}

// The generated data set.

/// SplitMix64: a fixed sequence for a fixed seed with any standard library.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::int64_t Range(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(Next() % static_cast<std::uint64_t>(hi - lo));
  }
  bool Chance(int percent) { return Range(0, 100) < percent; }

 private:
  std::uint64_t s_;
};

struct DataSet {
  std::vector<o::Event> events;  // every distinct event, sent once
  std::vector<o::Event> resent;  // copies with the same id, sent again in a separate request
};

struct ModelDef {
  const char* provider;
  const char* model;
  int weight;
};
constexpr ModelDef kModels[] = {
    {"openai", "gpt-4o", 20},
    {"openai", "gpt-4o-mini", 25},
    {"anthropic", "claude-3-5-sonnet", 15},
    {"anthropic", "claude-3-5-haiku", 10},
    {"google", "gemini-1.5-pro", 6},
    {"google", "gemini-1.5-flash", 8},
    {"mistral", "mistral-large", 5},
    {"acme", "m1", 4},
    {"local", "llama-3", 3},
};

/// A few hundred users over 2025-02..04 (some signed up months before, some never), sessions of
/// chat, plan changes and Stripe-like billing; deterministic for a seed.
void AddRandomUsers(DataSet& ds, std::uint64_t seed, int users) {
  using std::chrono::days;
  using std::chrono::hours;
  using std::chrono::seconds;
  const o::Instant pre_start = At("2024-11-01T00:00:00Z");
  const o::Instant data_start = At("2025-02-01T00:00:00Z");
  const o::Instant data_end = At("2025-05-01T00:00:00Z");
  int next_id = 0;
  for (int u = 0; u < users; ++u) {
    Rng r(seed * 1'000'003 + static_cast<std::uint64_t>(u));
    char name[32];
    std::snprintf(name, sizeof name, "user-%03d", u);
    const std::string user = name;
    auto id = [&] { return "r-" + std::to_string(next_id++); };
    auto add = [&](o::Event e) { ds.events.push_back(std::move(e)); };
    auto ms = [&](std::int64_t lo, std::int64_t hi) { return o::Millis(r.Range(lo, hi)); };

    const auto kind = r.Range(0, 100);
    std::optional<o::Instant> signup;
    if (kind < 15) {
      signup = pre_start + ms(0, (data_start - pre_start).count());
    } else if (kind >= 27) {
      signup = data_start + ms(0, (data_end - data_start - days(5)).count());
    }
    const auto plan_roll = r.Range(0, 100);
    std::string plan = plan_roll < 70 ? "free" : plan_roll < 92 ? "pro" : "team";
    const std::string currency = r.Chance(25) ? "EUR" : "USD";
    if (signup) add(Ev(EventType::kSignup, id(), user, *signup).Plan(plan));
    const o::Instant active_from = signup ? std::max(*signup, data_start - days(10))
                                          : data_start + ms(0, days(20) / o::Millis(1));

    // Paid spans [from, to) with their plan.
    struct Span {
      o::Instant from, to;
      std::string plan;
    };
    std::vector<Span> spans;
    if (plan != "free") {
      spans.push_back({signup.value_or(active_from), data_end + days(400), plan});
      if (!signup) add(Ev(EventType::kPlanUpgrade, id(), user, active_from).Change("free", plan));
    } else if (r.Chance(25)) {
      const auto up = active_from + ms(days(1) / o::Millis(1), days(40) / o::Millis(1));
      const std::string to = r.Chance(20) ? "team" : "pro";
      add(Ev(EventType::kPlanUpgrade, id(), user, up).Change("free", to));
      spans.push_back({up, data_end + days(400), to});
    }
    if (!spans.empty() && r.Chance(30)) {
      auto& s = spans.back();
      s.to = s.from + ms(days(20) / o::Millis(1), days(80) / o::Millis(1));
      add(Ev(EventType::kPlanDowngrade, id(), user, s.to).Change(s.plan, "free"));
      if (r.Chance(35)) {
        const auto back = s.to + ms(days(5) / o::Millis(1), days(25) / o::Millis(1));
        add(Ev(EventType::kPlanUpgrade, id(), user, back).Change("free", "pro"));
        spans.push_back({back, data_end + days(400), "pro"});
      }
    }
    const bool yearly = !spans.empty() && spans.front().plan == "pro" && r.Chance(15);
    for (const auto& s : spans) {
      const std::string bill_plan = yearly ? "pro_yearly" : s.plan;
      add(Ev(EventType::kSubscriptionCreated, id(), user, s.from).Plan(bill_plan));
      if (s.to < data_end + days(300)) {
        add(Ev(EventType::kSubscriptionCancelled, id(), user, s.to + seconds(1)).Plan(bill_plan));
      }
      std::string amount = bill_plan == "pro_yearly" ? (currency == "USD" ? "199.00" : "185.00")
                           : bill_plan == "team"     ? (currency == "USD" ? "49.99" : "46.4950")
                                                     : (currency == "USD" ? "19.99" : "18.49");
      for (o::Instant t = s.from + seconds(2); t < std::min(s.to, data_end);
           t += yearly ? days(365) : days(30) + hours(r.Range(-12, 12))) {
        o::Instant paid_at = t;
        if (r.Chance(8)) {
          add(Ev(EventType::kPaymentFailed, id(), user, t)
                  .Amount(amount, r.Chance(50) ? currency : "")
                  .Plan(r.Chance(50) ? bill_plan : ""));
          paid_at = t + days(1);
          if (paid_at >= s.to) break;
        }
        add(Ev(EventType::kPaymentSuccess, id(), user, paid_at)
                .Amount(amount, currency)
                .Plan(bill_plan));
      }
    }

    // Chat sessions on random days.
    const int keenness = static_cast<int>(r.Range(8, 48));
    int conversation = 0;
    for (auto day = std::chrono::floor<days>(active_from); day < data_end; day += days(1)) {
      if (!r.Chance(keenness)) continue;
      o::Instant t = day + seconds(r.Range(6 * 3600, 23 * 3600)) + ms(0, 1000);
      if (t < active_from) continue;
      add(Ev(EventType::kSignin, id(), user, t));
      std::string conv;
      const auto n = r.Range(1, 7);
      for (int k = 0; k < n; ++k) {
        t += r.Chance(6) ? seconds(r.Range(31 * 60, 90 * 60)) : seconds(r.Range(5, 900));
        t += ms(0, 1000);
        if (conv.empty() || r.Chance(30)) {
          conv = user + "-c" + std::to_string(conversation++);
          add(Ev(EventType::kConversationCreated, id(), user, t).Conv(conv));
          t += seconds(r.Range(1, 10));
        }
        std::int64_t w = r.Range(0, 96);
        const ModelDef* m = &kModels[0];
        for (const auto& def : kModels) {
          if (w < def.weight) {
            m = &def;
            break;
          }
          w -= def.weight;
        }
        Ev msg(EventType::kMessageSent, id(), user, t);
        msg.Conv(conv).Model(m->provider, m->model);
        if (r.Chance(70)) {
          msg.Split(r.Range(10, 3000), r.Range(10, 2000));
        } else {
          msg.Tokens(r.Range(50, 5000));
        }
        if (r.Chance(80)) msg.Latency(r.Chance(5) ? r.Range(10'000, 60'000) : r.Range(200, 8000));
        if (r.Chance(25)) msg.Cost(o::FormatDecimal(r.Range(0, 5'000'000), o::kCostDecimals));
        add(msg);
        if (r.Chance(4)) {
          add(Ev(EventType::kConversationDeleted, id(), user, t + seconds(2)).Conv(conv));
          conv.clear();
        }
      }
      if (r.Chance(50)) add(Ev(EventType::kSignout, id(), user, t + seconds(r.Range(1, 300))));
    }
  }
}

/// Hand-built edge cases, each named in a comment.
void AddEdgeCases(DataSet& ds) {
  using T = EventType;
  std::vector<o::Event> e = {
      // Bucket boundaries: UTC Monday 00:00, Berlin 04-01 00:00 (+02:00), UTC 04-01 00:00, the
      // last millisecond of a UTC day, Berlin Sunday 23:59:59.999 and Monday 00:00.
      Signup("x-b1", "edge-bound", "2025-03-03T00:00:00Z", "free"),
      Signin("x-b2", "edge-bound", "2025-03-31T22:00:00Z"),
      Signin("x-b3", "edge-bound", "2025-04-01T00:00:00Z"),
      Message("x-b4", "edge-bound", "2025-03-30T23:59:59.999Z", "openai", "gpt-4o")
          .Split(100, 50)
          .Latency(1234),
      Message("x-b5", "edge-bound", "2025-03-16T22:59:59.999Z", "openai", "gpt-4o-mini").Tokens(70),
      Message("x-b6", "edge-bound", "2025-03-16T23:00:00Z", "openai", "gpt-4o-mini").Tokens(80),
      Signup("x-b7", "edge-bound2", "2025-03-31T22:00:00Z", "pro"),
      // Spring DST in Berlin: 01:59:59.999+01:00 then 03:00+02:00; the 23-hour day's edges.
      Signin("x-d1", "edge-dst", "2025-03-29T23:00:00Z"),
      Message("x-d2", "edge-dst", "2025-03-30T00:59:59.999Z", "anthropic", "claude-3-5-haiku")
          .Split(10, 20)
          .Latency(500),
      Message("x-d3", "edge-dst", "2025-03-30T01:00:00Z", "anthropic", "claude-3-5-haiku")
          .Tokens(30)
          .Latency(600),
      Message("x-d4", "edge-dst", "2025-03-30T21:59:59.999Z", "acme", "m1").Tokens(1000),
      Message("x-d5", "edge-dst", "2025-03-30T22:00:00Z", "acme", "m1").Tokens(2000),
      // Autumn DST: the repeated 02:30, the 25-hour day's edges, a signup at its midnight.
      Signup("x-f1", "edge-fall", "2025-10-25T22:00:00Z", "free"),
      Ev(T::kConversationCreated, "x-f9", "edge-fall", "2025-10-26T00:29:00Z")
          .Conv("conv-edge-fall"),
      Message("x-f2", "edge-fall", "2025-10-26T00:30:00Z", "openai", "gpt-4o")
          .Split(400, 100)
          .Latency(900),
      Message("x-f3", "edge-fall", "2025-10-26T01:30:00Z", "openai", "gpt-4o")
          .Split(300, 200)
          .Latency(700),
      Ev(T::kConversationDeleted, "x-f10", "edge-fall", "2025-10-26T01:31:00Z")
          .Conv("conv-edge-fall"),
      Message("x-f4", "edge-fall", "2025-10-26T22:59:59.999Z", "google", "gemini-1.5-pro")
          .Tokens(5000),
      Message("x-f5", "edge-fall", "2025-10-26T23:00:00Z", "google", "gemini-1.5-pro").Tokens(6000),
      Ev(T::kPlanUpgrade, "x-f6", "edge-fall", "2025-10-27T09:00:00Z").Change("free", "pro"),
      Sub(T::kSubscriptionCreated, "x-f7", "edge-fall", "2025-10-27T09:00:00Z", "pro"),
      Pay("x-f8", "edge-fall", "2025-10-27T09:00:01Z", "19.99", "USD", "pro"),
      // A third currency seen only in October: absent from earlier ranges' rows.
      Sub(T::kSubscriptionCreated, "x-gbp1", "edge-gbp", "2025-10-29T10:00:00Z", "pro"),
      Pay("x-gbp2", "edge-gbp", "2025-10-29T10:00:01Z", "15.00", "GBP", "pro"),
      // Asia/Kolkata: local midnight is 18:30 UTC, local hours start at :30.
      Signup("x-k1", "edge-ist", "2025-03-09T18:30:00Z", "free"),
      Message("x-k2", "edge-ist", "2025-03-10T18:29:59.999Z", "google", "gemini-1.5-flash")
          .Split(1000, 1000),
      Message("x-k3", "edge-ist", "2025-03-10T18:30:00Z", "google", "gemini-1.5-flash")
          .Split(2000, 1000),
      Message("x-k4", "edge-ist", "2025-03-10T12:29:59.999Z", "google", "gemini-1.5-flash")
          .Tokens(10),
      Message("x-k5", "edge-ist", "2025-03-10T12:30:00Z", "google", "gemini-1.5-flash").Tokens(20),
      // Two signups: the first one counts (plan free, signed up in January).
      Signup("x-t1", "edge-twice", "2025-01-20T10:00:00Z", "free"),
      Signup("x-t2", "edge-twice", "2025-03-05T10:00:00Z", "team"),
      // A plan change before the first signup is still the latest plan change.
      Ev(T::kPlanUpgrade, "x-e1", "edge-early", "2025-02-02T10:00:00Z").Change("free", "team"),
      Signup("x-e2", "edge-early", "2025-02-03T10:00:00Z", "free"),
      // Activity without any signup.
      Message("x-g1", "edge-ghost", "2025-03-12T08:00:00Z", "local", "llama-3")
          .Tokens(42)
          .Latency(50),
      Signin("x-g2", "edge-ghost", "2025-04-02T08:00:00Z"),
      // Sessions: a gap of exactly 30:00 does not split, 30:00.001 does; a session across UTC
      // midnight belongs to its first day; a payment in a gap is not activity.
      Signin("x-s1", "edge-sess", "2025-03-12T10:00:00Z"),
      Message("x-s2", "edge-sess", "2025-03-12T10:30:00Z", "openai", "gpt-4o-mini").Tokens(10),
      Message("x-s3", "edge-sess", "2025-03-12T11:00:00.001Z", "openai", "gpt-4o-mini").Tokens(10),
      Signin("x-s4", "edge-sess", "2025-03-12T23:50:00Z"),
      Message("x-s5", "edge-sess", "2025-03-13T00:10:00Z", "openai", "gpt-4o-mini").Tokens(10),
      Pay("x-s6", "edge-sess", "2025-03-13T00:20:00Z", "5.00", "USD",
          "pro"),  // no subscription: revenue, no MRR
      Message("x-s7", "edge-sess", "2025-03-13T00:45:00Z", "openai", "gpt-4o-mini").Tokens(10),
      // Billing: cancelled, re-created (reactivation carrying 19.99), expansion, contraction, and a
      // failed payment without currency or plan.
      Sub(T::kSubscriptionCreated, "x-a1", "edge-bill", "2024-12-01T09:00:00Z", "pro"),
      Pay("x-a2", "edge-bill", "2024-12-01T09:00:01Z", "19.99", "USD", "pro"),
      Pay("x-a3", "edge-bill", "2025-01-01T09:00:00Z", "19.99", "USD", "pro"),
      Pay("x-a4", "edge-bill", "2025-02-01T09:00:00Z", "19.99", "USD", "pro"),
      Sub(T::kSubscriptionCancelled, "x-a5", "edge-bill", "2025-02-20T09:00:00Z", "pro"),
      Sub(T::kSubscriptionCreated, "x-a6", "edge-bill", "2025-03-10T09:00:00Z", "pro"),
      Pay("x-a7", "edge-bill", "2025-03-10T09:00:05Z", "29.99", "USD", "pro"),
      Pay("x-a8", "edge-bill", "2025-04-10T09:00:00Z", "49.99", "USD", "team"),
      Pay("x-a9", "edge-bill", "2025-04-20T09:00:00Z", "9.99", "USD", "pro"),
      Ev(T::kPaymentFailed, "x-a10", "edge-bill", "2025-04-25T09:00:00Z").Amount("9.99", ""),
      // Three yearly customers: 8.3333 each, exactly 25.00 together.
      Sub(T::kSubscriptionCreated, "x-y1", "edge-year1", "2025-02-14T12:00:00Z", "pro_yearly"),
      Pay("x-y2", "edge-year1", "2025-02-14T12:00:01Z", "100.00", "USD", "pro_yearly"),
      Sub(T::kSubscriptionCreated, "x-y3", "edge-year2", "2025-02-14T12:00:00Z", "pro_yearly"),
      Pay("x-y4", "edge-year2", "2025-02-14T12:00:01Z", "100.00", "USD", "pro_yearly"),
      Sub(T::kSubscriptionCreated, "x-y5", "edge-year3", "2025-02-14T12:00:00Z", "pro_yearly"),
      Pay("x-y6", "edge-year3", "2025-02-14T12:00:01Z", "100.00", "USD", "pro_yearly"),
      // A currency switch: USD churns, EUR is new.
      Sub(T::kSubscriptionCreated, "x-w1", "edge-switch", "2025-02-03T00:00:00Z", "pro"),
      Pay("x-w2", "edge-switch", "2025-02-03T00:00:01Z", "19.99", "USD", "pro"),
      Pay("x-w3", "edge-switch", "2025-03-03T00:00:01Z", "18.4950", "EUR", "pro"),
      Pay("x-w4", "edge-switch", "2025-04-03T00:00:01Z", "18.4950", "EUR", "pro"),
      // Same-millisecond cancel and create: ties go by event id ascending.
      Sub(T::kSubscriptionCreated, "x-ta0", "edge-tie1", "2025-02-05T00:00:00Z", "pro"),
      Pay("x-ta00", "edge-tie1", "2025-02-05T00:00:01Z", "10.00", "USD", "pro"),
      Sub(T::kSubscriptionCancelled, "x-ta1", "edge-tie1", "2025-03-15T12:00:00Z", "pro"),
      Sub(T::kSubscriptionCreated, "x-ta2", "edge-tie1", "2025-03-15T12:00:00Z",
          "pro"),  // stays subscribed
      Sub(T::kSubscriptionCreated, "x-tb0", "edge-tie2", "2025-02-05T00:00:00Z", "pro"),
      Pay("x-tb00", "edge-tie2", "2025-02-05T00:00:01Z", "10.00", "USD", "pro"),
      Sub(T::kSubscriptionCreated, "x-tb1", "edge-tie2", "2025-03-15T12:00:00Z", "pro"),
      Sub(T::kSubscriptionCancelled, "x-tb2", "edge-tie2", "2025-03-15T12:00:00Z",
          "pro"),  // churns
      // A payment exactly at a month boundary counts for the month it opens.
      Sub(T::kSubscriptionCreated, "x-m1", "edge-monthpay", "2025-02-27T12:00:00Z", "pro"),
      Pay("x-m2", "edge-monthpay", "2025-03-01T00:00:00Z", "19.99", "USD", "pro"),
      // Quarterly plan (3 months) and a plan missing from the catalog (1 month).
      Sub(T::kSubscriptionCreated, "x-q1", "edge-quarter", "2025-02-10T00:00:00Z",
          "team_quarterly"),
      Pay("x-q2", "edge-quarter", "2025-02-10T00:00:01Z", "149.97", "USD", "team_quarterly"),
      Sub(T::kSubscriptionCreated, "x-u1", "edge-mystery", "2025-02-11T00:00:00Z", "mystery"),
      Pay("x-u2", "edge-mystery", "2025-02-11T00:00:01Z", "7.00", "USD", "mystery"),
      // Paid before subscribing; subscribed without ever paying.
      Pay("x-p1", "edge-prepay", "2025-02-05T10:00:00Z", "19.99", "USD", "pro"),
      Sub(T::kSubscriptionCreated, "x-p2", "edge-prepay", "2025-02-10T10:00:00Z", "pro"),
      Sub(T::kSubscriptionCreated, "x-n1", "edge-nopay", "2025-02-12T00:00:00Z", "pro"),
      Sub(T::kSubscriptionCancelled, "x-n2", "edge-nopay", "2025-03-12T00:00:00Z", "pro"),
      // Up, down and up again inside one day.
      Sub(T::kSubscriptionCreated, "x-fl1", "edge-flip", "2025-04-05T10:00:00Z", "pro"),
      Pay("x-fl2", "edge-flip", "2025-04-05T10:00:01Z", "19.99", "USD", "pro"),
      Sub(T::kSubscriptionCancelled, "x-fl3", "edge-flip", "2025-04-05T15:00:00Z", "pro"),
      Sub(T::kSubscriptionCreated, "x-fl4", "edge-flip", "2025-04-05T18:00:00Z", "pro"),
      // Costs: both sides of the gpt-4o price change, a sent 0, split-only price without the
      // split, no price at all, before and after an entry starts, nine decimals, zero tokens.
      Message("x-c1", "edge-cost", "2025-03-14T23:59:59.999Z", "openai", "gpt-4o")
          .Split(1000, 1000),
      Message("x-c2", "edge-cost", "2025-03-15T00:00:00Z", "openai", "gpt-4o").Split(1000, 1000),
      Message("x-c3", "edge-cost", "2025-03-15T00:01:00Z", "openai", "gpt-4o")
          .Split(5000, 5000)
          .Cost("0"),
      Message("x-c4", "edge-cost", "2025-03-15T00:02:00Z", "anthropic", "claude-3-5-sonnet")
          .Tokens(500),
      Message("x-c5", "edge-cost", "2025-03-15T00:03:00Z", "local", "llama-3").Split(10, 10),
      Message("x-c6", "edge-cost", "2025-03-31T23:59:59.999Z", "mistral", "mistral-large")
          .Split(100, 100),
      Message("x-c7", "edge-cost", "2025-04-01T00:00:00Z", "mistral", "mistral-large")
          .Split(100, 100),
      Message("x-c8", "edge-cost", "2025-03-15T00:04:00Z", "openai", "gpt-4o")
          .Tokens(7)
          .Cost("0.123456789"),
      Message("x-c9", "edge-cost", "2025-03-15T00:05:00Z", "openai", "gpt-4o").Split(0, 0),
      Message("x-c10", "edge-cost", "2025-03-31T23:59:59.999Z", "anthropic", "claude-3-5-haiku")
          .Split(1000, 1000),
      Message("x-c11", "edge-cost", "2025-04-01T00:00:00Z", "anthropic", "claude-3-5-haiku")
          .Split(1000, 1000),
  };
  for (auto& ev : e) ds.events.push_back(std::move(ev));
}

DataSet Generate() {
  DataSet ds;
  AddRandomUsers(ds, 20250301, 300);
  AddEdgeCases(ds);
  // Redelivered copies: about 3% of the events, and some of the edge cases on purpose.
  const std::set<std::string> edge_copies = {"x-b4", "x-a7",  "x-t2", "x-s2", "x-d3",
                                             "x-y2", "x-ta2", "x-f3", "x-c1"};
  Rng r(99);
  for (const auto& e : ds.events) {
    if (edge_copies.contains(e.id) || (e.id.starts_with("r-") && r.Chance(3)))
      ds.resent.push_back(e);
  }
  return ds;
}

std::string Ndjson(const std::vector<o::Event>& events, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to && i < events.size(); ++i) out += ToJson(events[i]) + "\n";
  return out;
}

/// Posts events in NDJSON batches; returns an error text, empty on success. Adds the number of
/// stored rows to `*stored`.
std::string PostAll(loadgen::HttpClient& client, const std::vector<o::Event>& events,
                    std::int64_t* stored = nullptr) {
  constexpr std::size_t kBatch = 5000;
  for (std::size_t i = 0; i < events.size(); i += kBatch) {
    const auto reply =
        client.Send("POST", "/api/events", Ndjson(events, i, i + kBatch), "application/x-ndjson");
    if (!reply) return "POST /api/events: no answer";
    if (reply->status != 200)
      return "POST /api/events: " + std::to_string(reply->status) + " " +
             reply->body.substr(0, 500);
    const auto body = json::parse(reply->body);
    if (body.at("rejected").as_int64() != 0)
      return "events rejected: " + reply->body.substr(0, 2000);
    if (stored != nullptr) *stored += body.at("stored").as_int64();
  }
  return {};
}

std::string WriteConfig(const std::filesystem::path& dir, const std::string& name,
                        const char* text) {
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

// Black-box tests against the service.

/// One service for the suite (one process per test under ctest), loaded with the generated data
/// set; duplicate rows really stored (DEDUP_WINDOW_HOURS=0), response cache off.
/// Waits until the query rollup has built every closed 15-minute slot (its pending gauge on
/// /metrics is 0 and something is built), so that what follows is answered from the rollup.
std::string WaitForRollup(loadgen::HttpClient& client) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto metrics = client.Send("GET", "/metrics");
    if (metrics) {
      last = metrics->body;
      if (last.find("analytics_rollup_slots{state=\"pending\"} 0\n") != std::string::npos &&
          last.find("analytics_rollup_slots{state=\"built\"} 0\n") == std::string::npos &&
          last.find("analytics_rollup_slots{state=\"built\"}") != std::string::npos) {
        return "";
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "the query rollup did not finish building; /metrics:\n" + last;
}

class AnalyticsE2e : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = FreshDir("analytics");
    const auto config_dir = dir_.parent_path() / (dir_.filename().string() + "-config");
    std::filesystem::create_directories(config_dir);
    config_dir_ = config_dir;
    service_ = std::make_unique<ServiceProcess>(
        dir_, std::map<std::string, std::string>{
                  {"PLAN_CATALOG_FILE", WriteConfig(config_dir, "plans.json", kPlanCatalog)},
                  {"MODEL_PRICES_FILE", WriteConfig(config_dir, "model-prices.json", kModelPrices)},
                  {"QUERY_CACHE", "off"},
                  {"DEDUP_WINDOW_HOURS", "0"}});
    if (!service_->Start()) {
      setup_error_ = "the service did not start:\n" + service_->Log();
      return;
    }
    auto ds = Generate();
    setup_error_ = PostAll(service_->client(), ds.events, &stored_);
    // The copies in a request of their own, after the originals are stored.
    if (setup_error_.empty()) setup_error_ = PostAll(service_->client(), ds.resent, &restored_);
    // The comparisons run on the rollup (storage_tests compare it with the raw reads).
    if (setup_error_.empty()) setup_error_ = WaitForRollup(service_->client());
    std::vector<o::Event> all = ds.events;
    all.insert(all.end(), ds.resent.begin(), ds.resent.end());
    oracle_ = std::make_unique<o::Oracle>(std::move(all), PlanCatalog(), ModelPrices());
    sent_ = ds.events.size();
    resent_ = ds.resent.size();
  }
  static void TearDownTestSuite() {
    service_.reset();
    oracle_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(config_dir_);
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }
  void TearDown() override {
    if (HasFailure() && service_) {
      const auto log = service_->Log();
      std::cerr << "---- service log (tail) ----\n"
                << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
    }
  }

  static void Check(const std::string& endpoint, const Params& params) {
    CheckAgainstOracle(service_->client(), *oracle_, endpoint, params);
  }

  static inline std::filesystem::path dir_;
  static inline std::filesystem::path config_dir_;
  static inline std::unique_ptr<ServiceProcess> service_;
  static inline std::unique_ptr<o::Oracle> oracle_;
  static inline std::string setup_error_;
  static inline std::size_t sent_ = 0;
  static inline std::size_t resent_ = 0;
  static inline std::int64_t stored_ = 0;
  static inline std::int64_t restored_ = 0;
};

Params Range(const char* start, const char* end, const char* tz, const char* granularity) {
  Params p = {{"startDate", start}, {"endDate", end}};
  if (tz != nullptr) p.emplace_back("tz", tz);
  if (granularity != nullptr) p.emplace_back("granularity", granularity);
  return p;
}

/// Ranges every endpoint is asked for: dates and date-times, UTC, DST and half-hour zones, each
/// granularity, buckets cut by the range, a range with hardly any events (October) where MRR
/// carries on.
std::vector<Params> MainRanges() {
  return {
      Range("2025-02-01", "2025-04-30", nullptr,
            nullptr),  // defaults: UTC, day (week for retention)
      Range("2025-02-01", "2025-04-30", "Europe/Berlin", "week"),
      Range("2025-01-01", "2025-04-30", "Europe/Berlin", "month"),
      Range("2025-03-29T12:00:00+01:00", "2025-03-31T06:00:00+02:00", "Europe/Berlin", "hour"),
      Range("2025-03-05", "2025-03-20", "Asia/Kolkata", "day"),
      Range("2025-02-10T15:30:00Z", "2025-03-20T08:00:00+01:00", "UTC", "week"),
      Range("2025-10-20", "2025-11-02", "Europe/Berlin", "day"),
  };
}

/// More ranges for the endpoints with buckets.
std::vector<Params> SeriesRanges() {
  return {
      Range("2025-10-25T20:00:00Z", "2025-10-26T06:00:00Z", "Europe/Berlin",
            "hour"),  // the repeated hour
      Range("2025-03-10T06:00:00Z", "2025-03-11T00:00:00Z", "Asia/Kolkata", "hour"),
      Range("2025-02-15", "2025-04-30", "Asia/Kolkata", "month"),
      Range("2025-03-12", "2025-03-13", "UTC", "hour"),
      // Milliseconds in the parameters: 11:00:00.001 is exclusive, so x-s3 stays out.
      Range("2025-03-12T09:59:59.999Z", "2025-03-12T11:00:00.001Z", "UTC", "hour"),
      // A negative offset and the US spring change (2025-03-09).
      Range("2025-03-08T00:00:00-05:00", "2025-03-10", "America/New_York", "day"),
  };
}

void CheckFamily(const std::string& prefix,
                 const std::function<void(const std::string&, const Params&)>& check) {
  for (const auto& endpoint : o::Endpoints()) {
    if (!endpoint.starts_with(prefix)) continue;
    for (const auto& range : MainRanges()) check(endpoint, range);
    if (o::HasBuckets(endpoint, "")) {
      for (const auto& range : SeriesRanges()) check(endpoint, range);
    }
    for (const auto& group_by : o::GroupByValues(endpoint)) {
      for (const auto& base : {MainRanges()[0], MainRanges()[1], MainRanges()[3]}) {
        auto p = base;
        p.emplace_back("groupBy", group_by);
        check(endpoint, p);
      }
    }
  }
}

TEST_F(AnalyticsE2e, UsersEndpointsMatchTheOracle) {
  CheckFamily("users/", Check);
  // The summary windows of users/active ending at an hour inside a day.
  Check("users/active", Range("2025-03-01", "2025-03-31T12:00:00+02:00", "Europe/Berlin", "week"));
  std::cout << "compared " << Compared() << " answers\n";
  ExpectCovered({"newUsers>0", "totalUsers>0", "activeUsers>0", "stickiness in (0,1)", "period>0",
                 "rate in (0,1)"});
}

TEST_F(AnalyticsE2e, ChatEndpointsMatchTheOracle) {
  CheckFamily("chat/", Check);
  std::cout << "compared " << Compared() << " answers\n";
  ExpectCovered({"messages>0", "deleted>0", "inputTokens>0", "avgTokensPerMessage=null",
                 "share in (0,1)", "medianDurationSeconds>0", "avgDurationSeconds=null"});
}

TEST_F(AnalyticsE2e, RevenueEndpointsMatchTheOracle) {
  CheckFamily("revenue/", Check);
  std::cout << "compared " << Compared() << " answers\n";
  ExpectCovered({"newMrr>0", "expansionMrr>0", "contractionMrr>0", "churnedMrr>0",
                 "reactivationMrr>0", "arr>0", "customerChurnRate>0", "grossMrrChurnRate=null",
                 "netMrrChurnRate<0", "failedPayments>0"});
}

TEST_F(AnalyticsE2e, ProvidersEndpointsMatchTheOracle) {
  CheckFamily("providers/", Check);
  for (const char* limit : {"1", "3", "20"}) {
    auto p = MainRanges()[0];
    p.emplace_back("limit", limit);
    Check("providers/popularity", p);
  }
  auto p = MainRanges()[4];
  p.emplace_back("limit", "2");
  Check("providers/popularity", p);
  std::cout << "compared " << Compared() << " answers\n";
  ExpectCovered({"costUsd>0", "unpricedMessages>0", "provider=(other)", "provider=local",
                 "conversations>0", "p99LatencyMs>0", "outputTokens>0"});
}

TEST_F(AnalyticsE2e, DuplicatesWereStoredAsRowsAndCountOnce) {
  // With DEDUP_WINDOW_HOURS=0 the resent copies became rows of their own, so every comparison
  // above also checks that reads count each event id once.
  ASSERT_GT(resent_, 100u);
  EXPECT_EQ(stored_, static_cast<std::int64_t>(sent_));
  EXPECT_GT(restored_, static_cast<std::int64_t>(resent_) * 9 / 10)
      << "most copies should be rows of their own";
  const auto stats = service_->client().Send("GET", "/api/events/stats");
  ASSERT_TRUE(stats);
  ASSERT_EQ(stats->status, 200) << stats->body;
  const auto body = json::parse(stats->body);
  EXPECT_EQ(body.at("total").to_number<std::int64_t>(),
            static_cast<std::int64_t>(oracle_->events().size()))
      << stats->body;
  std::map<std::string, std::int64_t> by_type;
  for (const auto& e : oracle_->events()) ++by_type[std::string(o::TypeName(e.type))];
  for (const auto& [type, n] : by_type) {
    EXPECT_EQ(body.at("byType").at(type).to_number<std::int64_t>(), n) << type;
  }
  std::cout << "data set: " << sent_ << " events, " << resent_ << " resent copies, "
            << by_type.size() << " types\n";
  Check("chat/messages", Range("2025-01-01", "2025-12-31", nullptr, "month"));
  Check("revenue/total", Range("2024-01-01", "2025-12-31", nullptr, nullptr));
}

// docs/metrics.md: DEDUP_WINDOW_HOURS=0 disables the redelivery window, so a copy sent in a later
// request is stored again (reads still count it once).
TEST_F(AnalyticsE2e, ZeroDedupWindowStoresEveryLaterCopy) {
  EXPECT_EQ(restored_, static_cast<std::int64_t>(resent_))
      << (static_cast<std::int64_t>(resent_) - restored_) << " of " << resent_
      << " copies, sent in a later request than their originals, were answered as duplicates";
}

/// A 400 with the error shape and the expected `field`.
void ExpectBadRequest(loadgen::HttpClient& client, const std::string& target,
                      const std::string& field) {
  SCOPED_TRACE(target);
  const auto reply = client.Send("GET", target);
  ASSERT_TRUE(reply) << target;
  EXPECT_EQ(reply->status, 400) << "GET " << target << "\n" << reply->body.substr(0, 1000);
  json::value body;
  try {
    body = json::parse(reply->body);
  } catch (const std::exception&) {
    ADD_FAILURE() << "GET " << target << ": body is not JSON: " << reply->body.substr(0, 500);
    return;
  }
  const auto* error = body.is_object() ? body.as_object().if_contains("error") : nullptr;
  ASSERT_TRUE(error && error->is_object())
      << "GET " << target << ": no error object: " << reply->body;
  const auto& e = error->as_object();
  EXPECT_EQ(e.contains("code") ? e.at("code") : json::value(), json::value("invalid_argument"))
      << "GET " << target << ": " << reply->body;
  EXPECT_EQ(e.contains("field") ? e.at("field") : json::value(), json::value(field))
      << "GET " << target << ": " << reply->body;
  EXPECT_TRUE(e.contains("message") && e.at("message").is_string() &&
              !e.at("message").as_string().empty())
      << "GET " << target << ": " << reply->body;
}

/// A service per test with the hand-computed data set only: quick to start, for the error
/// cases, defaults and the response cache.
class AnalyticsSmallE2e : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir("analytics-small");
    config_dir_ = dir_.parent_path() / (dir_.filename().string() + "-config");
    std::filesystem::create_directories(config_dir_);
  }
  void TearDown() override {
    if (HasFailure() && service_)
      std::cerr << "---- service log ----\n" << service_->Log().substr(0, 4000);
    service_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(config_dir_);
  }
  ServiceProcess& StartService(bool cache) {
    service_ = std::make_unique<ServiceProcess>(
        dir_,
        std::map<std::string, std::string>{
            {"PLAN_CATALOG_FILE", WriteConfig(config_dir_, "plans.json", kPlanCatalog)},
            {"MODEL_PRICES_FILE", WriteConfig(config_dir_, "model-prices.json", kModelPrices)},
            {"QUERY_CACHE", cache ? "on" : "off"},
            {"QUERY_CACHE_TTL_SECONDS", "300"}});
    EXPECT_TRUE(service_->Start()) << service_->Log();
    EXPECT_EQ(PostAll(service_->client(), TinyEvents()), "");
    return *service_;
  }

  std::filesystem::path dir_;
  std::filesystem::path config_dir_;
  std::unique_ptr<ServiceProcess> service_;
};

TEST_F(AnalyticsSmallE2e, BadParametersAre400WithTheField) {
  auto& c = StartService(false).client();
  const std::string dates = "startDate=2025-03-01&endDate=2025-03-31";
  ExpectBadRequest(c, "/api/analytics/users/active?" + dates + "&tz=Mars/Olympus_Mons", "tz");
  ExpectBadRequest(c, "/api/analytics/chat/messages?" + dates + "&granularity=fortnight",
                   "granularity");
  ExpectBadRequest(c, "/api/analytics/chat/messages?" + dates + "&groupBy=color", "groupBy");
  ExpectBadRequest(c, "/api/analytics/chat/by-provider?" + dates + "&groupBy=provider", "groupBy");
  ExpectBadRequest(c, "/api/analytics/providers/performance?" + dates + "&groupBy=bucket",
                   "groupBy");
  ExpectBadRequest(c, "/api/analytics/users/count?" + dates + "&groupBy=model", "groupBy");
  ExpectBadRequest(c, "/api/analytics/revenue/mrr?" + dates + "&foo=1", "foo");
  ExpectBadRequest(c, "/api/analytics/users/count?" + dates + "&limit=5", "limit");
  ExpectBadRequest(c, "/api/analytics/providers/popularity?" + dates + "&limit=0", "limit");
  ExpectBadRequest(c, "/api/analytics/providers/popularity?" + dates + "&limit=-3", "limit");
  ExpectBadRequest(c, "/api/analytics/providers/popularity?" + dates + "&limit=1001", "limit");
  ExpectBadRequest(c, "/api/analytics/providers/popularity?" + dates + "&limit=ten", "limit");
  ExpectBadRequest(c,
                   "/api/analytics/users/growth?startDate=2025-03-01T10:00:00&endDate=2025-03-31",
                   "startDate");
  ExpectBadRequest(
      c, "/api/analytics/users/growth?startDate=2025-03-01&endDate=2025-03-31T10:00:00", "endDate");
  ExpectBadRequest(c, "/api/analytics/users/growth?startDate=2025-02-30&endDate=2025-03-31",
                   "startDate");
  ExpectBadRequest(c, "/api/analytics/chat/tokens?startDate=2025-03-05&endDate=2025-03-01",
                   "startDate");
  ExpectBadRequest(c,
                   "/api/analytics/chat/tokens?startDate=2025-03-05T00:00:00Z&endDate=" +
                       UrlEncode("2025-03-05T01:00:00+01:00"),
                   "startDate");  // start == end
  // 10,001 hourly buckets; exactly 10,000 is fine; answers without buckets have no limit.
  const std::string hours_10001 =
      "startDate=2024-01-01T00:00:00Z&endDate=2025-02-20T17:00:00Z&granularity=hour";
  const std::string hours_10000 =
      "startDate=2024-01-01T00:00:00Z&endDate=2025-02-20T16:00:00Z&granularity=hour";
  ExpectBadRequest(c, "/api/analytics/chat/messages?" + hours_10001, "granularity");
  ExpectBadRequest(c, "/api/analytics/users/retention?" + hours_10001, "granularity");
  ExpectBadRequest(c, "/api/analytics/providers/usage?" + hours_10001 + "&groupBy=bucket",
                   "granularity");
  for (const auto& ok : {"/api/analytics/chat/conversations?" + hours_10000,
                         "/api/analytics/users/count?" + hours_10001,
                         "/api/analytics/providers/usage?" + hours_10001}) {
    const auto reply = c.Send("GET", ok);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200) << "GET " << ok << "\n" << reply->body.substr(0, 500);
  }
  const auto exact = c.Send("GET", "/api/analytics/chat/conversations?" + hours_10000);
  ASSERT_TRUE(exact);
  if (exact->status == 200) {
    EXPECT_EQ(json::parse(exact->body).at("data").as_array().size(), 10'000u);
  }
}

TEST_F(AnalyticsSmallE2e, DefaultRangeIsTheThirtyDaysEndingNow) {
  const auto reply = StartService(false).client().Send("GET", "/api/analytics/users/count");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 200) << reply->body;
  const auto meta = json::parse(reply->body).at("meta");
  const auto* utc = Zone("UTC");
  const auto start = o::ResolveDateParam(std::string(meta.at("startDate").as_string()), utc, false);
  const auto end = o::ResolveDateParam(std::string(meta.at("endDate").as_string()), utc, false);
  ASSERT_TRUE(start && end) << reply->body;
  EXPECT_EQ(*end - *start, std::chrono::days(30)) << reply->body;
  const auto now = std::chrono::time_point_cast<o::Millis>(std::chrono::system_clock::now());
  EXPECT_LT(std::chrono::abs(now - *end), std::chrono::minutes(5)) << reply->body;
  EXPECT_EQ(meta.at("granularity"), json::value("day"));
  EXPECT_EQ(meta.at("tz"), json::value("UTC"));
  EXPECT_EQ(meta.at("cached"), json::value(false));
}

// With the cache on, a repeated request is answered from it, with the same data.
TEST_F(AnalyticsSmallE2e, RepeatedRequestSaysCachedWithTheSameData) {
  auto& service = StartService(true);
  const o::Oracle oracle(TinyEvents(), PlanCatalog(), ModelPrices());
  for (const auto& endpoint :
       {std::string("users/count"), std::string("revenue/mrr"), std::string("providers/costs")}) {
    CheckAgainstOracle(service.client(), oracle, endpoint, kTinyUtc, false);
    CheckAgainstOracle(service.client(), oracle, endpoint, kTinyUtc, true);
  }
  // Another parameter is another entry.
  Params berlin = kTinyUtc;
  berlin.emplace_back("tz", "Europe/Berlin");
  CheckAgainstOracle(service.client(), oracle, "users/count", berlin, false);
  CheckAgainstOracle(service.client(), oracle, "users/count", berlin, true);
}

}  // namespace
}  // namespace e2e
