// The test broker itself: it starts on loopback, answers, and after a restart on the same
// directory and port answers again with its durable queue and messages still there.

#include "e2e/broker_process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace e2e {
namespace {

constexpr const char* kQueue = "broker-process-test";

// Durable quorum queue, declared through the node itself so the test needs no AMQP client.
constexpr const char* kDeclareQuorumQueue =
    "rabbit_amqqueue:declare(rabbit_misc:r(<<\"/\">>, queue, <<\"broker-process-test\">>), true, "
    "false, [{<<\"x-queue-type\">>, longstr, <<\"quorum\">>}], none, <<\"test\">>).";
// Three persistent messages through the default exchange.
constexpr const char* kPublishThree =
    "[rabbit_basic:publish(rabbit_misc:r(<<\"/\">>, exchange, <<>>), <<\"broker-process-test\">>, "
    "[{delivery_mode, 2}], <<\"payload\">>) || _ <- lists:seq(1, 3)].";

// Quorum queues refresh their counters on a timer: wait for the expected value.
long WaitForReady(const BrokerProcess& broker, long expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  long ready = broker.QueueReady(kQueue);
  while (ready != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ready = broker.QueueReady(kQueue);
  }
  return ready;
}

TEST(BrokerProcessTest, RestartsOnSameDirAndPortKeepingDurableQueues) {
  BrokerProcess broker("broker-process-test");
  ASSERT_TRUE(broker.Start()) << broker.last_output();
  const auto port = broker.port();
  EXPECT_EQ(broker.Url(), "amqp://guest:guest@127.0.0.1:" + std::to_string(port) + "/");
  const std::string amqp_listener =
      "Interface: 127.0.0.1, port: " + std::to_string(port) + ", protocol: amqp";
  EXPECT_NE(broker.Ctl({"status"}).find(amqp_listener), std::string::npos);
  EXPECT_EQ(broker.QueueReady(kQueue), -1);

  ASSERT_NE(broker.Ctl({"eval", kDeclareQuorumQueue}).find("new"), std::string::npos);
  ASSERT_EQ(broker.Ctl({"eval", kPublishThree}), "[ok,ok,ok]\n");
  EXPECT_EQ(WaitForReady(broker, 3), 3);

  ASSERT_TRUE(broker.Stop()) << broker.last_output();

  ASSERT_TRUE(broker.Start()) << broker.last_output();
  EXPECT_EQ(broker.port(), port);
  EXPECT_NE(broker.Ctl({"status"}).find(amqp_listener), std::string::npos);
  EXPECT_EQ(WaitForReady(broker, 3), 3);
}

}  // namespace
}  // namespace e2e
