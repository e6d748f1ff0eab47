#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/http/http_server.hpp"
#include "app/query_service.hpp"
#include "base/clock.hpp"
#include "domain/analytics_query.hpp"
#include "domain/metric_result.hpp"

namespace adapters::http {

/// Threads that run analytics queries, so that a slow query never holds the HTTP I/O threads
/// (ingest, health and readiness keep answering). At most `max_queued` queries wait; more are
/// refused with kResourceExhausted (429). Joins its threads on destruction; thread-safe.
class QueryWorkers {
 public:
  QueryWorkers(int threads, std::size_t max_queued);
  ~QueryWorkers();
  QueryWorkers(const QueryWorkers&) = delete;
  QueryWorkers& operator=(const QueryWorkers&) = delete;

  /// Runs `work` on a worker; false (and `work` dropped) when the queue is full. An exception
  /// from `work` is logged and ends neither the worker nor the process. When a large answer
  /// was made (AnswerOnWorker), the freed heap goes back to the system once the workers fall
  /// idle, or a second after the last time under steady load.
  bool TrySubmit(std::function<void()> work);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Answers one request on a query worker: `respond` is called exactly once, with `answer()`'s
/// response, or a JSON 500 (logged) when `answer` throws, std::bad_alloc included. A large
/// answer, or one during which the resident set grew, asks QueryWorkers to hand the freed heap
/// back to the system (malloc_trim).
void AnswerOnWorker(const Responder& respond, const std::function<Response()>& answer);

/// `GET /api/analytics/<metric>` for every metric of domain::AllMetrics(): validates the query
/// string on the I/O thread (400 naming the parameter, also when the answer could be larger than
/// `limits` allow), runs the query service on `workers` (AnswerOnWorker) and answers
/// `{"data", "summary"?, "meta"}`.
void AddAnalyticsRoutes(HttpServer& server, app::QueryService& queries, QueryWorkers& workers,
                        const base::Clock& clock, const domain::AnswerLimits& limits = {});

/// `GET /api/docs/openapi.json`: the OpenAPI document of every route (docs/openapi.json).
void AddOpenApiRoute(HttpServer& server);
/// The OpenAPI document compiled into the binary.
std::string_view OpenApiDocument();

/// Writes a value as JSON (numbers never quoted; non-finite doubles as null). For tests.
std::string ToJson(const domain::Value& value);
/// The full 200 body of an analytics answer.
std::string AnalyticsBody(const domain::MetricResult& result, const domain::AnalyticsQuery& query,
                          bool cached, double elapsed_ms);

}  // namespace adapters::http
