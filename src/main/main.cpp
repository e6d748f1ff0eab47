#include <CLI/CLI.hpp>
#include <iostream>
#include <map>

#include "config/config.hpp"
#include "main/commands.hpp"

namespace {

/// Adds one flag per declared config key to `command`, collecting what is given in `overrides`.
void AddConfigFlags(CLI::App& command, std::map<std::string, std::string>& overrides) {
  for (const auto& key : config::Keys()) {
    const std::string help = key.description + " [env " + key.env + ", default '" +
                             (key.secret ? std::string("<secret>") : key.default_value) + "']";
    command.add_option_function<std::string>(
        "--" + key.flag, [&overrides, env = key.env](const std::string& v) { overrides[env] = v; },
        help);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "analytics-service: events from the platform into ClickHouse, analytics out over HTTP.\n"
      "Settings come from environment variables; a flag overrides its variable."};
  app.require_subcommand(0, 1);
  std::map<std::string, std::string> overrides;

  auto* serve = app.add_subcommand("serve", "run the HTTP service (the default)");
  AddConfigFlags(*serve, overrides);
  auto* migrate = app.add_subcommand("migrate", "apply pending storage migrations and exit");
  AddConfigFlags(*migrate, overrides);

  main_cmd::LoadgenOptions lg;
  auto* loadgen = app.add_subcommand(
      "loadgen", "simulate the platform's auth, chat and billing services and send their events");
  loadgen->add_option("--url", lg.url, "service base URL")->capture_default_str();
  loadgen->add_option("--seed", lg.seed, "random seed (same seed, same events)")
      ->capture_default_str();
  loadgen->add_option("--users", lg.users, "users signing up during the period")
      ->capture_default_str();
  loadgen->add_option("--days", lg.days, "length of the simulated period, ending at --end")
      ->capture_default_str();
  loadgen->add_option("--end", lg.end, "end of the period, ISO 8601 (default: now)");
  loadgen->add_option("--events", lg.max_events, "stop after this many events (0: no limit)")
      ->capture_default_str();
  loadgen->add_option("--batch", lg.batch, "events per request")->capture_default_str();
  loadgen->add_option("--connections", lg.connections, "parallel connections")
      ->capture_default_str();
  loadgen->add_option("--duplicates", lg.duplicate_rate, "fraction of events sent twice")
      ->capture_default_str();
  loadgen->add_option("--invalid", lg.invalid_rate, "fraction of malformed events mixed in")
      ->capture_default_str();
  loadgen->add_flag("--no-ids", lg.no_ids, "omit event ids (the service derives them)");
  loadgen->add_option("--out", lg.out,
                      "write NDJSON to this file ('-': stdout) instead of sending");
  loadgen->add_option("--amqp", lg.amqp_url,
                      "publish to this RabbitMQ URL (amqp://...) instead of HTTP");
  loadgen->add_option("--exchange", lg.exchange, "exchange to publish to")->capture_default_str();
  loadgen
      ->add_option("--confirm-window", lg.confirm_window, "unconfirmed publishes allowed at once")
      ->capture_default_str();
  loadgen->add_option("--token", lg.token, "admin bearer token for POST /api/events")
      ->envname("ANALYTICS_TOKEN");
  loadgen->add_option("--api-key", lg.api_key, "ingest API key (X-API-Key) instead of a token")
      ->envname("ANALYTICS_API_KEY");

  std::string pub_url;
  std::string pub_exchange = "analytics.events";
  std::size_t pub_window = 1000;
  std::string pub_file = "-";
  auto* publish = app.add_subcommand(
      "publish", "publish NDJSON events to RabbitMQ as the platform's services do");
  publish->add_option("--amqp", pub_url, "RabbitMQ URL (amqp://user:password@host:port/vhost)")
      ->required();
  publish->add_option("--exchange", pub_exchange, "exchange")->capture_default_str();
  publish->add_option("--confirm-window", pub_window, "unconfirmed publishes allowed at once")
      ->capture_default_str();
  publish->add_option("file", pub_file, "NDJSON file, '-' for standard input")
      ->capture_default_str();

  std::string dl_action = "list";
  std::size_t dl_limit = 100;
  auto* dead = app.add_subcommand("dead-letters", "list or replay dead-lettered RabbitMQ messages");
  dead->add_option("action", dl_action, "list | replay")->check(CLI::IsMember({"list", "replay"}));
  dead->add_option("--limit", dl_limit, "at most this many messages")->capture_default_str();
  AddConfigFlags(*dead, overrides);

  main_cmd::TokenOptions token_options;
  auto* token = app.add_subcommand(
      "token", "print an HS256 bearer token (JWT_SECRET, or the development secret in DATA_DIR)");
  token->add_option("--sub", token_options.subject, "subject (sub claim)")->capture_default_str();
  token
      ->add_option("--role", token_options.role,
                   "role put in the JWT_ROLE_CLAIM claim ('' for none)")
      ->capture_default_str();
  token->add_option("--ttl-hours", token_options.ttl_hours, "lifetime in hours")
      ->check(CLI::Range(0.001, 24.0 * 366))
      ->capture_default_str();
  AddConfigFlags(*token, overrides);

  std::string key_action = "new";
  std::string key_id;
  auto* api_key =
      app.add_subcommand("api-key", "create an API key and its config entry, or hash a key");
  api_key->add_option("action", key_action, "new | hash (reads the key from standard input)")
      ->check(CLI::IsMember({"new", "hash"}));
  api_key->add_option("--id", key_id, "id of the new key (the principal; letters, digits, -_.@)");

  CLI11_PARSE(app, argc, argv);
  if (api_key->parsed()) return main_cmd::RunApiKey(key_action, key_id);

  if (loadgen->parsed()) return main_cmd::RunLoadgen(lg);
  if (publish->parsed()) return main_cmd::RunPublish(pub_url, pub_exchange, pub_window, pub_file);

  auto cfg = config::Load(config::ProcessEnvironment(), overrides);
  if (!cfg) {
    std::cerr << "configuration error: " << cfg.error().message << "\n";
    return 2;
  }
  if (migrate->parsed()) return main_cmd::RunMigrate(*cfg);
  if (token->parsed()) return main_cmd::RunToken(*cfg, token_options);
  if (dead->parsed()) return main_cmd::RunDeadLetters(*cfg, dl_action, dl_limit);
  return main_cmd::RunServe(*cfg);
}
