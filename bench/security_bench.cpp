// The cost of authentication and rate limiting: the same workload against the real service with
// them on (AUTH=required, every request with a bearer token, rate limits counted for the
// principal under a limit it never reaches) and off (AUTH=off, no limits), in one run.
//   security_bench --events 1000000 --queries 2000
// Prints, per mode and per round, HTTP ingest events/s (1,000-event requests on 4 connections,
// how the platform's services post) and the p50/p99 latency of GET
// /api/analytics/users/count (cache off, one connection), then the on/off ratios. The modes
// alternate over --rounds rounds so that drift of a shared machine hits both alike.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "e2e/service_process.hpp"
#include "loadgen/generator.hpp"
#include "loadgen/http_sender.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
  double events_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

double Percentile(std::vector<double> v, double q) {
  std::ranges::sort(v);
  return v.empty() ? 0
                   : v[std::min(v.size() - 1,
                                static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

std::optional<Sample> RunOnce(bool secured, const std::string& dir,
                              const std::vector<std::string>& bodies, std::uint64_t events,
                              int queries) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::map<std::string, std::string> env = {{"LOG_LEVEL", "warn"}, {"QUERY_CACHE", "off"}};
  if (secured) {
    // Counted for the principal, never refused: the limiter's work is in the measurement.
    env["RATE_LIMIT_OVERRIDES"] = "*/" + std::string(e2e::kTestAdminSubject) + "=10000000";
  } else {
    env["AUTH"] = "off";
    env["RATE_LIMIT_OVERRIDES"] = "";
    env["RATE_LIMIT_ANALYTICS_PER_MINUTE"] = "0";
    env["RATE_LIMIT_INGEST_PER_MINUTE"] = "0";
  }
  e2e::ServiceProcess service(dir, env);
  if (!service.Start()) {
    std::cerr << "the service did not start:\n" << service.Log();
    return std::nullopt;
  }
  const loadgen::HeaderList credentials = secured ? service.Credentials() : loadgen::HeaderList{};
  const auto t = Clock::now();
  auto stats = loadgen::SendBatches("127.0.0.1", service.port(), bodies, 4, {}, credentials);
  const double seconds = std::chrono::duration<double>(Clock::now() - t).count();
  if (!stats || stats->stored != events) {
    std::cerr << "ingest failed or lost events: "
              << (stats ? std::to_string(stats->stored) : stats.error().message) << "\n"
              << service.Log();
    return std::nullopt;
  }
  loadgen::HttpClient client("127.0.0.1", service.port());
  for (const auto& [k, v] : credentials) client.SetHeader(k, v);
  std::vector<double> latencies;
  for (int i = 0; i < queries + 20; ++i) {
    const auto q = Clock::now();
    auto r = client.Send("GET", "/api/analytics/users/count?startDate=2020-01-01");
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - q).count();
    if (!r || r->status != 200) {
      std::cerr << "users/count failed: " << (r ? r->body : r.error().message) << "\n";
      return std::nullopt;
    }
    if (i >= 20) latencies.push_back(ms);  // the first ones warm the engine's caches
  }
  service.Stop();
  return Sample{static_cast<double>(events) / seconds, Percentile(latencies, 0.5),
                Percentile(latencies, 0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cost of authentication and rate limiting: the same load with them on and off"};
  std::uint64_t events = 1'000'000;
  int queries = 2000;
  int rounds = 3;
  std::string work_dir =
      (std::filesystem::temp_directory_path() / "analytics-security-bench").string();
  app.add_option("--events", events, "events ingested per run")->capture_default_str();
  app.add_option("--queries", queries, "users/count requests timed per run")->capture_default_str();
  app.add_option("--rounds", rounds, "on/off pairs")->capture_default_str();
  app.add_option("--dir", work_dir, "scratch directory (emptied)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  loadgen::Scenario scenario;
  scenario.seed = 3;
  scenario.end = base::SystemClock().Now();
  scenario.start = scenario.end - std::chrono::days(90);
  scenario.users = static_cast<int>(std::max<std::uint64_t>(10, events / 150));
  scenario.max_events = events;
  std::vector<std::string> bodies;
  std::string body;
  int in_body = 0;
  std::uint64_t generated = 0;
  loadgen::Generator(scenario).Generate([&](loadgen::GeneratedEvent&& e) {
    body += e.json;
    body.push_back('\n');
    ++generated;
    if (++in_body == 1000) {
      bodies.push_back(std::move(body));
      body.clear();
      in_body = 0;
    }
  });
  if (!body.empty()) bodies.push_back(std::move(body));

  std::vector<Sample> on, off;
  for (int r = 0; r < rounds; ++r) {
    for (const bool secured : {true, false}) {
      auto s = RunOnce(secured, work_dir, bodies, generated, queries);
      if (!s) return 1;
      std::cout << fmt::format(
          "security_bench: round {} auth+limits {:3}: ingest {:>9.0f} events/s, "
          "users/count p50 {:.3f} ms p99 {:.3f} ms\n",
          r + 1, secured ? "on" : "off", s->events_per_s, s->p50_ms, s->p99_ms);
      (secured ? on : off).push_back(*s);
    }
  }
  const auto median = [](const std::vector<Sample>& v, double Sample::*field) {
    std::vector<double> x;
    for (const auto& s : v) x.push_back(s.*field);
    std::ranges::sort(x);
    const std::size_t n = x.size();
    return n % 2 == 1 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
  };
  const double ingest_on = median(on, &Sample::events_per_s),
               ingest_off = median(off, &Sample::events_per_s);
  const double p50_on = median(on, &Sample::p50_ms), p50_off = median(off, &Sample::p50_ms);
  const double p99_on = median(on, &Sample::p99_ms), p99_off = median(off, &Sample::p99_ms);
  std::cout << fmt::format(
      "security_bench: {} events in 1,000-event requests on 4 connections, {} users/count requests "
      "on one "
      "connection (cache off), median of {} rounds\n"
      "security_bench: ingest on/off = {:.0f}/{:.0f} events/s = {:.3f}; users/count p50 on/off = "
      "{:.3f}/{:.3f} ms "
      "= {:.3f}, p99 = {:.3f}/{:.3f} ms = {:.3f}\n",
      generated, queries, rounds, ingest_on, ingest_off, ingest_on / ingest_off, p50_on, p50_off,
      p50_on / p50_off, p99_on, p99_off, p99_on / p99_off);
  std::filesystem::remove_all(work_dir);
  return 0;
}
