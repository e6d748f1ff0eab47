#pragma once

#include <string>
#include <string_view>

#include "adapters/http/http_server.hpp"
#include "app/query_service.hpp"
#include "base/clock.hpp"
#include "domain/analytics_query.hpp"
#include "domain/metric_result.hpp"

namespace adapters::http {

/// `GET /api/analytics/<metric>` for every metric of domain::AllMetrics(): validates the query
/// string (400 naming the parameter), runs the query service on the calling thread and answers
/// `{"data", "summary"?, "meta"}`.
void AddAnalyticsRoutes(HttpServer& server, app::QueryService& queries, const base::Clock& clock);

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
