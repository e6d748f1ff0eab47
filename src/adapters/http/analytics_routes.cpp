#include "adapters/http/analytics_routes.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>

#include <atomic>

#include <chrono>
#include <cmath>

#include "base/json_string.hpp"

namespace adapters::http {
namespace {


void Append(std::string& out, const domain::Value& v) {
  using K = domain::Value::Kind;
  switch (v.kind) {
    case K::kNull: out += "null"; break;
    case K::kBool: out += v.i != 0 ? "true" : "false"; break;
    case K::kInt: out += fmt::format("{}", v.i); break;
    case K::kDouble:
      if (!std::isfinite(v.d)) {
        out += "null";
      } else if (v.d == std::floor(v.d) && std::fabs(v.d) < 1e15) {
        // Whole numbers without an exponent or a trailing ".0" (19 rather than 1.9e1).
        out += fmt::format("{}", static_cast<std::int64_t>(v.d));
      } else {
        out += fmt::format("{}", v.d);
      }
      break;
    case K::kString: base::AppendJsonString(out, v.s); break;
    case K::kList: {
      out.push_back('[');
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) out.push_back(',');
        Append(out, v.items[i]);
      }
      out.push_back(']');
      break;
    }
    case K::kObject: {
      out.push_back('{');
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) out.push_back(',');
        base::AppendJsonString(out, v.keys[i]);
        out.push_back(':');
        Append(out, v.items[i]);
      }
      out.push_back('}');
      break;
    }
  }
}

}  // namespace

std::string ToJson(const domain::Value& value) {
  std::string out;
  Append(out, value);
  return out;
}

std::string AnalyticsBody(const domain::MetricResult& result, const domain::AnalyticsQuery& query,
                          bool cached, double elapsed_ms) {
  domain::Value body = domain::Value::Object();
  body.Set("data", result.data);
  if (result.summary) body.Set("summary", *result.summary);
  domain::Value meta = domain::Value::Object();
  meta.Set("startDate", domain::Value::String(query.tz.Format(query.range.start)))
      .Set("endDate", domain::Value::String(query.tz.Format(query.range.end)))
      .Set("granularity", domain::Value::String(std::string(GranularityName(query.granularity))))
      .Set("tz", domain::Value::String(query.tz.name()))
      .Set("cached", domain::Value::Bool(cached))
      .Set("elapsedMs", domain::Value::Double(std::round(elapsed_ms * 1000.0) / 1000.0));
  body.Set("meta", std::move(meta));
  return ToJson(body);
}

struct QueryWorkers::Impl {
  explicit Impl(int threads) : pool(static_cast<std::size_t>(std::max(1, threads))) {}
  boost::asio::thread_pool pool;
  std::atomic<std::size_t> pending{0};
  std::size_t max_queued = 0;
};

QueryWorkers::QueryWorkers(int threads, std::size_t max_queued) : impl_(std::make_unique<Impl>(threads)) {
  impl_->max_queued = max_queued;
}

QueryWorkers::~QueryWorkers() { impl_->pool.join(); }

bool QueryWorkers::TrySubmit(std::function<void()> work) {
  if (impl_->pending.fetch_add(1) >= impl_->max_queued) {
    impl_->pending.fetch_sub(1);
    return false;
  }
  boost::asio::post(impl_->pool, [impl = impl_.get(), work = std::move(work)] {
    work();
    impl->pending.fetch_sub(1);
  });
  return true;
}

void AddAnalyticsRoutes(HttpServer& server, app::QueryService& queries, QueryWorkers& workers,
                        const base::Clock& clock) {
  for (const auto& spec : domain::AllMetrics()) {
    const auto metric = spec.metric;
    server.Route("GET", "/api/analytics/" + std::string(spec.path), app::AccessClass::kAnalytics,
                 [metric, &queries, &workers, &clock](Request& req, Responder respond) {
                   const auto started = std::chrono::steady_clock::now();
                   auto query = domain::ParseAnalyticsQuery(metric, req.query, clock.Now());
                   if (!query) return respond(ErrorResponse(query.error()));
                   auto run = [&queries, started, query = std::move(*query), respond]() {
                     const auto answer = queries.Run(query);
                     if (!answer) return respond(ErrorResponse(answer.error()));
                     const std::chrono::duration<double, std::milli> elapsed =
                         std::chrono::steady_clock::now() - started;
                     respond(Response{200, "application/json",
                                      AnalyticsBody(answer->result, query, answer->cached,
                                                    elapsed.count()),
                                      {}});
                   };
                   if (!workers.TrySubmit(std::move(run))) {
                     respond(ErrorResponse({base::ErrorCode::kResourceExhausted,
                                            "too many analytics queries in progress; retry shortly",
                                            {}}));
                   }
                 });
  }
}

void AddOpenApiRoute(HttpServer& server) {
  server.Route("GET", "/api/docs/openapi.json", kOpenRoute, [](Request&, Responder respond) {
    respond(Response{200, "application/json", std::string(OpenApiDocument()), {}});
  });
}

}  // namespace adapters::http
