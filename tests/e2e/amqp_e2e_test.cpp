// Black-box fault tests of the RabbitMQ pipeline: the real binary, a real broker (Debian's
// rabbitmq-server, started by scripts/services), real embedded storage.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "adapters/amqp/amqp_publisher.hpp"
#include "adapters/amqp/dead_letters.hpp"
#include "e2e/broker_process.hpp"
#include "e2e/service_process.hpp"
#include "e2e/stored_events.hpp"
#include "loadgen/generator.hpp"

namespace e2e {
namespace {

using std::chrono::seconds;

struct Generated {
  std::vector<std::pair<std::string, std::string>> messages;  ///< (routing key, body)
  std::uint64_t valid = 0;    ///< distinct valid events
  std::uint64_t invalid = 0;
};

Generated Generate(std::uint64_t events, double invalid_rate, std::uint64_t seed) {
  loadgen::Scenario scenario;
  scenario.seed = seed;
  scenario.end = base::TimePoint(std::chrono::milliseconds(1'760'000'000'000));
  scenario.start = scenario.end - std::chrono::days(60);
  scenario.users = static_cast<int>(events / 100 + 1);
  scenario.max_events = events;
  scenario.invalid_rate = invalid_rate;
  Generated g;
  loadgen::Generator(scenario).Generate([&](loadgen::GeneratedEvent&& e) {
    g.messages.emplace_back(e.valid ? std::string(domain::EventTypeName(e.type)) : "invalid", std::move(e.json));
    (e.valid ? g.valid : g.invalid) += 1;
  });
  return g;
}

/// Publishes with confirms; every message is confirmed when this returns true.
bool Publish(const std::string& url, const Generated& g, std::size_t from = 0, std::size_t to = SIZE_MAX) {
  adapters::amqp::AmqpPublisher::Options po;
  po.session.url = url;
  auto publisher = adapters::amqp::AmqpPublisher::Open(po);
  if (!publisher) {
    ADD_FAILURE() << publisher.error().message;
    return false;
  }
  to = std::min(to, g.messages.size());
  for (std::size_t i = from; i < to; ++i) {
    const auto& [key, body] = g.messages[i];
    if (auto s = (*publisher)->Publish("analytics.events", key, body, ""); !s) {
      ADD_FAILURE() << s.error().message;
      return false;
    }
  }
  auto s = (*publisher)->WaitForConfirms(std::chrono::seconds(120));
  if (!s) ADD_FAILURE() << s.error().message;
  return s.has_value();
}

std::uint64_t StatsTotal(ServiceProcess& s) {
  auto reply = s.client().Send("GET", "/api/events/stats");
  if (!reply || reply->status != 200) return 0;
  return boost::json::parse(reply->body).at("total").to_number<std::uint64_t>();
}

/// Waits until `queue` reports `expected` ready messages (its count lags the broker by a second
/// or two).
bool WaitQueueReady(BrokerProcess& broker, const std::string& queue, long expected, seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (broker.QueueReady(queue) == expected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return broker.QueueReady(queue) == expected;
}

/// Waits until the service's queue is empty and nothing is unacked, and the stats show `total`.
bool WaitDrained(BrokerProcess& broker, ServiceProcess& s, std::uint64_t total, seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (broker.QueueReady("analytics-service.events") == 0 && StatsTotal(s) == total) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

class AmqpE2e : public testing::Test {
 protected:
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }
  void SetUp() override {
    // Started here rather than in SetUpTestSuite: a broker that cannot start must fail each
    // test, not mark it skipped.
    if (broker_ == nullptr) {
      broker_ = new BrokerProcess("e2e");
      broker_started_ = broker_->Start();
    }
    ASSERT_TRUE(broker_started_) << "could not start RabbitMQ (scripts/services):\n" << broker_->last_output();
    // A clean queue per test.
    broker_->Ctl({"delete_queue", "analytics-service.events"});
    broker_->Ctl({"delete_queue", "analytics.events.dead"});
    dir_ = FreshDir(testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    if (HasFailure() && service_) std::cerr << "---- service log ----\n" << service_->Log().substr(0, 20000);
    service_.reset();
    std::filesystem::remove_all(dir_);
  }
  ServiceProcess& StartService(std::map<std::string, std::string> env = {}) {
    env["RABBITMQ_URL"] = broker_->Url();
    service_ = std::make_unique<ServiceProcess>(dir_, env);
    EXPECT_TRUE(service_->Start()) << service_->Log();
    return *service_;
  }

  static BrokerProcess* broker_;
  static bool broker_started_;
  std::filesystem::path dir_;
  std::unique_ptr<ServiceProcess> service_;
};

BrokerProcess* AmqpE2e::broker_ = nullptr;
bool AmqpE2e::broker_started_ = false;

TEST_F(AmqpE2e, KilledRepeatedlyWhileConsumingStoresEveryEventExactlyOnce) {
  auto& s = StartService();  // declares the topology
  const auto g = Generate(200'000, 0.0, 11);
  ASSERT_TRUE(Publish(broker_->Url(), g));
  for (int kill = 0; kill < 3; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    s.Kill();
    ASSERT_TRUE(s.Start()) << s.Log();
  }
  ASSERT_TRUE(WaitDrained(*broker_, s, g.valid, seconds(300))) << "stats: " << StatsTotal(s);
  EXPECT_EQ(s.Stop(), 0);
  const auto stored = CountStored(dir_);
  EXPECT_EQ(stored.distinct, g.valid);
  EXPECT_EQ(stored.rows, g.valid) << "a redelivered copy was stored twice";
}

TEST_F(AmqpE2e, ReconnectsByItselfAfterABrokerRestart) {
  auto& s = StartService({{"AMQP_BATCH_EVENTS", "500"}});
  const auto g = Generate(80'000, 0.0, 12);
  const std::size_t before_restart = 60'000;
  ASSERT_TRUE(Publish(broker_->Url(), g, 0, before_restart));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(broker_->Stop());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_TRUE(broker_->Start());
  // The stream goes on after the restart; the service must pick it up without help.
  ASSERT_TRUE(Publish(broker_->Url(), g, before_restart));
  ASSERT_TRUE(WaitDrained(*broker_, s, g.valid, seconds(240))) << "stats: " << StatsTotal(s);
  bool ready = false;
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    auto reply = s.client().Send("GET", "/ready");
    ready = reply && reply->status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(ready) << "the service did not report the broker link back";
  auto metrics = s.client().Send("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find("analytics_amqp_reconnects_total 0"), std::string::npos)
      << "expected at least one reconnect";
  EXPECT_NE(metrics->body.find("analytics_amqp_connected 1"), std::string::npos);
  EXPECT_EQ(s.Stop(), 0);
  EXPECT_EQ(CountStored(dir_).distinct, g.valid);
}

TEST_F(AmqpE2e, StorageOutageDeadLettersNothingAndLosesNothing) {
  // Storage on a small file system of the test's own; filling it makes inserts fail (disk full)
  // until the filler is removed.
  const auto mount_point = dir_ / "small";
  std::filesystem::create_directories(mount_point);
  ASSERT_EQ(mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=256m"), 0) << "mount tmpfs: " << strerror(errno);
  struct Unmount {
    std::filesystem::path p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{mount_point};
  service_ = std::make_unique<ServiceProcess>(mount_point, std::map<std::string, std::string>{
                                                               {"RABBITMQ_URL", broker_->Url()},
                                                               {"AMQP_BATCH_EVENTS", "1000"}});
  ASSERT_TRUE(service_->Start()) << service_->Log();
  auto& s = *service_;
  const auto g = Generate(30'000, 0.0, 13);
  ASSERT_TRUE(Publish(broker_->Url(), g, 0, 10'000));
  ASSERT_TRUE(WaitDrained(*broker_, s, 10'000, seconds(120))) << "stats: " << StatsTotal(s);

  {  // fill the file system
    std::ofstream filler(mount_point / "filler", std::ios::binary);
    std::string chunk(1 << 20, 'x');
    while (filler.write(chunk.data(), static_cast<std::streamsize>(chunk.size()))) {
    }
  }
  ASSERT_TRUE(Publish(broker_->Url(), g, 10'000));
  // Give the service time to fail and retry a few times.
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  bool retried = false;
  while (!retried && std::chrono::steady_clock::now() < deadline) {
    auto metrics = s.client().Send("GET", "/metrics");
    retried = metrics && metrics->body.find("analytics_amqp_storage_retries_total 0") == std::string::npos &&
              metrics->body.find("analytics_amqp_storage_retries_total") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_TRUE(retried) << "storage never failed: the outage was not simulated";
  EXPECT_EQ(broker_->QueueReady("analytics.events.dead"), 0);
  std::filesystem::remove(mount_point / "filler");

  ASSERT_TRUE(WaitDrained(*broker_, s, g.valid, seconds(240))) << "stats: " << StatsTotal(s);
  EXPECT_EQ(broker_->QueueReady("analytics.events.dead"), 0) << "storage failures must not dead-letter";
  EXPECT_EQ(s.Stop(), 0);
  EXPECT_EQ(CountStored(mount_point).distinct, g.valid);
}

TEST_F(AmqpE2e, PoisonMessagesAreDeadLetteredWithReasonsAndCanBeReplayed) {
  auto& s = StartService();
  auto g = Generate(100'000, 0.0, 14);
  // 1,000 poison messages spread through the stream: not JSON, unknown type, missing fields.
  const std::vector<std::string> poison = {
      "{not json",
      R"({"type":"user.teleport","data":{"userId":"u","timestamp":"2025-01-01T00:00:00Z"}})",
      R"({"type":"chat.message_sent","data":{"userId":"u","timestamp":"2025-01-01T00:00:00Z"}})",
      R"({"type":"user.signin","data":{"userId":42,"timestamp":"2025-01-01T00:00:00Z"}})",
  };
  for (int i = 0; i < 1000; ++i) {
    const auto at = g.messages.begin() + static_cast<long>((i + 1) * 100 + i);
    g.messages.insert(at, {"invalid", poison[static_cast<std::size_t>(i) % poison.size()]});
  }
  ASSERT_TRUE(Publish(broker_->Url(), g));
  ASSERT_TRUE(WaitDrained(*broker_, s, g.valid, seconds(240))) << "stats: " << StatsTotal(s);
  EXPECT_TRUE(WaitQueueReady(*broker_, "analytics.events.dead", 1000, seconds(30)));

  adapters::amqp::Topology topology;
  auto letters = adapters::amqp::ListDeadLetters(broker_->Url(), topology, 2000);
  ASSERT_TRUE(letters) << letters.error().message;
  ASSERT_EQ(letters->size(), 1000u);
  std::map<std::string, int> reasons;
  for (const auto& d : *letters) ++reasons[d.reason];
  EXPECT_EQ(reasons["invalid_json"], 250);
  EXPECT_EQ(reasons["unknown_type"], 250);
  EXPECT_EQ(reasons["missing_field"], 250);
  EXPECT_EQ(reasons["invalid_field"], 250);
  // Listed messages go back to the queue; the broker's count catches up within a few seconds.
  EXPECT_TRUE(WaitQueueReady(*broker_, "analytics.events.dead", 1000, seconds(30))) << "listing must not remove them";
  auto metrics = s.client().Send("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("analytics_amqp_dead_letters_total{reason=\"invalid_json\"} 250"), std::string::npos);

  // Replay puts them back on the events exchange; still broken, they come back to the
  // dead-letter queue, each once, with the reason counted again.
  auto replayed = adapters::amqp::ReplayDeadLetters(broker_->Url(), topology, 5000);
  ASSERT_TRUE(replayed) << replayed.error().message;
  EXPECT_EQ(*replayed, 1000u);
  const auto replay_deadline = std::chrono::steady_clock::now() + seconds(60);
  bool counted_again = false;
  while (!counted_again && std::chrono::steady_clock::now() < replay_deadline) {
    auto m = s.client().Send("GET", "/metrics");
    counted_again = m && m->body.find("analytics_amqp_dead_letters_total{reason=\"invalid_json\"} 500") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(counted_again) << "replayed messages were not consumed again";
  EXPECT_TRUE(WaitQueueReady(*broker_, "analytics.events.dead", 1000, seconds(30)));
  EXPECT_EQ(StatsTotal(s), g.valid) << "replay must not store anything twice";
  EXPECT_EQ(s.Stop(), 0);
  EXPECT_EQ(CountStored(dir_).distinct, g.valid);
}

}  // namespace
}  // namespace e2e
