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
};

/// Simulates the platform's services and sends the events over HTTP (or writes NDJSON).
int RunLoadgen(const LoadgenOptions& options);

}  // namespace main_cmd
