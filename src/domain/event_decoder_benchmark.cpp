// Decoding and validating events, per event: the CPU the HTTP threads spend before storage.

#include <benchmark/benchmark.h>

#include "domain/event_decoder.hpp"
#include "loadgen/generator.hpp"

namespace {

std::string NdjsonBody(int events) {
  loadgen::Scenario scenario;
  scenario.seed = 3;
  scenario.users = events / 100 + 1;
  scenario.end = base::TimePoint(std::chrono::milliseconds(1'760'000'000'000));
  scenario.start = scenario.end - std::chrono::days(30);
  scenario.max_events = static_cast<std::uint64_t>(events);
  std::string body;
  loadgen::Generator(scenario).Generate([&](loadgen::GeneratedEvent&& e) {
    body += e.json;
    body.push_back('\n');
  });
  return body;
}

void BM_DecodeNdjsonBatch(benchmark::State& state) {
  const std::string body = NdjsonBody(static_cast<int>(state.range(0)));
  domain::DecodeLimits limits;
  limits.max_batch_events = 1'000'000;
  const auto now = base::TimePoint(std::chrono::milliseconds(1'760'000'000'000));
  std::size_t events = 0;
  for (auto _ : state) {
    auto decoded = domain::DecodeBody(body, domain::BodyFormat::kNdjson, limits, now);
    events += decoded->size();
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.SetBytesProcessed(static_cast<std::int64_t>(body.size()) * state.iterations());
}
BENCHMARK(BM_DecodeNdjsonBatch)->Arg(10'000);

void BM_DecodeOneMessage(benchmark::State& state) {
  const std::string body = NdjsonBody(1);
  const std::string message = body.substr(0, body.find('\n'));
  domain::DecodeLimits limits;
  const auto now = base::TimePoint(std::chrono::milliseconds(1'760'000'000'000));
  for (auto _ : state) benchmark::DoNotOptimize(domain::DecodeEventBytes(message, limits, now));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeOneMessage);

}  // namespace

BENCHMARK_MAIN();
