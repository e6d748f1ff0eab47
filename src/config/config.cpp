#include "config/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace config {
namespace {

constexpr std::string_view kDevelopmentKey = "development-only-pseudonymization-key";

base::Status Bad(std::string_view env, std::string message) {
  return base::Fail(
      base::Error::InvalidArgument(fmt::format("{}: {}", env, message), std::string(env)));
}

template <typename T>
base::Result<T> ParseInteger(std::string_view env, std::string_view text, T min, T max) {
  T value{};
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("{}: '{}' is not an integer from {} to {}", env, text, min, max),
        std::string(env)));
  }
  return value;
}

template <typename T, typename Field>
std::function<base::Status(Config&, std::string_view)> Integer(std::string env,
                                                               Field Config::*field,
                                                               std::type_identity_t<T> min,
                                                               std::type_identity_t<T> max) {
  return [env, field, min, max](Config& c, std::string_view v) -> base::Status {
    auto n = ParseInteger<T>(env, v, min, max);
    if (!n) return base::Fail(n.error());
    c.*field = static_cast<Field>(*n);
    return {};
  };
}

template <typename Duration>
std::function<base::Status(Config&, std::string_view)> DurationOf(
    std::string env, std::chrono::milliseconds Config::*field, long long min, long long max) {
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

std::function<base::Status(Config&, std::string_view)> OneOf(std::string env,
                                                             std::string Config::*field,
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

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Comma-separated items, trimmed, empty ones dropped.
std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = TrimSpaces(text.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (const char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != '@') {
      return false;
    }
  }
  return true;
}

template <typename E>
std::function<base::Status(Config&, std::string_view)> EnumOf(
    std::string env, E Config::*field, std::vector<std::pair<std::string, E>> names) {
  return [env, field, names](Config& c, std::string_view v) -> base::Status {
    std::vector<std::string> allowed;
    for (const auto& [name, value] : names) {
      if (name == v) {
        c.*field = value;
        return {};
      }
      allowed.push_back(name);
    }
    return Bad(env, fmt::format("'{}' is not one of {}", v, fmt::join(allowed, ", ")));
  };
}

// "id:sha256hex,..." (the SHA-256 of each key, as `analytics-service api-key new` prints).
std::function<base::Status(Config&, std::string_view)> HashedKeys(
    std::string env, std::vector<HashedKey> Config::*field) {
  return [env, field](Config& c, std::string_view v) -> base::Status {
    std::vector<HashedKey> keys;
    for (const auto& item : SplitList(v)) {
      const auto colon = item.find(':');
      const std::string id = item.substr(0, colon);
      const std::string hex = colon == std::string::npos ? "" : item.substr(colon + 1);
      const bool hex_ok = hex.size() == 64 && std::ranges::all_of(hex, [](char ch) {
                            return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
                          });
      if (!IsIdentifier(id) || !hex_ok) {
        return Bad(env, fmt::format("entry '{}' is not <id>:<64 hex digits of the key's SHA-256>",
                                    id.empty() ? item.substr(0, 8) : id));
      }
      for (const auto& k : keys) {
        if (k.id == id) return Bad(env, fmt::format("key id '{}' is given twice", id));
      }
      keys.push_back({id, hex});
    }
    c.*field = std::move(keys);
    return {};
  };
}

base::Status ApplyAlgorithms(Config& c, std::string_view v) {
  c.jwt_algorithms.clear();
  for (const auto& a : SplitList(v)) {
    if (a != "HS256" && a != "RS256" && a != "ES256") {
      return Bad("JWT_ALGORITHMS", fmt::format("'{}' is not one of HS256, RS256, ES256", a));
    }
    c.jwt_algorithms.push_back(a);
  }
  if (c.jwt_algorithms.empty()) return Bad("JWT_ALGORITHMS", "at least one algorithm is needed");
  return {};
}

// "class/principal=limit,...": class is analytics, ingest, admin or *.
base::Status ApplyOverrides(Config& c, std::string_view v) {
  c.rate_limit_overrides.clear();
  for (const auto& item : SplitList(v)) {
    const auto slash = item.find('/');
    const auto eq = item.rfind('=');
    if (slash == std::string::npos || eq == std::string::npos || eq < slash) {
      return Bad("RATE_LIMIT_OVERRIDES",
                 fmt::format("'{}' is not <class>/<principal>=<per minute>", item));
    }
    RateLimitOverride o;
    o.access_class = std::string(TrimSpaces(std::string_view(item).substr(0, slash)));
    o.principal = std::string(TrimSpaces(std::string_view(item).substr(slash + 1, eq - slash - 1)));
    if (o.access_class != "analytics" && o.access_class != "ingest" && o.access_class != "admin" &&
        o.access_class != "*") {
      return Bad("RATE_LIMIT_OVERRIDES",
                 fmt::format("'{}': the class must be analytics, ingest, admin or *", item));
    }
    if (o.principal.empty())
      return Bad("RATE_LIMIT_OVERRIDES", fmt::format("'{}': no principal", item));
    auto n = ParseInteger<std::uint32_t>(
        "RATE_LIMIT_OVERRIDES", TrimSpaces(std::string_view(item).substr(eq + 1)), 0, 10'000'000);
    if (!n) return base::Fail(n.error());
    o.per_minute = *n;
    c.rate_limit_overrides.push_back(std::move(o));
  }
  return {};
}

base::Status ApplyOrigins(Config& c, std::string_view v) {
  c.cors_origins.clear();
  for (const auto& o : SplitList(v)) {
    // An exact origin: scheme://host[:port], no path, no wildcard.
    const auto scheme = o.find("://");
    const bool ok = (o.starts_with("http://") || o.starts_with("https://")) &&
                    o.find('/', scheme + 3) == std::string::npos &&
                    o.find('*') == std::string::npos && o.size() > scheme + 3;
    if (!ok) {
      return Bad("CORS_ALLOWED_ORIGINS",
                 fmt::format("'{}' is not an exact origin such as https://admin.example.com", o));
    }
    c.cors_origins.push_back(o);
  }
  return {};
}

std::vector<Key> Declare() {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using std::chrono::minutes;
  using std::chrono::seconds;
  return {
      {"ANALYTICS_ENV", "env", "development",
       "development | production (production refuses to start without PSEUDONYMIZATION_KEY and JWT "
       "key material)",
       false, OneOf("ANALYTICS_ENV", &Config::environment, {"development", "production"})},
      {"HOST", "host", "0.0.0.0", "address the HTTP server binds", false, Text(&Config::host)},
      {"PORT", "port", "3004", "HTTP port", false,
       Integer<std::uint16_t>("PORT", &Config::port, 0, 65535)},
      {"HTTP_THREADS", "http-threads", "2", "HTTP worker threads", false,
       Integer<int>("HTTP_THREADS", &Config::http_threads, 1, 256)},
      {"STORAGE", "storage", "embedded",
       "embedded: ClickHouse in-process through chDB (the only storage form so far)", false,
       OneOf("STORAGE", &Config::storage, {"embedded"})},
      {"DATA_DIR", "data-dir", "./data", "directory of the embedded storage", false,
       Text(&Config::data_dir)},
      {"CHDB_LIB_PATH", "chdb-lib", ANALYTICS_DEFAULT_CHDB_LIB,
       "path of libchdb.so (installed by scripts/setup)", false, Text(&Config::chdb_lib_path)},
      {"CLICKHOUSE_DB", "clickhouse-db", "analytics",
       "ClickHouse database holding the service's tables", false, Text(&Config::clickhouse_db)},
      {"PSEUDONYMIZATION_KEY", "pseudonymization-key", "",
       "secret HMAC key for user ids (at least 16 bytes; required in production)", true,
       Text(&Config::pseudonymization_key)},
      {"INGEST_MAX_BODY_BYTES", "max-body-bytes", "33554432", "largest request body (413 beyond)",
       false,
       Integer<std::size_t>("INGEST_MAX_BODY_BYTES", &Config::max_body_bytes, 1024,
                            std::size_t{1} << 30)},
      {"INGEST_MAX_BATCH_EVENTS", "max-batch-events", "50000",
       "most events in one request (413 beyond)", false,
       Integer<std::size_t>("INGEST_MAX_BATCH_EVENTS", &Config::max_batch_events, 1, 1'000'000)},
      {"INGEST_MAX_EVENT_BYTES", "max-event-bytes", "32768",
       "largest single event (rejected beyond)", false,
       Integer<std::size_t>("INGEST_MAX_EVENT_BYTES", &Config::max_event_bytes, 256, 1 << 24)},
      {"INGEST_MAX_FUTURE_SECONDS", "max-future-seconds", "86400",
       "how far in the future an event timestamp may be", false,
       DurationOf<seconds>("INGEST_MAX_FUTURE_SECONDS", &Config::max_future_skew, 0,
                           366LL * 86400)},
      {"STORE_BATCH_EVENTS", "store-batch-events", "100000", "most events in one storage insert",
       false,
       Integer<std::size_t>("STORE_BATCH_EVENTS", &Config::store_batch_events, 1, 10'000'000)},
      {"STORE_BATCH_DELAY_MS", "store-batch-delay-ms", "50",
       "how long a submission waits for others to share its insert", false,
       DurationOf<milliseconds>("STORE_BATCH_DELAY_MS", &Config::store_batch_delay, 0, 60'000)},
      {"INGEST_MAX_PENDING_EVENTS", "max-pending-events", "1000000",
       "events waiting for storage before new requests get 429", false,
       Integer<std::size_t>("INGEST_MAX_PENDING_EVENTS", &Config::max_pending_events, 1,
                            100'000'000)},
      {"DEDUP_WINDOW_HOURS", "dedup-window-hours", "24",
       "how long stored event ids are remembered to drop redelivered copies", false,
       DurationOf<hours>("DEDUP_WINDOW_HOURS", &Config::dedup_horizon, 0, 24 * 90)},
      {"DEDUP_MAX_IDS", "dedup-max-ids", "20000000", "most event ids remembered", false,
       Integer<std::size_t>("DEDUP_MAX_IDS", &Config::dedup_max_ids, 0, 1'000'000'000)},
      {"RABBITMQ_URL", "rabbitmq-url", "",
       "amqp://user:password@host:port/vhost of the broker to consume from (empty: HTTP ingest "
       "only)",
       true, Text(&Config::rabbitmq_url)},
      {"AMQP_EXCHANGE", "amqp-exchange", "analytics.events",
       "topic exchange the platform publishes to", false, Text(&Config::amqp_exchange)},
      {"AMQP_QUEUE", "amqp-queue", "analytics-service.events",
       "the service's queue, bound to the exchange with #", false, Text(&Config::amqp_queue)},
      {"AMQP_DEAD_LETTER_EXCHANGE", "amqp-dead-letter-exchange", "analytics.events.dlx",
       "where messages that can never be stored go", false,
       Text(&Config::amqp_dead_letter_exchange)},
      {"AMQP_DEAD_LETTER_QUEUE", "amqp-dead-letter-queue", "analytics.events.dead",
       "queue holding dead letters (inspect and replay with `dead-letters`)", false,
       Text(&Config::amqp_dead_letter_queue)},
      {"AMQP_QUEUE_TYPE", "amqp-queue-type", "quorum", "quorum | classic", false,
       OneOf("AMQP_QUEUE_TYPE", &Config::amqp_queue_type, {"quorum", "classic"})},
      {"AMQP_DELIVERY_LIMIT", "amqp-delivery-limit", "10",
       "deliveries of one message before the broker dead-letters it (quorum queues)", false,
       Integer<int>("AMQP_DELIVERY_LIMIT", &Config::amqp_delivery_limit, 0, 1000)},
      {"AMQP_BATCH_EVENTS", "amqp-batch-events", "5000",
       "messages per stored batch (prefetch is twice this)", false,
       Integer<std::size_t>("AMQP_BATCH_EVENTS", &Config::amqp_batch_events, 1, 30'000)},
      {"AMQP_BATCH_DELAY_MS", "amqp-batch-delay-ms", "200",
       "longest wait before a partial batch is stored", false,
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

      {"AUTH", "auth", "required",
       "required | off (off only for local benchmarks: refused unless ANALYTICS_ENV=development "
       "and "
       "HOST is a loopback address)",
       false,
       EnumOf("AUTH", &Config::auth, {{"required", AuthMode::kRequired}, {"off", AuthMode::kOff}})},
      {"JWT_ALGORITHMS", "jwt-algorithms", "HS256",
       "accepted token algorithms, comma-separated: HS256, RS256, ES256 (never taken from the "
       "token)",
       false, ApplyAlgorithms},
      {"JWT_SECRET", "jwt-secret", "",
       "HS256 secret shared with the auth service (at least 32 bytes); in development, when no key "
       "is configured, one is created in DATA_DIR/jwt-dev-secret",
       true, Text(&Config::jwt_secret)},
      {"JWT_PUBLIC_KEY_FILE", "jwt-public-key-file", "",
       "PEM file of the RSA or EC P-256 public key for RS256/ES256", false,
       Text(&Config::jwt_public_key_file)},
      {"JWKS_FILE", "jwks-file", "",
       "JWKS file of the auth service's public keys (selected by kid; re-read when it changes)",
       false, Text(&Config::jwks_file)},
      {"JWT_ISSUER", "jwt-issuer", "", "required 'iss' of tokens (empty: not checked)", false,
       Text(&Config::jwt_issuer)},
      {"JWT_AUDIENCE", "jwt-audience", "", "required 'aud' of tokens (empty: not checked)", false,
       Text(&Config::jwt_audience)},
      {"JWT_LEEWAY_SECONDS", "jwt-leeway-seconds", "60", "clock skew allowed on exp and nbf", false,
       [](Config& c, std::string_view v) -> base::Status {
         auto n = ParseInteger<int>("JWT_LEEWAY_SECONDS", v, 0, 300);
         if (!n) return base::Fail(n.error());
         c.jwt_leeway = std::chrono::seconds(*n);
         return {};
       }},
      {"JWT_ROLE_CLAIM", "jwt-role-claim", "role",
       "claim holding the roles: a string or an array of strings (a dotted path walks objects)",
       false, Text(&Config::jwt_role_claim)},
      {"JWT_ADMIN_ROLE", "jwt-admin-role", "admin",
       "role that grants the analytics and admin routes", false, Text(&Config::jwt_admin_role)},
      {"INGEST_API_KEYS", "ingest-api-keys", "",
       "keys accepted in X-API-Key by POST /api/events: id:sha256hex,... (create with `api-key "
       "new`)",
       true, HashedKeys("INGEST_API_KEYS", &Config::ingest_api_keys)},
      {"METRICS_ACCESS", "metrics-access", "loopback",
       "who may read /metrics: loopback | token (an admin token or a METRICS_API_KEYS key) | open",
       false,
       EnumOf("METRICS_ACCESS", &Config::metrics_access,
              {{"loopback", MetricsAccess::kLoopback},
               {"token", MetricsAccess::kToken},
               {"open", MetricsAccess::kOpen}})},
      {"METRICS_API_KEYS", "metrics-api-keys", "",
       "keys accepted in X-API-Key by /metrics in token mode: id:sha256hex,...", true,
       HashedKeys("METRICS_API_KEYS", &Config::metrics_api_keys)},
      {"RATE_LIMIT_ANALYTICS_PER_MINUTE", "rate-limit-analytics", "100",
       "analytics reads per principal in any 60 s (0: no limit)", false,
       Integer<std::uint32_t>("RATE_LIMIT_ANALYTICS_PER_MINUTE", &Config::rate_limit_analytics, 0,
                              10'000'000)},
      {"RATE_LIMIT_INGEST_PER_MINUTE", "rate-limit-ingest", "100",
       "ingest requests per principal in any 60 s (0: no limit)", false,
       Integer<std::uint32_t>("RATE_LIMIT_INGEST_PER_MINUTE", &Config::rate_limit_ingest, 0,
                              10'000'000)},
      {"RATE_LIMIT_ADMIN_PER_MINUTE", "rate-limit-admin", "100",
       "admin requests per principal in any 60 s (0: no limit)", false,
       Integer<std::uint32_t>("RATE_LIMIT_ADMIN_PER_MINUTE", &Config::rate_limit_admin, 0,
                              10'000'000)},
      {"RATE_LIMIT_OVERRIDES", "rate-limit-overrides", "",
       "per-principal limits: class/principal=per-minute,... (class analytics|ingest|admin|*; "
       "principal a token sub, an API key id or ip:<address>; 0: no limit)",
       false, ApplyOverrides},
      {"RATE_LIMIT_MAX_PRINCIPALS", "rate-limit-max-principals", "50000",
       "principals tracked per class (idle ones are forgotten; about 300 bytes each)", false,
       Integer<std::size_t>("RATE_LIMIT_MAX_PRINCIPALS", &Config::rate_limit_max_principals, 16,
                            10'000'000)},
      {"CORS_ALLOWED_ORIGINS", "cors-allowed-origins", "",
       "exact origins allowed to call the API from a browser, comma-separated (empty: none)", false,
       ApplyOrigins},
      {"CORS_MAX_AGE_SECONDS", "cors-max-age-seconds", "600",
       "how long browsers may cache a preflight", false,
       [](Config& c, std::string_view v) -> base::Status {
         auto n = ParseInteger<int>("CORS_MAX_AGE_SECONDS", v, 0, 86400);
         if (!n) return base::Fail(n.error());
         c.cors_max_age = std::chrono::seconds(*n);
         return {};
       }},
      {"HTTP_MAX_HEADER_BYTES", "http-max-header-bytes", "16384",
       "largest request header fields (431 beyond)", false,
       Integer<std::size_t>("HTTP_MAX_HEADER_BYTES", &Config::http_max_header_bytes, 1024,
                            1 << 20)},
      {"HTTP_MAX_URI_BYTES", "http-max-uri-bytes", "8192", "longest request target (414 beyond)",
       false,
       Integer<std::size_t>("HTTP_MAX_URI_BYTES", &Config::http_max_uri_bytes, 256, 1 << 20)},
      {"HTTP_MAX_CONNECTIONS", "http-max-connections", "1024",
       "open connections at once (503 beyond)", false,
       Integer<std::size_t>("HTTP_MAX_CONNECTIONS", &Config::http_max_connections, 1, 1'000'000)},
      {"HTTP_REQUEST_TIMEOUT_SECONDS", "http-request-timeout-seconds", "30",
       "time from a request's first byte to its last (slower clients are dropped)", false,
       DurationOf<seconds>("HTTP_REQUEST_TIMEOUT_SECONDS", &Config::http_request_timeout, 1, 3600)},
      {"HTTP_IDLE_TIMEOUT_SECONDS", "http-idle-timeout-seconds", "60",
       "how long a keep-alive connection may wait for its next request", false,
       DurationOf<seconds>("HTTP_IDLE_TIMEOUT_SECONDS", &Config::http_idle_timeout, 1, 3600)},
      {"QUERY_MAX_EXECUTION_SECONDS", "query-max-execution-seconds", "10",
       "time cap of each analytics read in the engine (503 beyond)", false,
       DurationOf<seconds>("QUERY_MAX_EXECUTION_SECONDS", &Config::query_max_execution, 1, 3600)},
      {"QUERY_MAX_MEMORY_BYTES", "query-max-memory-bytes", "2147483648",
       "memory cap of each analytics read in the engine (503 beyond)", false,
       Integer<std::size_t>("QUERY_MAX_MEMORY_BYTES", &Config::query_max_memory_bytes, 1 << 24,
                            std::size_t{1} << 40)},
      {"QUERY_MAX_ANSWER_CELLS", "query-max-answer-cells", "100000",
       "largest analytics answer, in rows (retention: cohort periods), computed before it runs "
       "(400 beyond)",
       false,
       Integer<std::size_t>("QUERY_MAX_ANSWER_CELLS", &Config::query_max_cells, 100, 10'000'000)},
      {"QUERY_MAX_GROUPS", "query-max-groups", "50",
       "groups (providers, models, plans, currencies) kept in an answer; the rest are summed into "
       "\"(other)\"",
       false, Integer<std::size_t>("QUERY_MAX_GROUPS", &Config::query_max_groups, 1, 10'000)},
      {"QUERY_CACHE_MAX_BYTES", "query-cache-max-bytes", "67108864",
       "memory held by cached analytics answers", false,
       Integer<std::size_t>("QUERY_CACHE_MAX_BYTES", &Config::query_cache_max_bytes, 0,
                            std::size_t{1} << 36)},
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
  if (c.environment == "production" && !c.HasJwtKeys()) {
    return base::Fail(
        base::Error::InvalidArgument("JWT_SECRET, JWT_PUBLIC_KEY_FILE or JWKS_FILE: production "
                                     "needs the auth service's key material",
                                     "JWT_SECRET"));
  }
  if (c.auth == AuthMode::kOff) {
    const bool loopback = c.host == "127.0.0.1" || c.host == "::1" || c.host == "localhost";
    if (c.environment != "development" || !loopback) {
      return base::Fail(base::Error::InvalidArgument(
          "AUTH: 'off' is only accepted with ANALYTICS_ENV=development and HOST=127.0.0.1 or ::1",
          "AUTH"));
    }
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
