#pragma once

#include <cstdint>
#include <string>

#include "config/config.hpp"

namespace main_cmd {

/// Runs the service until SIGTERM/SIGINT, then drains: stops accepting, stores every event
/// already received, answers in-flight requests, closes storage. Returns the exit code.
int RunServe(const config::Config& config);

/// Applies pending schema migrations to the configured storage and exits.
int RunMigrate(const config::Config& config);

struct LoadgenOptions {
  std::string url = "http://127.0.0.1:3004";
  std::uint64_t seed = 42;
  int users = 1000;
  int days = 90;
  std::string end;  ///< ISO 8601; default now
  std::uint64_t max_events = 0;
  int batch = 5000;
  int connections = 4;
  double duplicate_rate = 0;
  double invalid_rate = 0;
  bool no_ids = false;
  std::string out;  ///< write NDJSON here instead of sending ("-" = stdout)
  std::string amqp_url;  ///< publish to RabbitMQ instead of HTTP
  std::string exchange = "analytics.events";
  std::size_t confirm_window = 1000;
  std::string token;    ///< bearer token for POST /api/events (an admin token)
  std::string api_key;  ///< or an ingest API key (X-API-Key)
};

/// Simulates the platform's services and sends the events over HTTP (or writes NDJSON).
int RunLoadgen(const LoadgenOptions& options);

/// Publishes the events of an NDJSON file ("-": standard input) to RabbitMQ, one message each
/// (routing key = type, message id = event id), with publisher confirms.
int RunPublish(const std::string& amqp_url, const std::string& exchange, std::size_t confirm_window,
               const std::string& file);

struct TokenOptions {
  std::string subject = "admin";
  std::string role = "admin";  ///< "" for a token without the role
  double ttl_hours = 24;
};

/// Prints an HS256 token signed with the configured JWT_SECRET, or in development with the
/// secret the service keeps in DATA_DIR (created if missing), for the given subject and role.
int RunToken(const config::Config& config, const TokenOptions& options);

/// `api-key new --id ID`: prints a new random key and its config entry (id:sha256); `api-key
/// hash`: prints the SHA-256 of the key read from standard input.
int RunApiKey(const std::string& action, const std::string& id);

/// `dead-letters list|replay`: shows dead-lettered messages with their reasons, or publishes
/// them back to the events exchange after a fix.
int RunDeadLetters(const config::Config& config, const std::string& action, std::size_t limit);

}  // namespace main_cmd
