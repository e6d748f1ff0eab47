#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace config {

/// Every setting of the service, typed. Filled from defaults, then environment variables, then
/// command-line flags (each key is declared once in config.cpp with its default, description and
/// validation). A plain value; copy freely.
struct Config {
  std::string environment;  ///< development | production
  std::string host;
  std::uint16_t port = 0;
  int http_threads = 0;

  std::string storage;  ///< embedded
  std::string data_dir;
  std::string chdb_lib_path;
  std::string clickhouse_db;

  std::string pseudonymization_key;
  bool pseudonymization_key_is_default = false;

  std::size_t max_body_bytes = 0;
  std::size_t max_batch_events = 0;
  std::size_t max_event_bytes = 0;
  std::chrono::milliseconds max_future_skew{};

  std::size_t store_batch_events = 0;
  std::chrono::milliseconds store_batch_delay{};
  std::size_t max_pending_events = 0;
  std::chrono::milliseconds dedup_horizon{};
  std::size_t dedup_max_ids = 0;

  std::string rabbitmq_url;  ///< empty: no queue consumer (HTTP ingest only)
  std::string amqp_exchange;
  std::string amqp_queue;
  std::string amqp_dead_letter_exchange;
  std::string amqp_dead_letter_queue;
  std::string amqp_queue_type;
  int amqp_delivery_limit = 0;
  std::size_t amqp_batch_events = 0;
  std::chrono::milliseconds amqp_batch_delay{};
  std::chrono::milliseconds amqp_heartbeat{};

  std::string plan_catalog_file;
  std::string model_prices_file;
  std::string query_cache;  ///< on | off
  std::string query_rollup;  ///< on | off
  std::chrono::milliseconds query_cache_ttl{};
  std::chrono::milliseconds session_gap{};

  std::string log_level;
  std::string log_format;
};

/// One declared setting: its environment name (`PORT`), flag (`--port`), default and meaning.
struct Key {
  std::string env;
  std::string flag;
  std::string default_value;
  std::string description;
  bool secret = false;
  std::function<base::Status(Config&, std::string_view)> apply;
};

/// The declarations, in the order `--help` lists them.
const std::vector<Key>& Keys();

/// Builds a Config from defaults, then `env` (variable name -> value), then `overrides`
/// (env name -> value, from flags). Fails naming the first bad key; also refuses production
/// without PSEUDONYMIZATION_KEY.
base::Result<Config> Load(const std::map<std::string, std::string>& env,
                          const std::map<std::string, std::string>& overrides);

/// The process environment restricted to declared keys.
std::map<std::string, std::string> ProcessEnvironment();

}  // namespace config
