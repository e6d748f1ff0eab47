#include "adapters/http/service_routes.hpp"

#include <boost/json.hpp>
#include <cctype>

namespace adapters::http {
namespace json = boost::json;

namespace {

std::string_view OutcomeName(app::EventOutcome o) {
  switch (o) {
    case app::EventOutcome::kStored: return "stored";
    case app::EventOutcome::kDuplicate: return "duplicate";
    case app::EventOutcome::kRejected: return "rejected";
  }
  return "rejected";
}

domain::BodyFormat FormatOf(std::string content_type) {
  for (auto& c : content_type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (content_type.find("ndjson") != std::string::npos ||
      content_type.find("jsonlines") != std::string::npos ||
      content_type.find("x-jsonl") != std::string::npos) {
    return domain::BodyFormat::kNdjson;
  }
  return domain::BodyFormat::kAuto;
}

}  // namespace

Response IngestResponse(const std::vector<app::EventResult>& results, bool all_details) {
  std::size_t stored = 0, duplicates = 0, rejected = 0;
  json::array errors;
  json::array events;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    switch (r.outcome) {
      case app::EventOutcome::kStored: ++stored; break;
      case app::EventOutcome::kDuplicate: ++duplicates; break;
      case app::EventOutcome::kRejected: {
        ++rejected;
        json::object e;
        e["index"] = i;
        e["code"] = r.rejection.code;
        if (!r.rejection.field.empty()) e["field"] = r.rejection.field;
        e["message"] = r.rejection.message;
        errors.push_back(std::move(e));
        break;
      }
    }
    if (all_details) {
      json::object e;
      e["index"] = i;
      e["status"] = OutcomeName(r.outcome);
      if (!r.event_id.empty()) e["id"] = r.event_id;
      events.push_back(std::move(e));
    }
  }
  json::object body;
  body["received"] = results.size();
  body["stored"] = stored;
  body["duplicates"] = duplicates;
  body["rejected"] = rejected;
  body["errors"] = std::move(errors);
  if (all_details) body["events"] = std::move(events);
  Response response;
  if (rejected == results.size()) {
    // Nothing was usable: a client error, in the one error shape, with the per-event reasons.
    json::object error;
    error["code"] = "invalid_argument";
    error["message"] = rejected == 1 ? "the event was rejected" : "all events were rejected";
    error["field"] = "body";
    body["error"] = std::move(error);
    response.status = 400;
  }
  response.body = json::serialize(body);
  return response;
}

void AddIngestRoutes(HttpServer& server, app::IngestService& ingest,
                     const domain::DecodeLimits& limits, const base::Clock& clock) {
  server.Route("POST", "/api/events", app::AccessClass::kIngest, [&ingest, limits, &clock](Request& req, Responder respond) {
    auto decoded = domain::DecodeBody(req.body, FormatOf(req.content_type), limits, clock.Now());
    if (!decoded) return respond(ErrorResponse(decoded.error()));
    const bool all_details = req.query.contains("details") && req.query.at("details") == "all";
    ingest.Ingest("http", std::move(*decoded),
                  [respond = std::move(respond), all_details](
                      base::Result<std::vector<app::EventResult>> results) {
                    if (!results) return respond(ErrorResponse(results.error()));
                    respond(IngestResponse(*results, all_details));
                  });
  });
}

void AddEventStatsRoute(HttpServer& server, app::EventStore& store) {
  server.Route("GET", "/api/events/stats", app::AccessClass::kAnalytics, [&store](Request&, Responder respond) {
    auto counts = store.CountEvents();
    if (!counts) return respond(ErrorResponse(counts.error()));
    json::object by_type;
    for (const auto type : domain::AllEventTypes()) {
      by_type[domain::EventTypeName(type)] = counts->by_type[static_cast<std::size_t>(type)];
    }
    json::object body;
    body["total"] = counts->total;
    body["byType"] = std::move(by_type);
    respond(Response{200, "application/json", json::serialize(body), {}});
  });
}

void AddOperationsRoutes(HttpServer& server, std::vector<ReadinessCheck> checks,
                         const app::HttpMetrics& metrics) {
  server.Route("GET", "/health", kOpenRoute, [](Request&, Responder respond) {
    respond(Response{200, "application/json", R"({"status":"ok"})", {}});
  });
  server.Route("GET", "/ready", kOpenRoute, [checks = std::move(checks)](Request&, Responder respond) {
    json::object results;
    bool ready = true;
    for (const auto& c : checks) {
      const auto status = c.check();
      results[c.name] = status ? std::string("ok") : status.error().message;
      ready = ready && status.has_value();
    }
    json::object body;
    body["status"] = ready ? "ready" : "not_ready";
    body["checks"] = std::move(results);
    respond(Response{ready ? 200 : 503, "application/json", json::serialize(body), {}});
  });
  server.Route("GET", "/metrics", app::AccessClass::kMetrics, [&metrics](Request&, Responder respond) {
    respond(Response{200, "text/plain; version=0.0.4", metrics.Render(), {}});
  });
}

}  // namespace adapters::http
