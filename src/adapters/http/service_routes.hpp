#pragma once

#include <functional>

#include "adapters/http/http_server.hpp"
#include "app/ingest_service.hpp"
#include "app/ports/event_store.hpp"
#include "app/ports/http_metrics.hpp"
#include "base/clock.hpp"
#include "domain/event_decoder.hpp"

namespace adapters::http {

/// `POST /api/events`: one event, a JSON array or NDJSON; answers once the accepted events are
/// durable, with per-event outcomes (rejected ones always listed; every event with
/// `?details=all`).
void AddIngestRoutes(HttpServer& server, app::IngestService& ingest,
                     const domain::DecodeLimits& limits, const base::Clock& clock);

/// `GET /api/events/stats`: stored events by type, each event id counted once.
void AddEventStatsRoute(HttpServer& server, app::EventStore& store);

/// `GET /health` (process alive), `GET /ready` (every check passes), `GET /metrics`.
struct ReadinessCheck {
  std::string name;
  std::function<base::Status()> check;
};
void AddOperationsRoutes(HttpServer& server, std::vector<ReadinessCheck> checks,
                         const app::HttpMetrics& metrics);

/// JSON body of an ingest answer; exposed for tests.
Response IngestResponse(const std::vector<app::EventResult>& results, bool all_details);

}  // namespace adapters::http
