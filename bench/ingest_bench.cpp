// Ingest throughput: events/s stored through POST /api/events by the real service, next to the
// raw rate of the same rows streamed straight into the same engine, and their ratio.
//   ingest_bench --events 10000000          (full size, a few minutes)
// Prints numbers; exits non-zero only when something did not work (events lost, errors).

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "adapters/chdb/chdb_event_store.hpp"
#include "adapters/clickhouse/row_binary.hpp"
#include "adapters/crypto/hmac_pseudonymizer.hpp"
#include "app/ingest_service.hpp"
#include "domain/event_decoder.hpp"
#include "e2e/service_process.hpp"
#include "loadgen/generator.hpp"
#include "loadgen/http_sender.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double ChildCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

void Progress(const char* what, std::uint64_t done, std::uint64_t total) {
  static auto last = Clock::now();
  if (Clock::now() - last < std::chrono::seconds(2) && done != total) return;
  last = Clock::now();
  std::cerr << fmt::format("[bench] {}: {}/{} ({:.0f}%)\n", what, done, total,
                           100.0 * static_cast<double>(done) / static_cast<double>(std::max<std::uint64_t>(total, 1)));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ingest throughput: HTTP ingest vs raw engine inserts"};
  std::uint64_t events = 10'000'000;
  int batch = 10'000;
  int connections = 16;
  std::uint64_t seed = 1;
  std::string work_dir = (std::filesystem::temp_directory_path() / "analytics-ingest-bench").string();
  app.add_option("--events", events, "events to generate")->capture_default_str();
  app.add_option("--batch", batch, "events per HTTP request")->capture_default_str();
  app.add_option("--connections", connections, "parallel HTTP connections")->capture_default_str();
  app.add_option("--seed", seed, "generator seed")->capture_default_str();
  app.add_option("--dir", work_dir, "scratch directory (emptied)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(work_dir);
  std::filesystem::create_directories(work_dir);

  // 1. The events, as NDJSON request bodies.
  loadgen::Scenario scenario;
  scenario.seed = seed;
  scenario.end = base::SystemClock().Now();
  scenario.start = scenario.end - std::chrono::days(90);
  scenario.users = static_cast<int>(std::max<std::uint64_t>(10, events / 150));  // ~180 events a user
  scenario.max_events = events;
  std::vector<std::string> bodies;
  std::string body;
  int in_body = 0;
  std::uint64_t generated = 0;
  std::uint64_t body_bytes = 0;
  auto t = Clock::now();
  loadgen::Generator(scenario).Generate([&](loadgen::GeneratedEvent&& e) {
    body += e.json;
    body.push_back('\n');
    ++generated;
    if (++in_body == batch) {
      body_bytes += body.size();
      bodies.push_back(std::move(body));
      body.clear();
      in_body = 0;
    }
    Progress("generating", generated, events);
  });
  if (!body.empty()) {
    body_bytes += body.size();
    bodies.push_back(std::move(body));
  }
  std::cerr << fmt::format("[bench] generated {} events ({:.0f} MB of NDJSON) in {:.1f} s\n", generated,
                           static_cast<double>(body_bytes) / 1e6, Seconds(t));

  // 2. Baseline: the same rows, decoded and pseudonymised beforehand, streamed straight into
  //    the engine in the service's insert size.
  std::vector<std::string> row_batches;
  {
    base::SystemClock clock;
    adapters::crypto::HmacPseudonymizer pseudonymizer("bench-key-0123456789abcdef");
    domain::DecodeLimits limits;
    limits.max_batch_events = static_cast<std::size_t>(batch) + 1;
    std::uint64_t done = 0;
    const std::size_t rows_per_insert = 100'000;  // STORE_BATCH_EVENTS default
    std::string rows;
    std::size_t in_rows = 0;
    for (const auto& b : bodies) {
      auto decoded = domain::DecodeBody(b, domain::BodyFormat::kNdjson, limits, clock.Now());
      if (!decoded) {
        std::cerr << "decode failed: " << decoded.error().message << "\n";
        return 1;
      }
      for (auto& d : *decoded) {
        if (!d) continue;
        const domain::Event e = app::PrepareEvent(std::move(*d), pseudonymizer);
        adapters::clickhouse::EncodeEventsRowBinary(std::span(&e, 1), clock.Now(), rows);
        if (++in_rows == rows_per_insert) {
          row_batches.push_back(std::move(rows));
          rows.clear();
          in_rows = 0;
        }
      }
      done += 1;
      Progress("preparing baseline rows", done, bodies.size());
    }
    if (!rows.empty()) row_batches.push_back(std::move(rows));
  }
  double raw_seconds = 0;
  std::uint64_t raw_stored = 0;
  {
    base::SystemClock clock;
    adapters::chdb::ChdbEventStore::Options options;
    options.library_path = ANALYTICS_TEST_CHDB_LIB;
    options.data_dir = work_dir + "/raw/clickhouse";
    auto store = adapters::chdb::ChdbEventStore::Open(options, clock);
    if (!store || !(*store)->Migrate()) {
      std::cerr << "cannot open the baseline store\n";
      return 1;
    }
    t = Clock::now();
    for (std::size_t i = 0; i < row_batches.size(); ++i) {
      if (auto s = (*store)->AppendRowBinary(row_batches[i]); !s) {
        std::cerr << "baseline insert failed: " << s.error().message << "\n";
        return 1;
      }
      Progress("baseline inserts", i + 1, row_batches.size());
    }
    raw_seconds = Seconds(t);
    auto counts = (*store)->CountEvents();
    raw_stored = counts ? counts->total : 0;
    (*store)->Close();
  }
  row_batches.clear();
  row_batches.shrink_to_fit();

  // 3. The service: POST /api/events over several connections until everything is stored.
  e2e::ServiceProcess service(work_dir + "/service", {{"LOG_LEVEL", "warn"}});
  std::filesystem::create_directories(work_dir + "/service");
  if (!service.Start()) {
    std::cerr << "the service did not start:\n" << service.Log();
    return 1;
  }
  const double cpu_before = ChildCpuSeconds();
  t = Clock::now();
  auto stats = loadgen::SendBatches(
      "127.0.0.1", service.port(), bodies, connections,
      [&](std::uint64_t done) { Progress("HTTP ingest", done, bodies.size()); }, service.Credentials());
  const double http_seconds = Seconds(t);
  const int exit_code = service.Stop();
  const double service_cpu = ChildCpuSeconds() - cpu_before;
  if (!stats) {
    std::cerr << "sending failed: " << stats.error().message << "\n" << service.Log();
    return 1;
  }

  const double http_rate = static_cast<double>(stats->stored) / http_seconds;
  const double raw_rate = static_cast<double>(raw_stored) / raw_seconds;
  std::cout << fmt::format(
      "ingest_bench: {} events generated, {} stored over HTTP ({} duplicates, {} rejected, {} retries)\n"
      "  HTTP ingest   {:>10.0f} events/s  ({:.2f} s, {} requests of {} events, {} connections; "
      "service CPU {:.1f} s incl. drain)\n"
      "  raw engine    {:>10.0f} events/s  ({:.2f} s, {} rows, RowBinary inserts of 100000 rows)\n"
      "  ratio HTTP/raw  {:.2f}\n",
      generated, stats->stored, stats->duplicates, stats->rejected, stats->retries, http_rate,
      http_seconds, bodies.size(), batch, connections, service_cpu, raw_rate, raw_seconds, raw_stored,
      http_rate / raw_rate);
  if (exit_code != 0 || stats->stored + stats->duplicates != raw_stored) {
    std::cerr << "mismatch: service exit " << exit_code << ", stored " << stats->stored
              << " + duplicates " << stats->duplicates << " vs baseline " << raw_stored << "\n";
    return 1;
  }
  std::filesystem::remove_all(work_dir);
  return 0;
}
