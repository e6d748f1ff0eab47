// Analytics query latency: loads generated events into the embedded engine, then times every
// endpoint of the query service (response cache off) and prints p50/p99 per endpoint, next to
// the floor of the same engine: a deduplicated count over the same range, timed the same way.
//   query_bench --events 10000000            (full size; --events 100000000 for the large run)
// Prints numbers; exits non-zero only when something did not work.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "adapters/chdb/chdb_event_store.hpp"
#include "adapters/clickhouse/analytics_sql.hpp"
#include "adapters/clickhouse/row_binary.hpp"
#include "adapters/crypto/hmac_pseudonymizer.hpp"
#include "app/ingest_service.hpp"
#include "app/query_service.hpp"
#include "app/rollup_builder.hpp"
#include "app/rollup_store.hpp"
#include "domain/event_decoder.hpp"
#include "loadgen/generator.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Case {
  domain::Metric metric;
  std::map<std::string, std::string> params;
};

std::string Describe(const Case& c) {
  std::string s(domain::SpecOf(c.metric).path);
  for (const auto& [k, v] : c.params) {
    if (k != "startDate" && k != "endDate") s += fmt::format(" {}={}", k, v);
  }
  return s;
}

double Percentile(std::vector<double> v, double q) {
  std::ranges::sort(v);
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size()));
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"analytics query latency per endpoint, response cache off"};
  std::uint64_t events = 1'000'000;
  int runs = 20;
  std::uint64_t seed = 42;
  std::string work_dir = "/tmp/analytics-query-bench";
  app.add_option("--events", events, "events to generate and load")->capture_default_str();
  app.add_option("--runs", runs, "timed runs per endpoint (after one warm-up)")->capture_default_str();
  app.add_option("--seed", seed, "generator seed")->capture_default_str();
  app.add_option("--dir", work_dir, "scratch directory (emptied unless --reuse)")->capture_default_str();
  bool reuse = false;
  std::vector<std::string> probes;
  bool keep = false;
  app.add_flag("--reuse", reuse, "query the data an earlier --keep run left in --dir instead of loading");
  app.add_flag("--keep", keep, "leave the loaded data in --dir");
  app.add_option("--sql", probes, "also time these statements (repeatable)");
  std::string only;
  app.add_option("--only", only, "time only the endpoints whose description contains this text");
  CLI11_PARSE(app, argc, argv);
  runs = std::max(runs, 1);
  reuse = reuse && std::filesystem::exists(work_dir + "/clickhouse");
  if (!reuse) std::filesystem::remove_all(work_dir);
  std::filesystem::create_directories(work_dir);

  base::SystemClock clock;
  adapters::chdb::ChdbEventStore::Options options;
  options.library_path = ANALYTICS_TEST_CHDB_LIB;
  options.data_dir = work_dir + "/clickhouse";
  auto store = adapters::chdb::ChdbEventStore::Open(options, clock);
  if (!store || !(*store)->Migrate()) {
    std::cerr << "cannot open the store\n";
    return 1;
  }

  // 1. Load: generated NDJSON, decoded and pseudonymised as the service does, streamed into the
  //    engine in 100k-row inserts.
  loadgen::Scenario scenario;
  scenario.seed = seed;
  scenario.end = *domain::ParseRangeBound("2025-07-01", domain::TimeZone::Utc(), false);
  scenario.start = scenario.end - std::chrono::days(90);
  scenario.users = static_cast<int>(std::max<std::uint64_t>(10, events / 150));
  scenario.max_events = events;
  adapters::crypto::HmacPseudonymizer pseudonymizer("bench-key-0123456789abcdef");
  domain::DecodeLimits limits;
  limits.max_batch_events = 100'001;
  limits.max_future_skew = std::chrono::hours(24 * 3650);
  std::string body, rows;
  std::size_t in_body = 0;
  std::uint64_t loaded = 0;
  bool ok = true;
  const auto load_started = Clock::now();
  auto last_progress = Clock::now();
  const auto flush = [&] {
    auto decoded = domain::DecodeBody(body, domain::BodyFormat::kNdjson, limits, clock.Now());
    if (!decoded) {
      std::cerr << "decode failed: " << decoded.error().message << "\n";
      ok = false;
      return;
    }
    rows.clear();
    for (auto& d : *decoded) {
      if (!d) continue;
      const domain::Event e = app::PrepareEvent(std::move(*d), pseudonymizer);
      adapters::clickhouse::EncodeEventsRowBinary(std::span(&e, 1), clock.Now(), rows);
      ++loaded;
    }
    if (auto s = (*store)->AppendRowBinary(rows); !s) {
      std::cerr << "insert failed: " << s.error().message << "\n";
      ok = false;
    }
    body.clear();
    in_body = 0;
    if (Clock::now() - last_progress > std::chrono::seconds(5)) {
      last_progress = Clock::now();
      std::cerr << fmt::format("[bench] loaded {}/{} events\n", loaded, events);
    }
  };
  if (!reuse) loadgen::Generator(scenario).Generate([&](loadgen::GeneratedEvent&& e) {
    if (!ok) return;
    body += e.json;
    body.push_back('\n');
    if (++in_body == 100'000) flush();
  });
  if (ok && in_body > 0) flush();
  if (!ok) return 1;
  if (reuse) {
    const auto counts = (*store)->CountEvents();
    loaded = counts ? counts->total : 0;
  }
  std::cerr << fmt::format("[bench] loaded {} events in {:.1f} s\n", loaded, Ms(Clock::now() - load_started) / 1000);

  // 2. The endpoints over the last 30 days of the data, as a dashboard asks for them.
  auto* raw = store->get();
  adapters::clickhouse::ClickHouseAnalyticsStore analytics(
      [raw](const std::string& sql, std::string_view format) { return raw->Query(sql, format); },
      "analytics");
  app::ResponseCache cache(clock, std::chrono::milliseconds{0});
  const auto plans = *domain::PlanCatalog::Parse(R"({"plans": []})");
  const auto prices = *domain::PriceTable::Parse(R"({"prices": [
      {"provider": "openai", "model": "gpt-4o", "effectiveFrom": "2025-01-01", "inputPerMillion": "2.5", "outputPerMillion": "10"},
      {"provider": "openai", "model": "gpt-4o", "effectiveFrom": "2025-06-01", "inputPerMillion": "2", "outputPerMillion": "8"},
      {"provider": "openai", "model": "gpt-4o-mini", "effectiveFrom": "2025-01-01", "inputPerMillion": "0.15", "outputPerMillion": "0.6"}]})");
  // Naive: every read scans the stored events. Rollup: the service's default.
  app::QueryService naive(analytics, plans, prices, cache, {});
  app::Rollup rollup;
  app::RollupAnalyticsStore rollup_store(analytics, analytics, rollup, {});
  app::QueryService queries(rollup_store, plans, prices, cache, {});
  const std::map<std::string, std::string> month = {{"startDate", "2025-06-01"}, {"endDate", "2025-06-30"}};
  const auto with = [&](std::map<std::string, std::string> extra) {
    auto p = month;
    p.insert(extra.begin(), extra.end());
    return p;
  };
  std::vector<Case> cases;
  for (const auto& spec : domain::AllMetrics()) cases.push_back({spec.metric, month});
  cases.push_back({domain::Metric::kUsersActive, with({{"tz", "Europe/Berlin"}, {"granularity", "hour"}})});
  cases.push_back({domain::Metric::kChatMessages, with({{"groupBy", "model"}})});
  cases.push_back({domain::Metric::kProvidersUsage, with({{"groupBy", "bucket"}})});
  cases.push_back({domain::Metric::kProvidersCosts, with({{"groupBy", "model"}})});
  cases.push_back({domain::Metric::kRevenueMrr, with({{"granularity", "week"}})});

  const auto now = clock.Now();
  const auto time_runs = [&](const std::function<bool()>& once) -> std::vector<double> {
    if (!once()) return {};
    std::vector<double> samples;
    for (int i = 0; i < runs; ++i) {
      const auto t = Clock::now();
      if (!once()) return {};
      samples.push_back(Ms(Clock::now() - t));
    }
    return samples;
  };
  // Floor: a deduplicated count over the same range on the same connection.
  const auto range = domain::ParseAnalyticsQuery(domain::Metric::kChatMessages, month, now)->range;
  // The same range conditions as the endpoints' reads (whole-second bounds: `ts` alone).
  const auto floor_sql = fmt::format(
      "SELECT count() FROM analytics.events FINAL WHERE ts >= toDateTime({}, 'UTC') AND "
      "ts < toDateTime({}, 'UTC')",
      range.start.time_since_epoch().count() / 1000, range.end.time_since_epoch().count() / 1000);
  const auto floor = time_runs([&] { return raw->Query(floor_sql, "TabSeparated").has_value(); });
  if (floor.empty()) {
    std::cerr << "the floor query failed\n";
    return 1;
  }
  // Right after a bulk load the table has many overlapping parts and FINAL has to merge them at
  // read time; background merges bring a live table back to a few parts per partition. Both
  // states are shown; the endpoints are timed on merged parts.
  const auto parts = [&] {
    const auto r = raw->Query("SELECT count() FROM system.parts WHERE database = 'analytics' AND "
                              "table = 'events' AND active", "TabSeparated");
    return r ? r->substr(0, r->find('\n')) : std::string("?");
  };
  const std::string parts_loaded = parts();
  const double unmerged_p50 = Percentile(floor, 0.5), unmerged_p99 = Percentile(floor, 0.99);
  const auto optimize_started = Clock::now();
  if (!raw->Query("OPTIMIZE TABLE analytics.events FINAL", "TabSeparated")) {
    std::cerr << "OPTIMIZE failed\n";
    return 1;
  }
  const double optimize_ms = Ms(Clock::now() - optimize_started);
  const auto merged_floor = time_runs([&] { return raw->Query(floor_sql, "TabSeparated").has_value(); });
  const double floor_p50 = Percentile(merged_floor, 0.5);
  // The rollup, built as the service builds it in the background (from now back to the oldest
  // event, a day of slots per read).
  const auto build_started = Clock::now();
  app::RollupBuilder builder(rollup, analytics, clock, {});
  if (auto s = builder.BuildAll(); !s) {
    std::cerr << "rollup build failed: " << s.error().message << "\n";
    return 1;
  }
  const double build_ms = Ms(Clock::now() - build_started);
  const auto rollup_stats = rollup.GetStats();
  std::cout << fmt::format("query latency, {} events, {} runs each, cache off, 30-day range (ms)\n", loaded, runs);
  std::cout << fmt::format("  floor right after the load ({} parts): p50 {:.1f}, p99 {:.1f}; merged to {} parts "
                           "in {:.0f} ms\n",
                           parts_loaded, unmerged_p50, unmerged_p99, parts(), optimize_ms);
  std::cout << fmt::format("  rollup built in {:.1f} s: {} slots, {} users, {} conversations, {:.1f} MB\n",
                           build_ms / 1000, rollup_stats.built_slots, rollup_stats.users,
                           rollup_stats.conversations, static_cast<double>(rollup_stats.bytes) / 1e6);
  std::cout << fmt::format("  {:<48} {:>9} {:>9} {:>12} {:>10} {:>10} {:>9}\n", "endpoint", "p50", "p99",
                           "p50/floor", "naive p50", "naive p99", "speed-up");
  std::cout << fmt::format("  {:<48} {:>9.1f} {:>9.1f} {:>12}\n", "floor: count() FINAL over the range", floor_p50,
                           Percentile(merged_floor, 0.99), "1.0");
  for (const auto& sql : probes) {
    std::string error;
    const auto samples = time_runs([&] {
      auto r = raw->Query(sql, "TabSeparated");
      if (!r) error = r.error().message;
      return r.has_value();
    });
    if (samples.empty()) {
      std::cerr << "probe failed: " << error << "\n";
      return 1;
    }
    const auto answer = raw->Query(sql, "TabSeparated");
    std::string head = answer ? answer->substr(0, 60) : std::string();
    std::ranges::replace(head, '\n', ' ');
    std::cout << fmt::format("  {:<48} {:>9.1f} {:>9.1f} {:>12.1f}  -> {}\n", sql.substr(0, 48),
                             Percentile(samples, 0.5), Percentile(samples, 0.99),
                             Percentile(samples, 0.5) / floor_p50, head);
  }
  double worst_p99 = 0;
  std::string worst;
  for (const auto& c : cases) {
    if (!only.empty() && Describe(c).find(only) == std::string::npos) continue;
    const auto q = domain::ParseAnalyticsQuery(c.metric, c.params, now);
    if (!q) {
      std::cerr << Describe(c) << ": " << q.error().message << "\n";
      return 1;
    }
    const auto time_service = [&](app::QueryService& service, std::string_view which) {
      std::string error;
      auto samples = time_runs([&] {
        auto r = service.Compute(*q);
        if (!r) error = r.error().message;
        return r.has_value();
      });
      if (samples.empty()) std::cerr << Describe(c) << " (" << which << ") failed: " << error << "\n";
      return samples;
    };
    const auto samples = time_service(queries, "rollup");
    const auto naive_samples = time_service(naive, "naive");
    if (samples.empty() || naive_samples.empty()) return 1;
    const double p50 = Percentile(samples, 0.5), p99 = Percentile(samples, 0.99);
    const double naive_p50 = Percentile(naive_samples, 0.5), naive_p99 = Percentile(naive_samples, 0.99);
    if (p99 > worst_p99) {
      worst_p99 = p99;
      worst = Describe(c);
    }
    std::cout << fmt::format("  {:<48} {:>9.1f} {:>9.1f} {:>12.1f} {:>10.1f} {:>10.1f} {:>8.1f}x\n", Describe(c),
                             p50, p99, p50 / floor_p50, naive_p50, naive_p99, naive_p50 / p50);
  }
  std::cout << fmt::format("  slowest p99: {} ({:.1f} ms)\n", worst, worst_p99);
  (*store)->Close();
  store->reset();
  adapters::chdb::ShutdownEngine();
  if (!reuse && !keep) std::filesystem::remove_all(work_dir);
  return 0;
}
