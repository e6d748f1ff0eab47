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
  // Copies that reached storage (past the ingest window): FINAL collapses them everywhere.
  std::vector<domain::Event> copies(events.begin(), events.begin() + 500);
  app::Rollup rollup;
  Write(rollup, events);
  Write(rollup, copies);

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
