#pragma once

// A private RabbitMQ broker for black-box tests, run by scripts/services.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace e2e {

/// A RabbitMQ broker of the test's own, started and stopped through scripts/services (which
/// `scripts/services install` must have set up). It listens on 127.0.0.1 only, as node
/// analytics-<name>-<pid>-<n>@localhost with its data in a fresh directory under the system temp
/// dir, so tests in parallel processes never share a broker, a port or a directory.
///
/// The AMQP port P and the distribution port P + 20000 are picked free, both below the kernel's
/// ephemeral range, so neither the kernel nor another test's free-port probe hands them out while
/// the broker is down between a Stop and a Start. Data survives Stop: durable queues and their
/// messages are back after the next Start, on the same port. Should the test process die without
/// running the destructor, scripts/services stops the broker within seconds (its directory stays).
///
/// Each call runs a short-lived process and blocks (Start 5-15 s, Stop about 5 s, Ctl about 1 s).
/// Not thread-safe, except that Ctl and QueueReady may run concurrently with each other.
class BrokerProcess {
 public:
  /// `name` (letters, digits, '-', '_'; others are replaced) only makes logs readable. Starts
  /// nothing.
  explicit BrokerProcess(std::string name);
  /// Stops the broker if it was started and removes its directory.
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  /// Starts the broker (a no-op if it runs) and waits until it accepts AMQP connections; false
  /// when it is not ready within about a minute (last_output() then holds the log tail).
  bool Start();
  /// Shuts the broker down, keeping its data for a later Start; true once no broker process is
  /// left (also when it was not running).
  bool Stop();

  std::uint16_t port() const { return port_; }
  /// "amqp://guest:guest@127.0.0.1:<port>/" (guest may log in from loopback only).
  std::string Url() const;
  const std::string& node() const { return node_; }
  const std::filesystem::path& dir() const { return dir_; }
  /// Everything scripts/services printed during the last Start or Stop, for failure messages.
  const std::string& last_output() const { return last_output_; }

  /// Runs rabbitmqctl against this node, e.g. {"list_queues", "name", "messages_ready",
  /// "messages_unacknowledged"}, and returns its stdout; when it fails (e.g. broker down) returns
  /// an empty string and writes rabbitmqctl's output to stderr.
  std::string Ctl(const std::vector<std::string>& args) const;
  /// messages_ready of `queue` (via rabbitmqctl list_queues); -1 if the queue does not exist or
  /// the broker does not answer. Quorum queues refresh this counter about once a second: poll.
  long QueueReady(const std::string& queue) const;

 private:
  std::string name_;
  std::string node_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  bool started_ = false;     // a Start was tried: the destructor stops
  bool ready_once_ = false;  // the broker has run: its port is fixed from now on
  std::string last_output_;
};

}  // namespace e2e
