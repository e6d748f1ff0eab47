#include "config/config.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>

namespace config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

using Env = std::map<std::string, std::string>;

base::Result<Config> LoadEnv(const Env& env) { return Load(env, {}); }

const Key* FindKey(std::string_view env) {
  for (const auto& key : Keys()) {
    if (key.env == env) return &key;
  }
  return nullptr;
}

std::int64_t DeclaredDefault(std::string_view env) {
  const Key* key = FindKey(env);
  EXPECT_NE(key, nullptr) << env;
  return key == nullptr ? -1 : std::stoll(key->default_value);
}

TEST(ConfigLoad, DefaultsWhenNothingIsSet) {
  const auto c = Load({}, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->environment, "development");
  EXPECT_EQ(c->host, "0.0.0.0");
  EXPECT_EQ(c->port, 3004);
  EXPECT_EQ(c->storage, "embedded");
  EXPECT_EQ(c->data_dir, "./data");
  EXPECT_FALSE(c->chdb_lib_path.empty());
  EXPECT_EQ(c->clickhouse_db, "analytics");
  EXPECT_EQ(c->max_future_skew, seconds(86400));
  EXPECT_EQ(c->dedup_horizon, hours(24));
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->log_format, "text");
}

// Tuning defaults change; what must hold is that each declared default lands in its field with
// the right unit.
TEST(ConfigLoad, DeclaredNumericDefaultsLandInTheirFields) {
  const auto c = Load({}, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->http_threads, DeclaredDefault("HTTP_THREADS"));
  EXPECT_EQ(static_cast<std::int64_t>(c->max_body_bytes), DeclaredDefault("INGEST_MAX_BODY_BYTES"));
  EXPECT_EQ(static_cast<std::int64_t>(c->max_batch_events),
            DeclaredDefault("INGEST_MAX_BATCH_EVENTS"));
  EXPECT_EQ(static_cast<std::int64_t>(c->max_event_bytes),
            DeclaredDefault("INGEST_MAX_EVENT_BYTES"));
  EXPECT_EQ(c->max_future_skew, seconds(DeclaredDefault("INGEST_MAX_FUTURE_SECONDS")));
  EXPECT_EQ(static_cast<std::int64_t>(c->store_batch_events),
            DeclaredDefault("STORE_BATCH_EVENTS"));
  EXPECT_EQ(c->store_batch_delay, milliseconds(DeclaredDefault("STORE_BATCH_DELAY_MS")));
  EXPECT_EQ(static_cast<std::int64_t>(c->max_pending_events),
            DeclaredDefault("INGEST_MAX_PENDING_EVENTS"));
  EXPECT_EQ(c->dedup_horizon, hours(DeclaredDefault("DEDUP_WINDOW_HOURS")));
  EXPECT_EQ(static_cast<std::int64_t>(c->dedup_max_ids), DeclaredDefault("DEDUP_MAX_IDS"));
}

TEST(ConfigLoad, EveryDeclaredDefaultIsAcceptedByItsOwnKey) {
  for (const auto& key : Keys()) {
    Config c;
    const auto status = key.apply(c, key.default_value);
    EXPECT_TRUE(status) << key.env << " default '" << key.default_value << "'";
  }
}

TEST(ConfigLoad, EnvironmentOverridesDefaults) {
  const auto c = LoadEnv({{"PORT", "8080"},
                          {"HOST", "127.0.0.1"},
                          {"HTTP_THREADS", "8"},
                          {"DATA_DIR", "/var/lib/analytics"},
                          {"CLICKHOUSE_DB", "other_db"},
                          {"INGEST_MAX_BATCH_EVENTS", "10"},
                          {"INGEST_MAX_FUTURE_SECONDS", "60"},
                          {"STORE_BATCH_DELAY_MS", "250"},
                          {"DEDUP_WINDOW_HOURS", "2"},
                          {"DEDUP_MAX_IDS", "0"},
                          {"LOG_LEVEL", "debug"},
                          {"LOG_FORMAT", "json"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->http_threads, 8);
  EXPECT_EQ(c->data_dir, "/var/lib/analytics");
  EXPECT_EQ(c->clickhouse_db, "other_db");
  EXPECT_EQ(c->max_batch_events, 10u);
  EXPECT_EQ(c->max_future_skew, seconds(60));
  EXPECT_EQ(c->store_batch_delay, milliseconds(250));
  EXPECT_EQ(c->dedup_horizon, hours(2));
  EXPECT_EQ(c->dedup_max_ids, 0u);
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->log_format, "json");
}

TEST(ConfigLoad, OverrideBeatsEnvironment) {
  const auto c =
      Load({{"PORT", "8080"}, {"LOG_LEVEL", "warn"}}, {{"PORT", "9090"}, {"LOG_LEVEL", "error"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->port, 9090);
  EXPECT_EQ(c->log_level, "error");
}

TEST(ConfigLoad, OverrideAloneBeatsDefault) {
  const auto c = Load({}, {{"HTTP_THREADS", "16"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->http_threads, 16);
}

TEST(ConfigLoad, UndeclaredNamesAreIgnored) {
  const auto c = LoadEnv({{"NOT_A_KEY", "whatever"}, {"port", "1"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->port, 3004);
}

TEST(ConfigLoad, BadIntegerNamesTheKey) {
  for (const std::string bad : {"abc", "", "80x", " 80", "8.0", "-1", "0x50"}) {
    const auto c = LoadEnv({{"PORT", bad}});
    ASSERT_FALSE(c) << "'" << bad << "' was accepted";
    EXPECT_EQ(c.error().code, base::ErrorCode::kInvalidArgument);
    EXPECT_EQ(c.error().field, "PORT");
    EXPECT_NE(c.error().message.find("PORT"), std::string::npos) << c.error().message;
  }
}

TEST(ConfigLoad, BadOverrideNamesTheKey) {
  const auto c = Load({{"DEDUP_MAX_IDS", "5"}}, {{"DEDUP_MAX_IDS", "many"}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().field, "DEDUP_MAX_IDS");
  EXPECT_NE(c.error().message.find("DEDUP_MAX_IDS"), std::string::npos);
}

TEST(ConfigLoad, BadDurationNamesTheKey) {
  const auto c = LoadEnv({{"STORE_BATCH_DELAY_MS", "5ms"}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().field, "STORE_BATCH_DELAY_MS");
  EXPECT_NE(c.error().message.find("STORE_BATCH_DELAY_MS"), std::string::npos);
}

struct RangeCase {
  std::string env;
  std::string value;
  bool ok;
};

class ConfigRange : public testing::TestWithParam<RangeCase> {};

TEST_P(ConfigRange, BoundsAreEnforced) {
  const auto& p = GetParam();
  const auto c = LoadEnv({{p.env, p.value}});
  if (p.ok) {
    EXPECT_TRUE(c) << p.env << "=" << p.value << ": " << c.error().message;
  } else {
    ASSERT_FALSE(c) << p.env << "=" << p.value << " was accepted";
    EXPECT_EQ(c.error().code, base::ErrorCode::kInvalidArgument);
    EXPECT_EQ(c.error().field, p.env);
    EXPECT_NE(c.error().message.find(p.env), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Keys, ConfigRange,
    testing::Values(RangeCase{"PORT", "0", true}, RangeCase{"PORT", "65535", true},
                    RangeCase{"PORT", "65536", false}, RangeCase{"PORT", "70000", false},
                    RangeCase{"HTTP_THREADS", "1", true}, RangeCase{"HTTP_THREADS", "0", false},
                    RangeCase{"HTTP_THREADS", "256", true}, RangeCase{"HTTP_THREADS", "257", false},
                    RangeCase{"INGEST_MAX_BODY_BYTES", "1023", false},
                    RangeCase{"INGEST_MAX_BODY_BYTES", "1024", true},
                    RangeCase{"INGEST_MAX_BODY_BYTES", "1073741825", false},
                    RangeCase{"INGEST_MAX_BATCH_EVENTS", "0", false},
                    RangeCase{"INGEST_MAX_BATCH_EVENTS", "1000001", false},
                    RangeCase{"INGEST_MAX_EVENT_BYTES", "255", false},
                    RangeCase{"INGEST_MAX_FUTURE_SECONDS", "0", true},
                    RangeCase{"INGEST_MAX_FUTURE_SECONDS", "31622401", false},
                    RangeCase{"STORE_BATCH_EVENTS", "0", false},
                    RangeCase{"STORE_BATCH_DELAY_MS", "60001", false},
                    RangeCase{"INGEST_MAX_PENDING_EVENTS", "0", false},
                    RangeCase{"DEDUP_WINDOW_HOURS", "2160", true},
                    RangeCase{"DEDUP_WINDOW_HOURS", "2161", false},
                    RangeCase{"DEDUP_MAX_IDS", "1000000001", false}),
    [](const testing::TestParamInfo<RangeCase>& info) {
      std::string name = info.param.env + "_" + info.param.value;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(ConfigLoad, UnknownEnumValueNamesTheKeyAndTheChoices) {
  const auto c = LoadEnv({{"LOG_LEVEL", "verbose"}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, base::ErrorCode::kInvalidArgument);
  EXPECT_EQ(c.error().field, "LOG_LEVEL");
  EXPECT_NE(c.error().message.find("LOG_LEVEL"), std::string::npos);
  EXPECT_NE(c.error().message.find("verbose"), std::string::npos);
  EXPECT_NE(c.error().message.find("debug"), std::string::npos);
}

TEST(ConfigLoad, EnumValuesAreCaseSensitive) {
  const auto c = LoadEnv({{"ANALYTICS_ENV", "Production"}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().field, "ANALYTICS_ENV");
}

TEST(ConfigLoad, UnknownStorageIsRefused) {
  const auto c = LoadEnv({{"STORAGE", "server"}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().field, "STORAGE");
}

TEST(ConfigLoad, ProductionWithoutKeyFailsNamingIt) {
  const auto c = LoadEnv({{"ANALYTICS_ENV", "production"}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, base::ErrorCode::kInvalidArgument);
  EXPECT_EQ(c.error().field, "PSEUDONYMIZATION_KEY");
  EXPECT_NE(c.error().message.find("PSEUDONYMIZATION_KEY"), std::string::npos);
}

TEST(ConfigLoad, ProductionWithEmptyKeyFails) {
  const auto c = LoadEnv({{"ANALYTICS_ENV", "production"}, {"PSEUDONYMIZATION_KEY", ""}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().field, "PSEUDONYMIZATION_KEY");
}

TEST(ConfigLoad, ProductionWithKeysLoads) {
  const std::string key = "0123456789abcdef-production";
  const auto c = LoadEnv({{"ANALYTICS_ENV", "production"},
                          {"PSEUDONYMIZATION_KEY", key},
                          {"JWKS_FILE", "/etc/analytics/jwks.json"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->environment, "production");
  EXPECT_EQ(c->pseudonymization_key, key);
  EXPECT_FALSE(c->pseudonymization_key_is_default);
  EXPECT_TRUE(c->HasJwtKeys());
}

TEST(ConfigLoad, ProductionWithoutJwtKeyMaterialFails) {
  const auto c = LoadEnv(
      {{"ANALYTICS_ENV", "production"}, {"PSEUDONYMIZATION_KEY", "0123456789abcdef-production"}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().field, "JWT_SECRET");
  EXPECT_NE(c.error().message.find("JWKS_FILE"), std::string::npos);
  for (const auto& [k, v] :
       std::map<std::string, std::string>{{"JWT_SECRET", "a-secret-of-at-least-thirty-two-bytes!"},
                                          {"JWT_PUBLIC_KEY_FILE", "/etc/analytics/auth.pem"}}) {
    EXPECT_TRUE(LoadEnv({{"ANALYTICS_ENV", "production"},
                         {"PSEUDONYMIZATION_KEY", "0123456789abcdef-production"},
                         {k, v}}))
        << k;
  }
}

TEST(ConfigLoad, SecurityDefaults) {
  const auto c = Load({}, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->auth, AuthMode::kRequired);
  EXPECT_EQ(c->jwt_algorithms, std::vector<std::string>{"HS256"});
  EXPECT_FALSE(c->HasJwtKeys());
  EXPECT_EQ(c->jwt_leeway, seconds(60));
  EXPECT_EQ(c->jwt_role_claim, "role");
  EXPECT_EQ(c->jwt_admin_role, "admin");
  EXPECT_EQ(c->metrics_access, MetricsAccess::kLoopback);
  EXPECT_EQ(c->rate_limit_analytics, 100u);
  EXPECT_EQ(c->rate_limit_ingest, 100u);
  EXPECT_EQ(c->rate_limit_admin, 100u);
  EXPECT_TRUE(c->cors_origins.empty());
  EXPECT_EQ(c->http_max_header_bytes, 16384u);
  EXPECT_EQ(c->http_max_uri_bytes, 8192u);
  EXPECT_EQ(c->http_request_timeout, seconds(30));
  EXPECT_EQ(c->query_max_execution, seconds(10));
}

TEST(ConfigLoad, AuthOffOnlyInDevelopmentOnLoopback) {
  EXPECT_TRUE(LoadEnv({{"AUTH", "off"}, {"HOST", "127.0.0.1"}}));
  EXPECT_TRUE(LoadEnv({{"AUTH", "off"}, {"HOST", "::1"}}));
  const auto any = LoadEnv({{"AUTH", "off"}});
  ASSERT_FALSE(any) << "0.0.0.0 is not loopback";
  EXPECT_EQ(any.error().field, "AUTH");
  const auto production = LoadEnv({{"AUTH", "off"},
                                   {"HOST", "127.0.0.1"},
                                   {"ANALYTICS_ENV", "production"},
                                   {"PSEUDONYMIZATION_KEY", "0123456789abcdef-production"},
                                   {"JWT_SECRET", "a-secret-of-at-least-thirty-two-bytes!"}});
  ASSERT_FALSE(production);
  EXPECT_EQ(production.error().field, "AUTH");
  EXPECT_FALSE(LoadEnv({{"AUTH", "maybe"}}));
}

TEST(ConfigLoad, JwtAlgorithmsArePinnedFromAKnownList) {
  const auto c = LoadEnv({{"JWT_ALGORITHMS", "RS256, ES256"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->jwt_algorithms, (std::vector<std::string>{"RS256", "ES256"}));
  for (const std::string bad : {"none", "hs256", "HS512", "", " , "}) {
    const auto r = LoadEnv({{"JWT_ALGORITHMS", bad}});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "JWT_ALGORITHMS");
  }
  EXPECT_FALSE(LoadEnv({{"JWT_LEEWAY_SECONDS", "301"}}));
}

TEST(ConfigLoad, ApiKeysAreIdsWithSha256Digests) {
  const std::string digest(64, 'a');
  const auto c = LoadEnv(
      {{"INGEST_API_KEYS", "billing:" + digest + ", chat-service:" + std::string(64, 'F')}});
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->ingest_api_keys.size(), 2u);
  EXPECT_EQ(c->ingest_api_keys[0].id, "billing");
  EXPECT_EQ(c->ingest_api_keys[1].id, "chat-service");
  for (const std::string bad :
       {std::string("billing"), std::string("billing:abc"), ":" + digest, "bad id:" + digest,
        "a:" + digest + ",a:" + digest, "a:" + std::string(64, 'g')}) {
    const auto r = LoadEnv({{"INGEST_API_KEYS", bad}});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "INGEST_API_KEYS");
    EXPECT_EQ(r.error().message.find(digest), std::string::npos) << "the message echoes no digest";
  }
}

TEST(ConfigLoad, RateLimitOverridesNameAClassAndAPrincipal) {
  const auto c = LoadEnv(
      {{"RATE_LIMIT_OVERRIDES", "analytics/dashboard=1000, */loadtest=0,ingest/ip:10.0.0.5=7"}});
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->rate_limit_overrides.size(), 3u);
  EXPECT_EQ(c->rate_limit_overrides[0].access_class, "analytics");
  EXPECT_EQ(c->rate_limit_overrides[0].principal, "dashboard");
  EXPECT_EQ(c->rate_limit_overrides[0].per_minute, 1000u);
  EXPECT_EQ(c->rate_limit_overrides[1].access_class, "*");
  EXPECT_EQ(c->rate_limit_overrides[1].per_minute, 0u);
  EXPECT_EQ(c->rate_limit_overrides[2].principal, "ip:10.0.0.5");
  for (const std::string bad :
       {"dashboard=5", "reads/dashboard=5", "analytics/=5", "analytics/x=-1", "analytics/x=lots"}) {
    const auto r = LoadEnv({{"RATE_LIMIT_OVERRIDES", bad}});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "RATE_LIMIT_OVERRIDES");
  }
}

TEST(ConfigLoad, CorsOriginsAreExact) {
  const auto c =
      LoadEnv({{"CORS_ALLOWED_ORIGINS", "https://admin.example.com, http://localhost:5173"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->cors_origins,
            (std::vector<std::string>{"https://admin.example.com", "http://localhost:5173"}));
  for (const std::string bad : {"*", "https://*.example.com", "admin.example.com",
                                "https://admin.example.com/", "https://"}) {
    const auto r = LoadEnv({{"CORS_ALLOWED_ORIGINS", bad}});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "CORS_ALLOWED_ORIGINS");
  }
}

TEST(ConfigLoad, ShortKeyFailsInEveryEnvironment) {
  const std::string short_key = "fifteen-bytes!!";
  ASSERT_EQ(short_key.size(), 15u);
  for (const std::string environment : {"development", "production"}) {
    const auto c = LoadEnv({{"ANALYTICS_ENV", environment}, {"PSEUDONYMIZATION_KEY", short_key}});
    ASSERT_FALSE(c) << environment;
    EXPECT_EQ(c.error().code, base::ErrorCode::kInvalidArgument);
    EXPECT_EQ(c.error().field, "PSEUDONYMIZATION_KEY");
    EXPECT_EQ(c.error().message.find(short_key), std::string::npos)
        << "the secret is echoed: " << c.error().message;
  }
}

TEST(ConfigLoad, SixteenByteKeyIsEnough) {
  const std::string key = "sixteen-bytes!!!";
  ASSERT_EQ(key.size(), 16u);
  const auto c = LoadEnv({{"PSEUDONYMIZATION_KEY", key}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->pseudonymization_key, key);
  EXPECT_FALSE(c->pseudonymization_key_is_default);
}

TEST(ConfigLoad, DevelopmentWithoutKeyGetsTheDefaultKey) {
  const auto c = Load({}, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->pseudonymization_key_is_default);
  EXPECT_GE(c->pseudonymization_key.size(), 16u);

  const auto again = LoadEnv({{"ANALYTICS_ENV", "development"}});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->pseudonymization_key_is_default);
  EXPECT_EQ(again->pseudonymization_key, c->pseudonymization_key);
}

TEST(ConfigLoad, KeyFromOverrideBeatsEnvironment) {
  const auto c = Load({{"PSEUDONYMIZATION_KEY", "from-the-environment-0"}},
                      {{"PSEUDONYMIZATION_KEY", "from-the-command-line"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->pseudonymization_key, "from-the-command-line");
}

TEST(ConfigKeys, EachKeyHasEnvFlagDescriptionAndApply) {
  ASSERT_FALSE(Keys().empty());
  for (const auto& key : Keys()) {
    EXPECT_FALSE(key.env.empty());
    EXPECT_FALSE(key.flag.empty()) << key.env;
    EXPECT_FALSE(key.description.empty()) << key.env;
    EXPECT_TRUE(static_cast<bool>(key.apply)) << key.env;
  }
}

TEST(ConfigKeys, NamesAndFlagsAreUniqueAndWellFormed) {
  std::set<std::string> envs;
  std::set<std::string> flags;
  for (const auto& key : Keys()) {
    EXPECT_TRUE(envs.insert(key.env).second) << "duplicate env " << key.env;
    EXPECT_TRUE(flags.insert(key.flag).second) << "duplicate flag " << key.flag;
    for (char ch : key.env) {
      EXPECT_TRUE((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_') << key.env;
    }
    for (char ch : key.flag) {
      EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-') << key.flag;
    }
  }
}

TEST(ConfigKeys, ThePseudonymizationKeyIsSecret) {
  const Key* key = FindKey("PSEUDONYMIZATION_KEY");
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(key->secret);
}

TEST(ConfigKeys, SecretsHaveNoDefault) {
  for (const auto& k : Keys()) {
    if (k.secret) {
      EXPECT_TRUE(k.default_value.empty()) << k.env;
    }
  }
}

TEST(ConfigKeys, UrlsThatCarryCredentialsAreSecret) {
  if (const Key* url = FindKey("RABBITMQ_URL")) {
    EXPECT_TRUE(url->secret);
  }
  for (const auto& k : Keys()) {
    if (k.env.find("PASSWORD") != std::string::npos || k.env.find("SECRET") != std::string::npos) {
      EXPECT_TRUE(k.secret) << k.env;
    }
  }
}

TEST(ConfigKeys, EveryConfigFieldHasAKey) {
  for (const std::string env : {"ANALYTICS_ENV",
                                "HOST",
                                "PORT",
                                "HTTP_THREADS",
                                "STORAGE",
                                "DATA_DIR",
                                "CHDB_LIB_PATH",
                                "CLICKHOUSE_DB",
                                "PSEUDONYMIZATION_KEY",
                                "INGEST_MAX_BODY_BYTES",
                                "INGEST_MAX_BATCH_EVENTS",
                                "INGEST_MAX_EVENT_BYTES",
                                "INGEST_MAX_FUTURE_SECONDS",
                                "STORE_BATCH_EVENTS",
                                "STORE_BATCH_DELAY_MS",
                                "INGEST_MAX_PENDING_EVENTS",
                                "DEDUP_WINDOW_HOURS",
                                "DEDUP_MAX_IDS",
                                "LOG_LEVEL",
                                "LOG_FORMAT"}) {
    EXPECT_NE(FindKey(env), nullptr) << env;
  }
}

/// Sets one process environment variable for the life of the object and restores it after.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value != nullptr) {
      ::setenv(name_.c_str(), value, 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST(ConfigProcessEnvironment, KeepsOnlyDeclaredKeys) {
  const ScopedEnv declared("LOG_FORMAT", "json");
  const ScopedEnv undeclared("ANALYTICS_TEST_UNDECLARED_VARIABLE", "x");
  const ScopedEnv unset("DEDUP_MAX_IDS", nullptr);
  const auto env = ProcessEnvironment();
  ASSERT_TRUE(env.contains("LOG_FORMAT"));
  EXPECT_EQ(env.at("LOG_FORMAT"), "json");
  EXPECT_FALSE(env.contains("ANALYTICS_TEST_UNDECLARED_VARIABLE"));
  EXPECT_FALSE(env.contains("DEDUP_MAX_IDS"));
}

}  // namespace
}  // namespace config
