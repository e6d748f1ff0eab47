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

enum class AuthMode { kRequired, kOff };
enum class MetricsAccess { kLoopback, kToken, kOpen };

/// An API key as configured: its id (the principal) and the SHA-256 of the key, hex.
struct HashedKey {
  std::string id;
  std::string sha256_hex;
};

/// A per-principal rate limit: `access_class` is analytics, ingest, admin or "*" (all).
struct RateLimitOverride {
  std::string access_class;
  std::string principal;
  std::uint32_t per_minute = 0;
};

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
  std::string query_cache;   ///< on | off
  std::string query_rollup;  ///< on | off
  std::chrono::milliseconds query_cache_ttl{};
  std::chrono::milliseconds session_gap{};

  std::string log_level;
  std::string log_format;

  AuthMode auth = AuthMode::kRequired;
  std::vector<std::string> jwt_algorithms;
  std::string jwt_secret;
  std::string jwt_public_key_file;
  std::string jwks_file;
  std::string jwt_issuer;
  std::string jwt_audience;
  std::chrono::seconds jwt_leeway{};
  std::string jwt_role_claim;
  std::string jwt_admin_role;
  std::vector<HashedKey> ingest_api_keys;
  std::vector<HashedKey> metrics_api_keys;
  MetricsAccess metrics_access = MetricsAccess::kLoopback;

  std::uint32_t rate_limit_analytics = 0;  ///< requests per minute per principal; 0: no limit
  std::uint32_t rate_limit_ingest = 0;
  std::uint32_t rate_limit_admin = 0;
  std::vector<RateLimitOverride> rate_limit_overrides;
  std::size_t rate_limit_max_principals = 0;

  std::vector<std::string> cors_origins;
  std::chrono::seconds cors_max_age{};

  std::size_t http_max_header_bytes = 0;
  std::size_t http_max_uri_bytes = 0;
  std::size_t http_max_connections = 0;
  std::chrono::milliseconds http_request_timeout{};
  std::chrono::milliseconds http_idle_timeout{};

  std::chrono::milliseconds query_max_execution{};
  std::size_t query_max_memory_bytes = 0;
  std::size_t query_max_cells = 0;
  std::size_t query_max_groups = 0;
  std::size_t query_cache_max_bytes = 0;

  /// Whether any JWT key material is configured (a secret, a PEM key or a JWKS file).
  bool HasJwtKeys() const {
    return !jwt_secret.empty() || !jwt_public_key_file.empty() || !jwks_file.empty();
  }
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
/// without PSEUDONYMIZATION_KEY or without JWT key material, and AUTH=off anywhere but a
/// development service bound to loopback.
base::Result<Config> Load(const std::map<std::string, std::string>& env,
                          const std::map<std::string, std::string>& overrides);

/// The process environment restricted to declared keys.
std::map<std::string, std::string> ProcessEnvironment();

}  // namespace config
