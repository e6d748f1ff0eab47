#include "adapters/clickhouse/schema.hpp"

namespace adapters::clickhouse {
namespace {

// Why these types:
// - ts_ms Int64 (epoch ms) rather than DateTime64: ClickHouse 18.16 has no DateTime64; `ts`
//   (seconds, UTC) is materialized from it for partitioning and time bucketing.
// - Enum8 event_type: one byte, valid everywhere; LowCardinality needs an experimental flag on
//   18.16.
// - Money as Decimal: sums exact to the cent; Nullable only where "not sent" differs from 0.
// - ReplacingMergeTree keyed by (event_type, ts, user_id, event_id): the ingest path drops
//   redelivered copies before they are written; a copy that slips past (older than the dedup
//   horizon, or a retried partial insert) has the same key and collapses at merge, and every
//   read counts distinct event ids meanwhile.
constexpr std::string_view kEventColumns =
    "event_id String, "
    "event_type Enum8('user.signup' = 1, 'user.signin' = 2, 'user.signout' = 3, "
    "'user.plan_upgrade' = 4, 'user.plan_downgrade' = 5, 'chat.message_sent' = 6, "
    "'chat.conversation_created' = 7, 'chat.conversation_deleted' = 8, "
    "'billing.payment_success' = 9, 'billing.payment_failed' = 10, "
    "'billing.subscription_created' = 11, 'billing.subscription_cancelled' = 12), "
    "ts_ms Int64, "
    "user_id String, "
    "plan String, from_plan String, to_plan String, "
    "conversation_id String, session_id String, "
    "provider String, model String, "
    "tokens UInt32, input_tokens Nullable(UInt32), output_tokens Nullable(UInt32), "
    "latency_ms Nullable(UInt32), cost_usd Nullable(Decimal(18, 9)), "
    "amount Decimal(18, 4), currency String, reason String, "
    "subscription_ref String, ip_prefix String, "
    "stored_at_ms Int64";

constexpr std::string_view kEventColumnNames =
    "event_id, event_type, ts_ms, user_id, plan, from_plan, to_plan, conversation_id, "
    "session_id, provider, model, tokens, input_tokens, output_tokens, latency_ms, cost_usd, "
    "amount, currency, reason, subscription_ref, ip_prefix, stored_at_ms";

const std::string kCreateEvents =
    std::string("CREATE TABLE IF NOT EXISTS {db}.events (") + std::string(kEventColumns) +
    ", ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC')"
    ") ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) "
    "ORDER BY (event_type, ts, user_id, event_id)";

// 64-bit keys of the ids the analytics reads count distinct: hashing a 64-character pseudonym
// per row per query cost more than the rest of a distinct count. Materialized, so inserts need
// not send them; parts written before this migration compute them on read until merged.
const std::string kAddKeys =
    "ALTER TABLE {db}.events "
    "ADD COLUMN IF NOT EXISTS user_key UInt64 MATERIALIZED cityHash64(user_id), "
    "ADD COLUMN IF NOT EXISTS conversation_key UInt64 MATERIALIZED cityHash64(conversation_id)";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {
      {1, "events table", {kCreateEvents}},
      {2, "hashed user and conversation keys", {kAddKeys}},
  };
  return migrations;
}

std::string_view EventColumnsDdl() { return kEventColumns; }
std::string_view EventColumnNames() { return kEventColumnNames; }

bool IsValidDatabaseName(std::string_view name) {
  if (name.empty() || name.size() > 64 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string Render(std::string_view statement, std::string_view database) {
  std::string out;
  out.reserve(statement.size() + 16);
  constexpr std::string_view kToken = "{db}";
  std::size_t pos = 0;
  while (true) {
    const auto hit = statement.find(kToken, pos);
    out.append(statement.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos));
    if (hit == std::string_view::npos) break;
    out.push_back('`');
    out.append(database);
    out.push_back('`');
    pos = hit + kToken.size();
  }
  return out;
}

}  // namespace adapters::clickhouse
