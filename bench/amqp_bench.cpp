// RabbitMQ pipeline throughput, in one run on one private broker:
//   1. the load generator's publish rate with confirms (window 1000),
//   2. a bare consumer that only acks (every 5000, multiple) draining the queue: the baseline,
//   3. analytics-service draining the same messages into storage, and the ratio to 2.
//   amqp_bench --events 1000000
// Prints numbers; exits non-zero only when something did not work.

#include <CLI/CLI.hpp>
#include <amqp.h>
#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "adapters/amqp/amqp_publisher.hpp"
#include "adapters/amqp/amqp_session.hpp"
#include "e2e/broker_process.hpp"
#include "e2e/service_process.hpp"
#include "loadgen/generator.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

struct Message {
  std::string key;
  std::string body;
};

base::Result<double> PublishAll(const std::string& url, const std::vector<Message>& messages) {
  adapters::amqp::AmqpPublisher::Options po;
  po.session.url = url;
  po.confirm_window = 1000;
  auto publisher = adapters::amqp::AmqpPublisher::Open(po);
  if (!publisher) return base::Fail(publisher.error());
  const auto t = Clock::now();
  for (const auto& m : messages) {
    if (auto s = (*publisher)->Publish("analytics.events", m.key, m.body, ""); !s) return base::Fail(s.error());
  }
  if (auto s = (*publisher)->WaitForConfirms(std::chrono::seconds(300)); !s) return base::Fail(s.error());
  return Seconds(t);
}

/// Drains `count` messages from the service's queue, acking every 5000 (multiple).
base::Result<double> BareConsume(const std::string& url, std::size_t count) {
  adapters::amqp::AmqpSession::Options so;
  so.url = url;
  so.prefetch = 10'000;
  auto session = adapters::amqp::AmqpSession::Open(so);
  if (!session) return base::Fail(session.error());
  auto conn = static_cast<amqp_connection_state_t>((*session)->connection());
  amqp_basic_consume(conn, 1, amqp_cstring_bytes("analytics-service.events"), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  if (auto e = adapters::amqp::RpcError(conn, "basic.consume")) return base::Fail(base::Error::Unavailable(*e));
  const auto t = Clock::now();
  std::size_t got = 0;
  std::uint64_t last_tag = 0;
  while (got < count) {
    amqp_maybe_release_buffers(conn);
    amqp_envelope_t envelope{};
    timeval tv{10, 0};
    const auto r = amqp_consume_message(conn, &envelope, &tv, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) return base::Fail(base::Error::Unavailable("bare consumer stalled"));
    last_tag = envelope.delivery_tag;
    amqp_destroy_envelope(&envelope);
    if (++got % 5000 == 0) amqp_basic_ack(conn, 1, last_tag, 1);
  }
  amqp_basic_ack(conn, 1, last_tag, 1);
  return Seconds(t);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RabbitMQ pipeline throughput: publish, bare consume, service drain"};
  std::uint64_t events = 1'000'000;
  app.add_option("--events", events, "events to publish")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  loadgen::Scenario scenario;
  scenario.seed = 5;
  scenario.end = base::SystemClock().Now();
  scenario.start = scenario.end - std::chrono::days(30);
  scenario.users = static_cast<int>(std::max<std::uint64_t>(10, events / 60));  // ~150 events a user; cut at --events
  scenario.max_events = events;
  std::vector<Message> messages;
  loadgen::Generator(scenario).Generate([&](loadgen::GeneratedEvent&& e) {
    messages.push_back({std::string(domain::EventTypeName(e.type)), std::move(e.json)});
  });
  std::cerr << fmt::format("[bench] generated {} events\n", messages.size());

  e2e::BrokerProcess broker("bench");
  if (!broker.Start()) {
    std::cerr << "RabbitMQ did not start:\n" << broker.last_output();
    return 1;
  }
  const auto work = e2e::FreshDir("amqp-bench");
  // The service declares the topology; its first run also shows it can start.
  {
    e2e::ServiceProcess declare(work / "declare", {{"RABBITMQ_URL", broker.Url()}, {"LOG_LEVEL", "warn"}});
    std::filesystem::create_directories(work / "declare");
    if (!declare.Start()) {
      std::cerr << declare.Log();
      return 1;
    }
    declare.Stop();
  }

  std::cerr << "[bench] publishing (baseline run)\n";
  auto publish_seconds = PublishAll(broker.Url(), messages);
  if (!publish_seconds) {
    std::cerr << publish_seconds.error().message << "\n";
    return 1;
  }
  std::cerr << "[bench] bare consumer draining\n";
  auto bare_seconds = BareConsume(broker.Url(), messages.size());
  if (!bare_seconds) {
    std::cerr << bare_seconds.error().message << "\n";
    return 1;
  }

  std::cerr << "[bench] publishing again, then the service drains into storage\n";
  if (auto again = PublishAll(broker.Url(), messages); !again) {
    std::cerr << again.error().message << "\n";
    return 1;
  }
  std::filesystem::create_directories(work / "service");
  e2e::ServiceProcess service(work / "service", {{"RABBITMQ_URL", broker.Url()}, {"LOG_LEVEL", "warn"}});
  const auto t = Clock::now();
  if (!service.Start()) {
    std::cerr << service.Log();
    return 1;
  }
  std::uint64_t stored = 0;
  while (Seconds(t) < 3600) {
    auto reply = service.client().Send("GET", "/api/events/stats");
    if (reply && reply->status == 200) {
      stored = boost::json::parse(reply->body).at("total").to_number<std::uint64_t>();
      if (stored >= messages.size() && broker.QueueReady("analytics-service.events") == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double service_seconds = Seconds(t);
  service.Stop();
  std::filesystem::remove_all(work);

  const double n = static_cast<double>(messages.size());
  std::cout << fmt::format(
      "amqp_bench: {} events\n"
      "  publish with confirms (window 1000)  {:>9.0f} msg/s  ({:.2f} s)\n"
      "  bare consumer, ack only              {:>9.0f} msg/s  ({:.2f} s)\n"
      "  analytics-service into storage       {:>9.0f} msg/s  ({:.2f} s incl. start-up; {} stored)\n"
      "  ratio service/bare  {:.2f}\n",
      messages.size(), n / *publish_seconds, *publish_seconds, n / *bare_seconds, *bare_seconds,
      n / service_seconds, service_seconds, stored, (n / service_seconds) / (n / *bare_seconds));
  return stored == messages.size() ? 0 : 1;
}
