#include "main/commands.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "adapters/amqp/amqp_consumer.hpp"
#include "adapters/amqp/amqp_publisher.hpp"
#include "adapters/amqp/dead_letters.hpp"
#include "adapters/chdb/chdb_event_store.hpp"
#include "adapters/clickhouse/analytics_sql.hpp"
#include "adapters/crypto/hashed_api_keys.hpp"
#include "adapters/crypto/hmac_pseudonymizer.hpp"
#include "adapters/http/analytics_routes.hpp"
#include "adapters/http/http_server.hpp"
#include "adapters/http/security_gate.hpp"
#include "adapters/http/service_routes.hpp"
#include "adapters/jwt/jwt_verifier.hpp"
#include "adapters/logging/spdlog_sink.hpp"
#include "adapters/metrics/prometheus_metrics.hpp"
#include "app/access_policy.hpp"
#include "app/ingest_service.hpp"
#include "app/query_service.hpp"
#include "app/rate_limiter.hpp"
#include "app/rollup_builder.hpp"
#include "app/rollup_store.hpp"
#include "base/json_string.hpp"
#include "base/log.hpp"
#include "domain/timestamp.hpp"
#include "loadgen/generator.hpp"
#include "loadgen/http_sender.hpp"

namespace main_cmd {
namespace {

void ConfigureLogging(const config::Config& c) {
  const auto format = c.log_format == "json" ? base::log::Format::kJson : base::log::Format::kText;
  const auto level = c.log_level == "debug"   ? base::log::Level::kDebug
                     : c.log_level == "warn"  ? base::log::Level::kWarn
                     : c.log_level == "error" ? base::log::Level::kError
                                              : base::log::Level::kInfo;
  base::log::Configure(adapters::logging::MakeSpdlogSink(format), level, format);
}

base::Result<std::unique_ptr<adapters::chdb::ChdbEventStore>> OpenStore(const config::Config& c,
                                                                        const base::Clock& clock) {
  adapters::chdb::ChdbEventStore::Options options;
  options.library_path = c.chdb_lib_path;
  options.data_dir = (std::filesystem::path(c.data_dir) / "clickhouse").string();
  options.database = c.clickhouse_db;
  return adapters::chdb::ChdbEventStore::Open(options, clock);
}

struct Catalogs {
  domain::PlanCatalog plans;
  domain::PriceTable prices;
};

base::Result<std::string> ReadFile(const std::string& path, std::string_view key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return base::Fail(base::Error::InvalidArgument(fmt::format("{}: cannot read '{}'", key, path),
                                                   std::string(key)));
  }
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// The plan catalog and the model price table named by the config; a bad file stops start-up.
base::Result<Catalogs> LoadCatalogs(const config::Config& c) {
  auto plans_text = ReadFile(c.plan_catalog_file, "PLAN_CATALOG_FILE");
  if (!plans_text) return base::Fail(plans_text.error());
  auto plans = domain::PlanCatalog::Parse(*plans_text);
  if (!plans) {
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("PLAN_CATALOG_FILE ({}): {}", c.plan_catalog_file, plans.error().message),
        "PLAN_CATALOG_FILE"));
  }
  auto prices_text = ReadFile(c.model_prices_file, "MODEL_PRICES_FILE");
  if (!prices_text) return base::Fail(prices_text.error());
  auto prices = domain::PriceTable::Parse(*prices_text);
  if (!prices) {
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("MODEL_PRICES_FILE ({}): {}", c.model_prices_file, prices.error().message),
        "MODEL_PRICES_FILE"));
  }
  return Catalogs{std::move(*plans), std::move(*prices)};
}

domain::DecodeLimits LimitsOf(const config::Config& c) {
  domain::DecodeLimits limits;
  limits.max_batch_events = c.max_batch_events;
  limits.max_event_bytes = c.max_event_bytes;
  limits.max_future_skew = c.max_future_skew;
  return limits;
}

adapters::amqp::Topology TopologyOf(const config::Config& c) {
  adapters::amqp::Topology t;
  t.exchange = c.amqp_exchange;
  t.queue = c.amqp_queue;
  t.dead_letter_exchange = c.amqp_dead_letter_exchange;
  t.dead_letter_queue = c.amqp_dead_letter_queue;
  t.queue_type = c.amqp_queue_type;
  t.delivery_limit = c.amqp_delivery_limit;
  return t;
}

std::filesystem::path DevelopmentSecretPath(const config::Config& c) {
  return std::filesystem::path(c.data_dir) / "jwt-dev-secret";
}

/// The development signing secret, kept beside the data (created on first use, mode 0600).
base::Result<std::string> DevelopmentSecret(const config::Config& c) {
  std::error_code ec;
  std::filesystem::create_directories(c.data_dir, ec);
  return adapters::jwt::LoadOrCreateSecretFile(DevelopmentSecretPath(c));
}

/// The verifier of the auth service's tokens, from the configured key material; in development
/// without any, from the development secret (production refuses to start without keys).
base::Result<std::unique_ptr<adapters::jwt::JwtVerifier>> MakeTokenVerifier(
    const config::Config& c, const base::Clock& clock) {
  adapters::jwt::JwtVerifier::Options o;
  o.algorithms = c.jwt_algorithms;
  o.hmac_secret = c.jwt_secret;
  if (!c.HasJwtKeys()) {
    TRY_ASSIGN(secret, DevelopmentSecret(c));
    o.hmac_secret = std::move(*secret);
    base::log::Info("auth.development_secret",
                    {{"path", DevelopmentSecretPath(c).string()},
                     {"hint",
                      "tokens: analytics-service token --sub <you>; production needs JWT_SECRET, "
                      "JWT_PUBLIC_KEY_FILE or JWKS_FILE"}});
  }
  if (!c.jwt_public_key_file.empty()) {
    TRY_ASSIGN(pem, ReadFile(c.jwt_public_key_file, "JWT_PUBLIC_KEY_FILE"));
    o.public_key_pem = std::move(*pem);
  }
  o.jwks_file = c.jwks_file;
  o.issuer = c.jwt_issuer;
  o.audience = c.jwt_audience;
  o.leeway = c.jwt_leeway;
  o.role_claim = c.jwt_role_claim;
  return adapters::jwt::JwtVerifier::Create(std::move(o), clock);
}

std::vector<std::pair<std::string, std::string>> KeyPairs(
    const std::vector<config::HashedKey>& keys) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& k : keys) out.emplace_back(k.id, k.sha256_hex);
  return out;
}

app::RateLimiter::Options RateLimitsOf(const config::Config& c) {
  app::RateLimiter::Options o;
  o.per_minute[app::Index(app::AccessClass::kAnalytics)] = c.rate_limit_analytics;
  o.per_minute[app::Index(app::AccessClass::kIngest)] = c.rate_limit_ingest;
  o.per_minute[app::Index(app::AccessClass::kAdmin)] = c.rate_limit_admin;
  o.per_minute[app::Index(app::AccessClass::kMetrics)] = 0;
  for (const auto& r : c.rate_limit_overrides) {
    for (const auto access : app::kAccessClasses) {
      if (r.access_class == "*" || r.access_class == app::AccessClassName(access)) {
        o.overrides[{access, r.principal}] = r.per_minute;
      }
    }
  }
  o.max_principals = c.rate_limit_max_principals;
  return o;
}

app::MetricsAccess MetricsAccessOf(config::MetricsAccess m) {
  switch (m) {
    case config::MetricsAccess::kLoopback:
      return app::MetricsAccess::kLoopback;
    case config::MetricsAccess::kToken:
      return app::MetricsAccess::kToken;
    case config::MetricsAccess::kOpen:
      return app::MetricsAccess::kOpen;
  }
  return app::MetricsAccess::kLoopback;
}

/// Blocks SIGTERM/SIGINT in this thread and every thread started after it, so that only
/// `WaitForStopSignal` sees them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

int WaitForStopSignal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace

int RunServe(const config::Config& c) {
  const sigset_t stop_signals = BlockStopSignals();
  ConfigureLogging(c);
  if (c.pseudonymization_key_is_default) {
    base::log::Warn(
        "config.default_pseudonymization_key",
        {{"hint",
          "set PSEUDONYMIZATION_KEY; ANALYTICS_ENV=production refuses to start without it"}});
  }
  auto catalogs = LoadCatalogs(c);
  if (!catalogs) {
    base::log::Error("service.start_failed", {{"error", catalogs.error().message}});
    return 1;
  }
  base::log::Info("service.catalogs",
                  {{"plans", catalogs->plans.size()}, {"prices", catalogs->prices.size()}});
  base::SystemClock clock;
  auto store = OpenStore(c, clock);
  if (!store) {
    base::log::Error("service.start_failed", {{"error", store.error().message}});
    return 1;
  }
  if (auto s = (*store)->Migrate(); !s) {
    base::log::Error("service.start_failed", {{"error", s.error().message}});
    return 1;
  }
  adapters::metrics::PrometheusMetrics metrics;
  adapters::crypto::HmacPseudonymizer pseudonymizer(c.pseudonymization_key);
  app::IngestService::Options ingest_options;
  ingest_options.max_batch_events = c.store_batch_events;
  ingest_options.max_delay = c.store_batch_delay;
  ingest_options.max_pending_events = c.max_pending_events;
  ingest_options.dedup_horizon = c.dedup_horizon;
  ingest_options.dedup_max_ids = c.dedup_max_ids;
  // Told about every write before it happens, so it never answers from a stale slot.
  app::Rollup rollup;
  const bool use_rollup = c.query_rollup == "on";
  app::IngestService ingest(**store, pseudonymizer, clock, metrics, ingest_options,
                            use_rollup ? &rollup : nullptr);
  if (auto s = ingest.Start(); !s) {
    base::log::Error("service.start_failed", {{"error", s.error().message}});
    return 1;
  }

  auto token_verifier = MakeTokenVerifier(c, clock);
  if (!token_verifier) {
    base::log::Error("service.start_failed", {{"error", token_verifier.error().message},
                                              {"key", token_verifier.error().field}});
    ingest.Stop();
    (*store)->Close();
    return 1;
  }
  const adapters::crypto::HashedApiKeys ingest_keys(KeyPairs(c.ingest_api_keys));
  const adapters::crypto::HashedApiKeys metrics_keys(KeyPairs(c.metrics_api_keys));
  const app::AccessPolicy access_policy(
      **token_verifier, ingest_keys, metrics_keys,
      {c.jwt_admin_role, MetricsAccessOf(c.metrics_access), c.auth == config::AuthMode::kRequired});
  if (c.auth == config::AuthMode::kOff) {
    base::log::Warn("auth.off",
                    {{"hint", "every request is admitted: AUTH=off is for local benchmarks only"}});
  }
  app::RateLimiter rate_limiter(RateLimitsOf(c));
  adapters::http::SecurityGate security_gate(access_policy, rate_limiter, metrics,
                                             {c.cors_origins, c.cors_max_age});

  adapters::http::HttpServer::Options http_options;
  http_options.host = c.host;
  http_options.port = c.port;
  http_options.threads = c.http_threads;
  http_options.max_body_bytes = c.max_body_bytes;
  http_options.max_header_bytes = c.http_max_header_bytes;
  http_options.max_uri_bytes = c.http_max_uri_bytes;
  http_options.max_connections = c.http_max_connections;
  http_options.request_timeout = c.http_request_timeout;
  http_options.idle_timeout = c.http_idle_timeout;
  adapters::http::HttpServer server(http_options);
  server.SetGuard(&security_gate);
  server.SetObserver(
      [&metrics](const std::string& route, int status, std::chrono::duration<double> latency) {
        metrics.RequestServed(route, status, latency);
        if (status == 500)
          base::log::Warn("http.server_error", {{"route", route}, {"status", status}});
      });
  adapters::http::AddIngestRoutes(server, ingest, LimitsOf(c), clock);
  auto* store_ptr = store->get();
  adapters::http::AddEventStatsRoute(server, *store_ptr);
  const adapters::clickhouse::ReadLimits read_limits{
      std::chrono::duration_cast<std::chrono::seconds>(c.query_max_execution),
      c.query_max_memory_bytes};
  adapters::clickhouse::ClickHouseAnalyticsStore analytics_store(
      [store_ptr](const std::string& sql, std::string_view format) {
        return store_ptr->Query(sql, format);
      },
      c.clickhouse_db, read_limits);
  app::ResponseCache cache(clock,
                           c.query_cache == "on" ? c.query_cache_ttl : std::chrono::milliseconds{0},
                           app::ResponseCache::kDefaultMaxEntries, c.query_cache_max_bytes);
  app::RollupAnalyticsStore rollup_store(analytics_store, analytics_store, rollup, {});
  // The builder reads on its own engine connection, so dashboards never queue behind a build.
  // Background work, not a client waiting: a day of slot facts may take longer than a request's
  // cap at large sizes (the builder retries a failed read with fewer slots).
  adapters::clickhouse::ClickHouseAnalyticsStore rollup_source(
      [store_ptr](const std::string& sql, std::string_view format) {
        return store_ptr->BackgroundQuery(sql, format);
      },
      c.clickhouse_db,
      adapters::clickhouse::ReadLimits{std::chrono::seconds(60), c.query_max_memory_bytes});
  app::RollupBuilder rollup_builder(rollup, rollup_source, clock, {}, &metrics);
  app::QueryService queries(use_rollup ? static_cast<app::AnalyticsStore&>(rollup_store)
                                       : static_cast<app::AnalyticsStore&>(analytics_store),
                            std::move(catalogs->plans), std::move(catalogs->prices), cache,
                            app::QueryService::Options{c.session_gap});
  // Declared after the server, so its threads are joined before the server goes away.
  adapters::http::QueryWorkers query_workers(std::max(1, c.http_threads), 64);
  adapters::http::AddAnalyticsRoutes(server, queries, query_workers, clock,
                                     domain::AnswerLimits{c.query_max_cells, c.query_max_groups});
  adapters::http::AddOpenApiRoute(server);
  std::vector<adapters::http::ReadinessCheck> checks = {
      {"storage", [store_ptr] { return store_ptr->Ping(); }}};
  std::unique_ptr<adapters::amqp::AmqpConsumer> consumer;
  if (!c.rabbitmq_url.empty()) {
    adapters::amqp::AmqpConsumer::Options co;
    co.url = c.rabbitmq_url;
    co.topology = TopologyOf(c);
    co.batch_events = c.amqp_batch_events;
    co.batch_delay = c.amqp_batch_delay;
    co.heartbeat = std::chrono::duration_cast<std::chrono::seconds>(c.amqp_heartbeat);
    co.limits = LimitsOf(c);
    consumer = std::make_unique<adapters::amqp::AmqpConsumer>(co, ingest, clock, metrics);
    auto* consumer_ptr = consumer.get();
    checks.push_back({"broker", [consumer_ptr]() -> base::Status {
                        if (consumer_ptr->Connected()) return {};
                        return base::Fail(base::Error::Unavailable("not connected to RabbitMQ"));
                      }});
  }
  adapters::http::AddOperationsRoutes(server, std::move(checks), metrics);
  if (auto s = server.Listen(); !s) {
    base::log::Error("service.start_failed", {{"error", s.error().message}});
    ingest.Stop();
    (*store)->Close();
    return 1;
  }
  server.Start();
  if (use_rollup) rollup_builder.Start();
  if (consumer) consumer->Start();
  base::log::Info("service.started", {{"host", c.host},
                                      {"port", server.Port()},
                                      {"storage", c.storage},
                                      {"data_dir", c.data_dir},
                                      {"environment", c.environment}});

  const int sig = WaitForStopSignal(stop_signals);
  base::log::Info("service.stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server.StopAccepting();
  if (consumer) consumer->Stop();  // stores and acks the batch in hand
  ingest.Stop();  // stores what was received; its callbacks answer the waiting requests
  server.Shutdown(std::chrono::seconds(10));
  rollup_builder.Stop();
  (*store)->Close();
  store->reset();
  adapters::chdb::ShutdownEngine();
  base::log::Info("service.stopped");
  return 0;
}

int RunToken(const config::Config& c, const TokenOptions& o) {
  std::string secret = c.jwt_secret;
  if (secret.empty()) {
    if (c.HasJwtKeys() || c.environment == "production") {
      std::cerr
          << "token: signs with an HS256 secret: set JWT_SECRET (with RS256/ES256 keys, tokens "
             "come from the auth service)\n";
      return 2;
    }
    auto dev = DevelopmentSecret(c);
    if (!dev) {
      std::cerr << "token: " << dev.error().message << "\n";
      return 1;
    }
    secret = std::move(*dev);
  }
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto exp = now + static_cast<std::int64_t>(o.ttl_hours * 3600);
  std::string claims = "{\"sub\":";
  base::AppendJsonString(claims, o.subject);
  claims += fmt::format(",\"iat\":{},\"exp\":{}", now, exp);
  if (!c.jwt_issuer.empty()) {
    claims += ",\"iss\":";
    base::AppendJsonString(claims, c.jwt_issuer);
  }
  if (!c.jwt_audience.empty()) {
    claims += ",\"aud\":";
    base::AppendJsonString(claims, c.jwt_audience);
  }
  if (!o.role.empty()) {
    // JWT_ROLE_CLAIM may be a dotted path ("realm_access.roles"): nest objects along it.
    std::vector<std::string> path;
    for (std::string_view rest = c.jwt_role_claim; !rest.empty();) {
      const auto dot = rest.find('.');
      path.emplace_back(rest.substr(0, dot));
      rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
    }
    for (std::size_t i = 0; i < path.size(); ++i) {
      claims.push_back(',');
      if (i > 0) claims.back() = '{';
      base::AppendJsonString(claims, path[i]);
      claims.push_back(':');
    }
    const bool list = path.back().ends_with("roles");
    if (list) claims.push_back('[');
    base::AppendJsonString(claims, o.role);
    if (list) claims.push_back(']');
    claims.append(path.size() - 1, '}');
  }
  claims.push_back('}');
  std::cout << adapters::jwt::MintHs256(secret, claims) << "\n";
  return 0;
}

int RunApiKey(const std::string& action, const std::string& id) {
  if (action == "hash") {
    std::string key;
    std::getline(std::cin, key);
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
    std::cout << adapters::crypto::Sha256Hex(key) << "\n";
    return 0;
  }
  if (id.empty()) {
    std::cerr << "api-key new: --id is required (the key's principal, e.g. billing-service)\n";
    return 2;
  }
  const auto key = adapters::crypto::NewApiKey();
  std::cout << "key (give it to the client; it is not stored anywhere): " << key << "\n"
            << "config entry (INGEST_API_KEYS or METRICS_API_KEYS, comma-separated): " << id << ":"
            << adapters::crypto::Sha256Hex(key) << "\n";
  return 0;
}

int RunMigrate(const config::Config& c) {
  ConfigureLogging(c);
  base::SystemClock clock;
  auto store = OpenStore(c, clock);
  if (!store) {
    base::log::Error("migrate.failed", {{"error", store.error().message}});
    return 1;
  }
  const auto s = (*store)->Migrate();
  (*store)->Close();
  store->reset();
  adapters::chdb::ShutdownEngine();
  if (!s) {
    base::log::Error("migrate.failed", {{"error", s.error().message}});
    return 1;
  }
  return 0;
}

namespace {

/// Publishes the generated NDJSON bodies event by event to the exchange, routing key = type,
/// message id = event id, with publisher confirms, as the platform's services do.
int PublishGenerated(const LoadgenOptions& o, const std::vector<std::string>& bodies,
                     std::uint64_t generated) {
  adapters::amqp::AmqpPublisher::Options po;
  po.session.url = o.amqp_url;
  po.confirm_window = o.confirm_window;
  auto publisher = adapters::amqp::AmqpPublisher::Open(po);
  if (!publisher) {
    base::log::Error("loadgen.failed", {{"error", publisher.error().message}});
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();
  auto last_report = started;
  std::uint64_t sent = 0;
  for (const auto& body : bodies) {
    std::size_t pos = 0;
    while (pos < body.size()) {
      const auto nl = body.find('\n', pos);
      const std::string_view line(body.data() + pos, nl - pos);
      pos = nl + 1;
      // The routing key is the event type; malformed events (--invalid) go out as "invalid".
      std::string type = "invalid";
      if (const auto t = line.find("\"type\":\""); t != std::string_view::npos) {
        const auto end = line.find('"', t + 8);
        if (end != std::string_view::npos) type = std::string(line.substr(t + 8, end - t - 8));
      }
      std::string id;
      if (line.starts_with("{\"id\":\"")) id = std::string(line.substr(7, line.find('"', 7) - 7));
      if (auto s = (*publisher)->Publish(o.exchange, type, line, id); !s) {
        base::log::Error("loadgen.failed", {{"error", s.error().message}, {"published", sent}});
        return 1;
      }
      ++sent;
    }
    if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(1)) {
      last_report = std::chrono::steady_clock::now();
      base::log::Info("loadgen.progress", {{"published", sent}, {"of", generated}});
    }
  }
  if (auto s = (*publisher)->WaitForConfirms(std::chrono::seconds(120)); !s) {
    base::log::Error("loadgen.failed", {{"error", s.error().message}});
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  base::log::Info("loadgen.published", {{"events", sent},
                                        {"confirmed", sent},
                                        {"seconds", seconds},
                                        {"events_per_s", static_cast<double>(sent) / seconds},
                                        {"confirm_window", o.confirm_window}});
  return 0;
}

}  // namespace

int RunLoadgen(const LoadgenOptions& o) {
  base::log::Configure(adapters::logging::MakeSpdlogSink(base::log::Format::kText),
                       base::log::Level::kInfo, base::log::Format::kText);
  loadgen::Scenario scenario;
  scenario.seed = o.seed;
  scenario.users = o.users;
  scenario.end = base::SystemClock().Now();
  if (!o.end.empty()) {
    auto end = domain::ParseIsoDateTime(o.end);
    if (!end) {
      std::cerr << "loadgen: --end must be ISO 8601 with an offset, e.g. 2026-01-31T00:00:00Z\n";
      return 2;
    }
    scenario.end = *end;
  }
  scenario.start = scenario.end - std::chrono::days(o.days);
  scenario.max_events = o.max_events;
  scenario.duplicate_rate = o.duplicate_rate;
  scenario.invalid_rate = o.invalid_rate;
  scenario.with_ids = !o.no_ids;

  const auto gen_started = std::chrono::steady_clock::now();
  std::vector<std::string> bodies;
  std::string current;
  int in_current = 0;
  std::uint64_t generated = 0;
  std::FILE* out = nullptr;
  if (!o.out.empty()) {
    out = o.out == "-" ? stdout : std::fopen(o.out.c_str(), "w");
    if (out == nullptr) {
      std::cerr << "loadgen: cannot write " << o.out << "\n";
      return 1;
    }
  }
  loadgen::Generator generator(scenario);
  generator.Generate([&](loadgen::GeneratedEvent&& e) {
    ++generated;
    if (out != nullptr) {
      std::fwrite(e.json.data(), 1, e.json.size(), out);
      std::fputc('\n', out);
      return;
    }
    current += e.json;
    current.push_back('\n');
    if (++in_current >= o.batch) {
      bodies.push_back(std::move(current));
      current.clear();
      in_current = 0;
    }
  });
  if (!current.empty()) bodies.push_back(std::move(current));
  const double gen_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - gen_started).count();
  base::log::Info(
      "loadgen.generated",
      {{"events", generated}, {"users", o.users}, {"days", o.days}, {"seconds", gen_seconds}});
  if (out != nullptr) {
    if (out != stdout) std::fclose(out);
    return 0;
  }

  if (!o.amqp_url.empty()) return PublishGenerated(o, bodies, generated);
  auto target = loadgen::ParseHttpUrl(o.url);
  if (!target) {
    std::cerr << "loadgen: " << target.error().message << "\n";
    return 2;
  }
  const std::uint64_t total_requests = bodies.size();
  auto last_report = std::chrono::steady_clock::now();
  std::mutex report_mutex;
  loadgen::HeaderList credentials;
  if (!o.api_key.empty()) credentials.emplace_back("X-API-Key", o.api_key);
  if (!o.token.empty()) credentials.emplace_back("Authorization", "Bearer " + o.token);
  auto stats = loadgen::SendBatches(
      target->first, target->second, bodies, o.connections,
      [&](std::uint64_t done) {
        std::lock_guard lock(report_mutex);
        const auto now = std::chrono::steady_clock::now();
        if (now - last_report < std::chrono::seconds(1) && done != total_requests) return;
        last_report = now;
        base::log::Info("loadgen.progress", {{"requests", done},
                                             {"of", total_requests},
                                             {"percent", 100.0 * static_cast<double>(done) /
                                                             static_cast<double>(total_requests)}});
      },
      credentials);
  if (!stats) {
    base::log::Error("loadgen.failed", {{"error", stats.error().message}});
    return 1;
  }
  base::log::Info("loadgen.done",
                  {{"events", generated},
                   {"stored", stats->stored},
                   {"duplicates", stats->duplicates},
                   {"rejected", stats->rejected},
                   {"requests", stats->requests},
                   {"retries", stats->retries},
                   {"seconds", stats->seconds},
                   {"events_per_s", static_cast<double>(generated) / stats->seconds}});
  return 0;
}

int RunPublish(const std::string& amqp_url, const std::string& exchange, std::size_t confirm_window,
               const std::string& file) {
  base::log::Configure(adapters::logging::MakeSpdlogSink(base::log::Format::kText),
                       base::log::Level::kInfo, base::log::Format::kText);
  std::ifstream in_file;
  if (file != "-") {
    in_file.open(file, std::ios::binary);
    if (!in_file) {
      std::cerr << "publish: cannot read " << file << "\n";
      return 2;
    }
  }
  std::istream& in = file == "-" ? std::cin : in_file;
  std::vector<std::string> bodies(1);
  std::string line;
  std::uint64_t lines = 0;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    bodies.back() += line;
    bodies.back().push_back('\n');
    ++lines;
  }
  LoadgenOptions o;
  o.amqp_url = amqp_url;
  o.exchange = exchange;
  o.confirm_window = confirm_window;
  return PublishGenerated(o, bodies, lines);
}

int RunDeadLetters(const config::Config& c, const std::string& action, std::size_t limit) {
  ConfigureLogging(c);
  if (c.rabbitmq_url.empty()) {
    std::cerr << "dead-letters: set RABBITMQ_URL (or --rabbitmq-url)\n";
    return 2;
  }
  if (action == "replay") {
    auto n = adapters::amqp::ReplayDeadLetters(c.rabbitmq_url, TopologyOf(c), limit);
    if (!n) {
      std::cerr << "dead-letters: " << n.error().message << "\n";
      return 1;
    }
    std::cout << "replayed " << *n << " messages to " << c.amqp_exchange << "\n";
    return 0;
  }
  auto letters = adapters::amqp::ListDeadLetters(c.rabbitmq_url, TopologyOf(c), limit);
  if (!letters) {
    std::cerr << "dead-letters: " << letters.error().message << "\n";
    return 1;
  }
  for (const auto& d : *letters) {
    std::cout << fmt::format("{}\t{}\t{}\t{}\t{}\n", d.dead_lettered_at, d.routing_key, d.reason,
                             d.error, d.body.substr(0, 300));
  }
  std::cout << letters->size() << " dead letters shown (they stay in " << c.amqp_dead_letter_queue
            << ")\n";
  return 0;
}

}  // namespace main_cmd
