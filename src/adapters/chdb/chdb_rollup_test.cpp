// The query rollup on the embedded engine: every read the rollup answers must equal the raw SQL
// read (latency percentiles within 0.5%) before it is built, once built, while slots are stale
// after late writes, and once rebuilt; over generated data with copies stored twice, in several
// zones and granularities, with whole-day and millisecond range bounds.

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>

#include "adapters/chdb/chdb_event_store.hpp"
#include "adapters/clickhouse/analytics_sql.hpp"
#include "app/ingest_service.hpp"
#include "app/rollup_builder.hpp"
#include "app/rollup_store.hpp"
#include "domain/event_decoder.hpp"
#include "domain/timestamp.hpp"
#include "loadgen/generator.hpp"

namespace adapters::chdb {
namespace {

base::TimePoint At(std::string_view iso) { return *domain::ParseIsoDateTime(iso); }
std::int64_t Ms(base::TimePoint t) { return t.time_since_epoch().count(); }

class PlainPseudonymizer final : public app::Pseudonymizer {
 public:
  std::string PseudonymizeId(std::string_view raw) const override { return "p-" + std::string(raw); }
  std::string DeriveEventId(std::string_view canonical) const override {
    return "d-" + std::to_string(std::hash<std::string_view>{}(canonical));
  }
};

std::vector<domain::Event> Generated(base::TimePoint start, base::TimePoint end, int users,
                                     std::uint64_t seed, std::uint64_t first_user) {
  loadgen::Scenario scenario;
  scenario.seed = seed;
  scenario.start = start;
  scenario.end = end;
  scenario.users = users;
  scenario.first_user_number = first_user;
  std::string body;
  loadgen::Generator(scenario).Generate([&](loadgen::GeneratedEvent&& e) {
    body += e.json;
    body.push_back('\n');
  });
  domain::DecodeLimits limits;
  limits.max_batch_events = 10'000'000;
  limits.max_future_skew = std::chrono::hours(24 * 3650);
  auto decoded = domain::DecodeBody(body, domain::BodyFormat::kNdjson, limits, end);
  std::vector<domain::Event> out;
  PlainPseudonymizer p;
  for (auto& d : *decoded) {
    if (d) out.push_back(app::PrepareEvent(std::move(*d), p));
  }
  return out;
}

class ChdbRollupTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("chdb_rollup_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    ChdbEventStore::Options options;
    options.library_path = ANALYTICS_TEST_CHDB_LIB;
    options.data_dir = (dir_ / "clickhouse").string();
    options.database = "rollup_test";
    auto store = ChdbEventStore::Open(options, clock_);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate().has_value());
    raw_ = std::make_unique<clickhouse::ClickHouseAnalyticsStore>(
        [](const std::string& sql, std::string_view format) { return store_->Query(sql, format); },
        "rollup_test");
  }
  static void TearDownTestSuite() {
    raw_.reset();
    if (store_) store_->Close();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Writes as the ingest path does: announced to the rollup first.
  static void Write(app::Rollup& rollup, const std::vector<domain::Event>& events) {
    rollup.BeforeWrite(events);
    ASSERT_TRUE(store_->Append(events).has_value());
    rollup.AfterWrite(events);
  }

  static inline std::filesystem::path dir_;
  static inline base::FixedClock clock_{At("2025-03-20T00:00:00Z")};
  static inline std::unique_ptr<ChdbEventStore> store_;
  static inline std::unique_ptr<clickhouse::ClickHouseAnalyticsStore> raw_;
};

struct Case {
  domain::TimeRange range;
  std::string tz;
  domain::Granularity granularity;
};

// Every rollup read equals the raw read; `what` names the phase in failures.
void ExpectSameAnswers(app::AnalyticsStore& raw, app::AnalyticsStore& rollup, const Case& c,
                       const std::string& what) {
  const auto tz = *domain::TimeZone::Locate(c.tz);
  const app::Bucketing b{c.granularity, &tz};
  const auto r = c.range;
  SCOPED_TRACE(fmt::format("{}: {} .. {} {} granularity {}", what, Ms(r.start), Ms(r.end), c.tz,
                           static_cast<int>(c.granularity)));
  const auto same = [](const auto& a, const auto& e, const char* read) {
    ASSERT_TRUE(a.has_value()) << read << ": " << a.error().message;
    ASSERT_TRUE(e.has_value()) << read << ": " << e.error().message;
  };
  {
    auto a = rollup.Signups(r), e = raw.Signups(r);
    same(a, e, "Signups");
    EXPECT_EQ(a->total_before_end, e->total_before_end);
    EXPECT_EQ(a->new_in_range, e->new_in_range);
    auto ab = rollup.SignupsByBucket(r, b), eb = raw.SignupsByBucket(r, b);
    same(ab, eb, "SignupsByBucket");
    ASSERT_EQ(ab->size(), eb->size());
    for (std::size_t i = 0; i < ab->size(); ++i) {
      EXPECT_EQ(std::tie((*ab)[i].bucket_ms, (*ab)[i].count), std::tie((*eb)[i].bucket_ms, (*eb)[i].count));
    }
    auto ap = rollup.PlansAt(r.end), ep = raw.PlansAt(r.end);
    same(ap, ep, "PlansAt");
    ASSERT_EQ(ap->size(), ep->size());
    for (std::size_t i = 0; i < ap->size(); ++i) {
      EXPECT_EQ(std::tie((*ap)[i].name, (*ap)[i].count), std::tie((*ep)[i].name, (*ep)[i].count));
    }
  }
  {
    auto a = rollup.Conversations(r, b), e = raw.Conversations(r, b);
    same(a, e, "Conversations");
    ASSERT_EQ(a->size(), e->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ(std::tie((*a)[i].bucket_ms, (*a)[i].created, (*a)[i].deleted),
                std::tie((*e)[i].bucket_ms, (*e)[i].created, (*e)[i].deleted));
    }
  }
  for (const bool by_plan : {false, true}) {
    auto a = rollup.Payments(r, by_plan), e = raw.Payments(r, by_plan);
    same(a, e, "Payments");
    ASSERT_EQ(a->size(), e->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ(std::tie((*a)[i].plan, (*a)[i].currency, (*a)[i].amount, (*a)[i].payments),
                std::tie((*e)[i].plan, (*e)[i].currency, (*e)[i].amount, (*e)[i].payments));
    }
  }
  {
    auto a = rollup.PaymentOutcomes(r), e = raw.PaymentOutcomes(r);
    same(a, e, "PaymentOutcomes");
    EXPECT_EQ(a->succeeded, e->succeeded);
    EXPECT_EQ(a->failed, e->failed);
    auto ah = rollup.BillingHistory(r.end), eh = raw.BillingHistory(r.end);
    same(ah, eh, "BillingHistory");
    // Customers may come in any order; each one's events in order. A stable sort by customer
    // keeps that order, so both answers become the same sequence.
    std::ranges::stable_sort(*ah, {}, &app::BillingEvent::customer);
    std::ranges::stable_sort(*eh, {}, &app::BillingEvent::customer);
    ASSERT_EQ(ah->size(), eh->size());
    for (std::size_t i = 0; i < ah->size(); ++i) {
      const auto &x = (*ah)[i], &y = (*eh)[i];
      EXPECT_EQ(std::tie(x.customer, x.kind, x.ts_ms, x.plan, x.currency, x.amount),
                std::tie(y.customer, y.kind, y.ts_ms, y.plan, y.currency, y.amount));
    }
  }
  {
    auto a = rollup.ActiveUsers(r, b), e = raw.ActiveUsers(r, b);
    same(a, e, "ActiveUsers");
    ASSERT_EQ(a->size(), e->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].bucket_ms, (*e)[i].bucket_ms);
      EXPECT_EQ((*a)[i].count, (*e)[i].count) << "bucket " << (*e)[i].bucket_ms;
    }
  }
  {
    const auto last = r.end - std::chrono::milliseconds(1);
    const auto day = tz.DayStart(last), week = tz.DayStart(last, -6), month = tz.DayStart(last, -29);
    auto a = rollup.ActiveUsersSince(day, week, month, r.end);
    auto e = raw.ActiveUsersSince(day, week, month, r.end);
    same(a, e, "ActiveUsersSince");
    EXPECT_EQ(a->day, e->day);
    EXPECT_EQ(a->week, e->week);
    EXPECT_EQ(a->month, e->month);
  }
  {
    auto a = rollup.Retention(r, b), e = raw.Retention(r, b);
    same(a, e, "Retention");
    ASSERT_EQ(a->cohort_sizes.size(), e->cohort_sizes.size());
    for (std::size_t i = 0; i < a->cohort_sizes.size(); ++i) {
      EXPECT_EQ(a->cohort_sizes[i].bucket_ms, e->cohort_sizes[i].bucket_ms);
      EXPECT_EQ(a->cohort_sizes[i].count, e->cohort_sizes[i].count);
    }
    ASSERT_EQ(a->active.size(), e->active.size());
    for (std::size_t i = 0; i < a->active.size(); ++i) {
      EXPECT_EQ(a->active[i].cohort_ms, e->active[i].cohort_ms);
      EXPECT_EQ(a->active[i].bucket_ms, e->active[i].bucket_ms);
      EXPECT_EQ(a->active[i].users, e->active[i].users);
    }
  }
  for (const auto gap : {std::chrono::minutes(30), std::chrono::minutes(15), std::chrono::minutes(5)}) {
    auto a = rollup.Sessions(r, b, gap), e = raw.Sessions(r, b, gap);
    same(a, e, "Sessions");
    ASSERT_EQ(a->size(), e->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].bucket_ms, (*e)[i].bucket_ms);
      EXPECT_EQ((*a)[i].sessions, (*e)[i].sessions);
      EXPECT_EQ((*a)[i].total_duration_ms, (*e)[i].total_duration_ms);
      EXPECT_DOUBLE_EQ((*a)[i].median_duration_ms, (*e)[i].median_duration_ms);
    }
  }
  for (int mask = 0; mask < 16; ++mask) {
    app::MessageGrouping g;
    g.bucketing = (mask & 1) != 0 ? b : app::Bucketing{};
    g.by_provider = (mask & 2) != 0;
    g.by_model = (mask & 4) != 0;
    g.distinct_users = g.distinct_conversations = (mask & 8) != 0;
    auto a = rollup.Messages(r, g), e = raw.Messages(r, g);
    same(a, e, "Messages");
    ASSERT_EQ(a->size(), e->size()) << "grouping " << mask;
    for (std::size_t i = 0; i < a->size(); ++i) {
      const auto &x = (*a)[i], &y = (*e)[i];
      EXPECT_EQ(std::tie(x.bucket_ms, x.provider, x.model, x.messages, x.tokens, x.input_tokens,
                         x.output_tokens, x.users, x.conversations),
                std::tie(y.bucket_ms, y.provider, y.model, y.messages, y.tokens, y.input_tokens,
                         y.output_tokens, y.users, y.conversations))
          << "grouping " << mask << " row " << i;
    }
  }
  {
    const std::vector<std::int64_t> breakpoints = {Ms(At("2025-03-01T00:00:00Z")),
                                                   Ms(At("2025-03-10T00:00:00Z"))};
    for (const auto* bucketing : {&b, static_cast<const app::Bucketing*>(nullptr)}) {
      const app::Bucketing none{};
      const auto& bb = bucketing != nullptr ? *bucketing : none;
      auto a = rollup.CostGroups(r, bb, breakpoints), e = raw.CostGroups(r, bb, breakpoints);
      same(a, e, "CostGroups");
      ASSERT_EQ(a->size(), e->size());
      for (std::size_t i = 0; i < a->size(); ++i) {
        const auto &x = (*a)[i], &y = (*e)[i];
        EXPECT_EQ(std::tie(x.bucket_ms, x.provider, x.model, x.epoch, x.has_cost, x.has_split,
                           x.messages, x.cost, x.tokens, x.input_tokens, x.output_tokens),
                  std::tie(y.bucket_ms, y.provider, y.model, y.epoch, y.has_cost, y.has_split,
                           y.messages, y.cost, y.tokens, y.input_tokens, y.output_tokens));
      }
    }
  }
  {
    auto a = rollup.ModelUsage(r), e = raw.ModelUsage(r);
    same(a, e, "ModelUsage");
    ASSERT_EQ(a->size(), e->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ(std::tie((*a)[i].provider, (*a)[i].model, (*a)[i].messages, (*a)[i].users),
                std::tie((*e)[i].provider, (*e)[i].model, (*e)[i].messages, (*e)[i].users));
    }
    std::vector<std::pair<std::string, std::string>> excluded;
    for (std::size_t i = 0; i < e->size(); i += 2) excluded.emplace_back((*e)[i].provider, (*e)[i].model);
    auto ao = rollup.UsersOutside(r, excluded), eo = raw.UsersOutside(r, excluded);
    same(ao, eo, "UsersOutside");
    EXPECT_EQ(*ao, *eo);
  }
  for (const bool by_model : {false, true}) {
    auto a = rollup.Latencies(r, by_model), e = raw.Latencies(r, by_model);
    same(a, e, "Latencies");
    ASSERT_EQ(a->size(), e->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      const auto &x = (*a)[i], &y = (*e)[i];
      EXPECT_EQ(std::tie(x.provider, x.model, x.messages), std::tie(y.provider, y.model, y.messages));
      EXPECT_NEAR(x.avg_ms, y.avg_ms, 1e-9 * y.avg_ms);
      EXPECT_NEAR(x.p50_ms, y.p50_ms, 0.005 * y.p50_ms + 1e-9);
      EXPECT_NEAR(x.p95_ms, y.p95_ms, 0.005 * y.p95_ms + 1e-9);
      EXPECT_NEAR(x.p99_ms, y.p99_ms, 0.005 * y.p99_ms + 1e-9);
    }
  }
}

TEST_F(ChdbRollupTest, EveryRollupReadEqualsTheRawReadInEveryState) {
  const auto start = At("2025-02-20T00:00:00Z"), end = At("2025-03-19T00:00:00Z");
  auto events = Generated(start, end, 150, 7, 1);
  ASSERT_GT(events.size(), 5000u);
  // Hand-made: two plan changes at one instant (the larger event id wins), failed payments.
  const auto hand = [](std::string id, domain::EventType type, std::string_view at) {
    domain::Event e;
    e.event_id = std::move(id);
    e.type = type;
    e.timestamp = At(at);
    e.user_id = "p-hand";
    e.plan = "free";
    e.currency = "USD";
    return e;
  };
  events.push_back(hand("h0", domain::EventType::kUserSignup, "2025-03-01T10:00:00Z"));
  events.push_back(hand("h2", domain::EventType::kUserPlanUpgrade, "2025-03-02T10:00:00Z"));
  events.back().to_plan = "team";
  events.push_back(hand("h1", domain::EventType::kUserPlanDowngrade, "2025-03-02T10:00:00Z"));
  events.back().to_plan = "starter";
  for (int i = 0; i < 3; ++i) {
    events.push_back(hand(fmt::format("hf{}", i), domain::EventType::kBillingPaymentFailed,
                          fmt::format("2025-03-0{}T12:00:00.5Z", 3 + i)));
    events.back().amount = domain::Amount{19'9900};
  }
  // Copies that reached storage (past the ingest window): FINAL collapses them everywhere.
  std::vector<domain::Event> copies(events.begin(), events.begin() + 500);
  app::Rollup rollup;
  Write(rollup, events);
  Write(rollup, copies);

  // The data holds what every read needs: plan changes, billing, latencies, conversations.
  ASSERT_GT(raw_->BillingHistory(end)->size(), 50u);
  ASSERT_GE(raw_->PlansAt(end)->size(), 3u);
  ASSERT_GT(raw_->PaymentOutcomes({start, end})->failed, 0u);
  ASSERT_FALSE(raw_->Latencies({start, end}, true)->empty());
  ASSERT_FALSE(raw_->Conversations({start, end}, {})->empty());

  app::RollupAnalyticsStore store(*raw_, *raw_, rollup, {});
  app::RollupBuilder builder(rollup, *raw_, clock_, {});
  const std::vector<Case> cases = {
      {{At("2025-03-01T00:00:00Z"), At("2025-03-15T00:00:00Z")}, "UTC", domain::Granularity::kDay},
      {{At("2025-02-16T23:00:00Z"), At("2025-03-16T23:00:00Z")}, "Europe/Berlin", domain::Granularity::kWeek},
      {{At("2025-03-02T18:30:00Z"), At("2025-03-04T18:30:00Z")}, "Asia/Kolkata", domain::Granularity::kHour},
      {{At("2025-03-09T04:00:00Z"), At("2025-03-10T04:00:00Z")}, "America/New_York", domain::Granularity::kHour},
      {{At("2025-01-01T00:00:00Z"), At("2025-04-01T00:00:00Z")}, "UTC", domain::Granularity::kMonth},
      {{At("2025-03-03T12:34:56.789Z"), At("2025-03-12T07:08:09.123Z")}, "UTC", domain::Granularity::kDay},
      {{At("2025-03-18T20:00:00Z"), At("2025-03-21T00:00:00Z")}, "UTC", domain::Granularity::kHour},
  };
  for (const auto& c : cases) ExpectSameAnswers(*raw_, store, c, "not built");

  ASSERT_TRUE(builder.BuildAll().has_value());
  const auto stats = rollup.GetStats();
  EXPECT_TRUE(stats.backfilled);
  EXPECT_EQ(stats.pending_slots, 0u);
  // Built: a closed whole-slot range needs nothing from storage.
  const auto plan = rollup.Plan(Ms(cases[0].range.start), Ms(cases[0].range.end));
  EXPECT_EQ(plan.missing_ms, 0);
  EXPECT_GT(plan.slots.size(), 100u);
  EXPECT_EQ(rollup.Plan(0, Ms(cases[0].range.end)).missing_ms, 0);  // all history before it
  for (const auto& c : cases) ExpectSameAnswers(*raw_, store, c, "built");

  // Late events into built slots (another user base), and more copies: those slots go stale
  // and are read from storage until rebuilt.
  auto late = Generated(At("2025-03-05T00:00:00Z"), At("2025-03-08T00:00:00Z"), 20, 11, 5000);
  ASSERT_FALSE(late.empty());
  Write(rollup, late);
  Write(rollup, std::vector<domain::Event>(late.begin(), late.begin() + late.size() / 3));
  const auto stale = rollup.Plan(Ms(cases[0].range.start), Ms(cases[0].range.end));
  EXPECT_GT(stale.missing_ms, 0);
  for (const auto& c : cases) ExpectSameAnswers(*raw_, store, c, "stale");

  ASSERT_TRUE(builder.BuildAll().has_value());
  EXPECT_EQ(rollup.Plan(Ms(cases[0].range.start), Ms(cases[0].range.end)).missing_ms, 0);
  for (const auto& c : cases) ExpectSameAnswers(*raw_, store, c, "rebuilt");
}

}  // namespace
}  // namespace adapters::chdb
