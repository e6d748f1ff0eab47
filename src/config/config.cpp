#include "config/config.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>

namespace config {
namespace {

constexpr std::string_view kDevelopmentKey = "development-only-pseudonymization-key";

base::Status Bad(std::string_view env, std::string message) {
  return base::Fail(base::Error::InvalidArgument(fmt::format("{}: {}", env, message), std::string(env)));
}

template <typename T>
base::Result<T> ParseInteger(std::string_view env, std::string_view text, T min, T max) {
  T value{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("{}: '{}' is not an integer from {} to {}", env, text, min, max), std::string(env)));
  }
  return value;
}

template <typename T, typename Field>
std::function<base::Status(Config&, std::string_view)> Integer(std::string env, Field Config::*field,
                                                               std::type_identity_t<T> min, std::type_identity_t<T> max) {
  return [env, field, min, max](Config& c, std::string_view v) -> base::Status {
    auto n = ParseInteger<T>(env, v, min, max);
    if (!n) return base::Fail(n.error());
    c.*field = static_cast<Field>(*n);
    return {};
  };
}

template <typename Duration>
std::function<base::Status(Config&, std::string_view)> DurationOf(std::string env,
                                                                  std::chrono::milliseconds Config::*field,
                                                                  long long min, long long max) {
  return [env, field, min, max](Config& c, std::string_view v) -> base::Status {
    auto n = ParseInteger<long long>(env, v, min, max);
    if (!n) return base::Fail(n.error());
    c.*field = std::chrono::duration_cast<std::chrono::milliseconds>(Duration(*n));
    return {};
  };
}

std::function<base::Status(Config&, std::string_view)> Text(std::string Config::*field) {
  return [field](Config& c, std::string_view v) -> base::Status {
    c.*field = std::string(v);
    return {};
  };
}

std::function<base::Status(Config&, std::string_view)> OneOf(std::string env, std::string Config::*field,
                                                             std::vector<std::string> allowed) {
  return [env, field, allowed](Config& c, std::string_view v) -> base::Status {
    for (const auto& a : allowed) {
      if (a == v) {
        c.*field = std::string(v);
        return {};
      }
    }
    return Bad(env, fmt::format("'{}' is not one of {}", v, fmt::join(allowed, ", ")));
  };
}

std::vector<Key> Declare() {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  using std::chrono::minutes;
  return {
      {"ANALYTICS_ENV", "env", "development",
       "development | production (production refuses to start without PSEUDONYMIZATION_KEY)", false,
       OneOf("ANALYTICS_ENV", &Config::environment, {"development", "production"})},
      {"HOST", "host", "0.0.0.0", "address the HTTP server binds", false, Text(&Config::host)},
      {"PORT", "port", "3004", "HTTP port", false, Integer<std::uint16_t>("PORT", &Config::port, 0, 65535)},
      {"HTTP_THREADS", "http-threads", "2", "HTTP worker threads", false,
       Integer<int>("HTTP_THREADS", &Config::http_threads, 1, 256)},
      {"STORAGE", "storage", "embedded",
       "embedded: ClickHouse in-process through chDB (the only storage form so far)", false,
       OneOf("STORAGE", &Config::storage, {"embedded"})},
      {"DATA_DIR", "data-dir", "./data", "directory of the embedded storage", false, Text(&Config::data_dir)},
      {"CHDB_LIB_PATH", "chdb-lib", ANALYTICS_DEFAULT_CHDB_LIB,
       "path of libchdb.so (installed by scripts/setup)", false, Text(&Config::chdb_lib_path)},
      {"CLICKHOUSE_DB", "clickhouse-db", "analytics", "ClickHouse database holding the service's tables", false,
       Text(&Config::clickhouse_db)},
      {"PSEUDONYMIZATION_KEY", "pseudonymization-key", "",
       "secret HMAC key for user ids (at least 16 bytes; required in production)", true,
       Text(&Config::pseudonymization_key)},
      {"INGEST_MAX_BODY_BYTES", "max-body-bytes", "33554432", "largest request body (413 beyond)", false,
       Integer<std::size_t>("INGEST_MAX_BODY_BYTES", &Config::max_body_bytes, 1024, std::size_t{1} << 30)},
      {"INGEST_MAX_BATCH_EVENTS", "max-batch-events", "50000", "most events in one request (413 beyond)",
       false, Integer<std::size_t>("INGEST_MAX_BATCH_EVENTS", &Config::max_batch_events, 1, 1'000'000)},
      {"INGEST_MAX_EVENT_BYTES", "max-event-bytes", "32768", "largest single event (rejected beyond)", false,
       Integer<std::size_t>("INGEST_MAX_EVENT_BYTES", &Config::max_event_bytes, 256, 1 << 24)},
      {"INGEST_MAX_FUTURE_SECONDS", "max-future-seconds", "86400",
       "how far in the future an event timestamp may be", false,
       DurationOf<seconds>("INGEST_MAX_FUTURE_SECONDS", &Config::max_future_skew, 0, 366LL * 86400)},
      {"STORE_BATCH_EVENTS", "store-batch-events", "100000", "most events in one storage insert", false,
       Integer<std::size_t>("STORE_BATCH_EVENTS", &Config::store_batch_events, 1, 10'000'000)},
      {"STORE_BATCH_DELAY_MS", "store-batch-delay-ms", "50",
       "how long a submission waits for others to share its insert", false,
       DurationOf<milliseconds>("STORE_BATCH_DELAY_MS", &Config::store_batch_delay, 0, 60'000)},
      {"INGEST_MAX_PENDING_EVENTS", "max-pending-events", "1000000",
       "events waiting for storage before new requests get 429", false,
       Integer<std::size_t>("INGEST_MAX_PENDING_EVENTS", &Config::max_pending_events, 1, 100'000'000)},
      {"DEDUP_WINDOW_HOURS", "dedup-window-hours", "24",
       "how long stored event ids are remembered to drop redelivered copies", false,
       DurationOf<hours>("DEDUP_WINDOW_HOURS", &Config::dedup_horizon, 0, 24 * 90)},
      {"DEDUP_MAX_IDS", "dedup-max-ids", "20000000", "most event ids remembered", false,
       Integer<std::size_t>("DEDUP_MAX_IDS", &Config::dedup_max_ids, 0, 1'000'000'000)},
      {"RABBITMQ_URL", "rabbitmq-url", "",
       "amqp://user:password@host:port/vhost of the broker to consume from (empty: HTTP ingest only)", true,
       Text(&Config::rabbitmq_url)},
      {"AMQP_EXCHANGE", "amqp-exchange", "analytics.events", "topic exchange the platform publishes to", false,
       Text(&Config::amqp_exchange)},
      {"AMQP_QUEUE", "amqp-queue", "analytics-service.events", "the service's queue, bound to the exchange with #",
       false, Text(&Config::amqp_queue)},
      {"AMQP_DEAD_LETTER_EXCHANGE", "amqp-dead-letter-exchange", "analytics.events.dlx",
       "where messages that can never be stored go", false, Text(&Config::amqp_dead_letter_exchange)},
      {"AMQP_DEAD_LETTER_QUEUE", "amqp-dead-letter-queue", "analytics.events.dead",
       "queue holding dead letters (inspect and replay with `dead-letters`)", false,
       Text(&Config::amqp_dead_letter_queue)},
      {"AMQP_QUEUE_TYPE", "amqp-queue-type", "quorum", "quorum | classic", false,
       OneOf("AMQP_QUEUE_TYPE", &Config::amqp_queue_type, {"quorum", "classic"})},
      {"AMQP_DELIVERY_LIMIT", "amqp-delivery-limit", "10",
       "deliveries of one message before the broker dead-letters it (quorum queues)", false,
       Integer<int>("AMQP_DELIVERY_LIMIT", &Config::amqp_delivery_limit, 0, 1000)},
      {"AMQP_BATCH_EVENTS", "amqp-batch-events", "5000", "messages per stored batch (prefetch is twice this)", false,
       Integer<std::size_t>("AMQP_BATCH_EVENTS", &Config::amqp_batch_events, 1, 30'000)},
      {"AMQP_BATCH_DELAY_MS", "amqp-batch-delay-ms", "200", "longest wait before a partial batch is stored", false,
       DurationOf<milliseconds>("AMQP_BATCH_DELAY_MS", &Config::amqp_batch_delay, 1, 60'000)},
      {"AMQP_HEARTBEAT_SECONDS", "amqp-heartbeat-seconds", "30", "AMQP heartbeat interval", false,
       DurationOf<seconds>("AMQP_HEARTBEAT_SECONDS", &Config::amqp_heartbeat, 0, 600)},
      {"PLAN_CATALOG_FILE", "plan-catalog", ANALYTICS_DEFAULT_CONFIG_DIR "/plans.json",
       "plan catalog (billing interval of each plan id) used by MRR", false,
       Text(&Config::plan_catalog_file)},
      {"MODEL_PRICES_FILE", "model-prices", ANALYTICS_DEFAULT_CONFIG_DIR "/model-prices.json",
       "model price table (USD per 1M tokens, with effective dates) used by provider costs", false,
       Text(&Config::model_prices_file)},
      {"QUERY_CACHE", "query-cache", "on", "cache analytics answers in memory: on | off", false,
       OneOf("QUERY_CACHE", &Config::query_cache, {"on", "off"})},
      {"QUERY_ROLLUP", "query-rollup", "on",
       "answer the analytics reads from in-memory 15-minute rollups built in the background "
       "from storage: on | off (every read scans the stored events)",
       false, OneOf("QUERY_ROLLUP", &Config::query_rollup, {"on", "off"})},
      {"QUERY_CACHE_TTL_SECONDS", "query-cache-ttl-seconds", "30",
       "how long a cached analytics answer is served", false,
       DurationOf<seconds>("QUERY_CACHE_TTL_SECONDS", &Config::query_cache_ttl, 1, 86400)},
      {"SESSION_GAP_MINUTES", "session-gap-minutes", "30",
       "inactivity that ends a session (chat/average-session)", false,
       DurationOf<minutes>("SESSION_GAP_MINUTES", &Config::session_gap, 1, 24 * 60)},
      {"LOG_LEVEL", "log-level", "info", "debug | info | warn | error", false,
       OneOf("LOG_LEVEL", &Config::log_level, {"debug", "info", "warn", "error"})},
      {"LOG_FORMAT", "log-format", "text", "text | json", false,
       OneOf("LOG_FORMAT", &Config::log_format, {"text", "json"})},
  };
}

}  // namespace

const std::vector<Key>& Keys() {
  static const std::vector<Key> keys = Declare();
  return keys;
}

base::Result<Config> Load(const std::map<std::string, std::string>& env,
                          const std::map<std::string, std::string>& overrides) {
  Config c;
  for (const auto& key : Keys()) {
    std::string value = key.default_value;
    if (auto it = env.find(key.env); it != env.end()) value = it->second;
    if (auto it = overrides.find(key.env); it != overrides.end()) value = it->second;
    if (auto s = key.apply(c, value); !s) return base::Fail(s.error());
  }
  if (c.pseudonymization_key.empty()) {
    if (c.environment == "production") {
      return base::Fail(base::Error::InvalidArgument(
          "PSEUDONYMIZATION_KEY: required in production (a secret of at least 16 bytes)",
          "PSEUDONYMIZATION_KEY"));
    }
    c.pseudonymization_key = std::string(kDevelopmentKey);
    c.pseudonymization_key_is_default = true;
  } else if (c.pseudonymization_key.size() < 16) {
    return base::Fail(base::Error::InvalidArgument(
        "PSEUDONYMIZATION_KEY: must be at least 16 bytes", "PSEUDONYMIZATION_KEY"));
  }
  return c;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (const auto& key : Keys()) {
    if (const char* v = std::getenv(key.env.c_str()); v != nullptr) env[key.env] = v;
  }
  return env;
}

}  // namespace config
