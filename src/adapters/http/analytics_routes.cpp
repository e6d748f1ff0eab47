#include "adapters/http/analytics_routes.hpp"

#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "base/json_string.hpp"
#include "base/log.hpp"

namespace adapters::http {
namespace {

// After an answer this large, or a query that grew the resident set this much, the freed heap
// is handed back to the system: glibc keeps freed memory in its arenas (one per worker thread),
// so a few large answers would otherwise pin their peak for the life of the process.
constexpr std::size_t kTrimAfterBodyBytes = std::size_t{1} << 20;
constexpr std::size_t kTrimAfterGrowthBytes = std::size_t{16} << 20;
// Trimming costs 15-170 ms on a heap of a few hundred MB and the next answer faults the pages
// back in (trimming once a second doubled the time of a burst of the largest answers), so it
// waits for the workers to fall idle, or this long under steady load.
constexpr std::chrono::seconds kMaxTrimDelay{10};

std::atomic<bool> trim_wanted{false};
std::atomic<std::int64_t> last_trim_ns{0};

void ReleaseFreedHeap(bool workers_idle) {
  if (!trim_wanted.load(std::memory_order_relaxed)) return;
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  const auto since = now - std::chrono::nanoseconds(last_trim_ns.load(std::memory_order_relaxed));
  if (!workers_idle && since < kMaxTrimDelay) return;
  if (!trim_wanted.exchange(false)) return;
  last_trim_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count(),
                     std::memory_order_relaxed);
  malloc_trim(0);
}

std::size_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long pages = 0, resident = 0;
  const int read = std::fscanf(f, "%lu %lu", &pages, &resident);
  std::fclose(f);
  return read == 2 ? resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

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
  domain::Value meta = domain::Value::Object();
  meta.Set("startDate", domain::Value::String(query.tz.Format(query.range.start)))
      .Set("endDate", domain::Value::String(query.tz.Format(query.range.end)))
      .Set("granularity", domain::Value::String(std::string(GranularityName(query.granularity))))
      .Set("tz", domain::Value::String(query.tz.name()))
      .Set("cached", domain::Value::Bool(cached))
      .Set("elapsedMs", domain::Value::Double(std::round(elapsed_ms * 1000.0) / 1000.0));
  // Written in place rather than copied into one body value first: `data` can be the largest
  // allowed answer, and a copy would double the request's peak memory.
  std::string out = "{\"data\":";
  Append(out, result.data);
  if (result.summary) {
    out += ",\"summary\":";
    Append(out, *result.summary);
  }
  out += ",\"meta\":";
  Append(out, meta);
  out.push_back('}');
  return out;
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
    struct Done {
      Impl* impl;
      ~Done() { ReleaseFreedHeap(impl->pending.fetch_sub(1) == 1); }
    } done{impl};
    // An exception escaping a pool thread would end the process. Work that must answer catches
    // its own (AnswerOnWorker); this only keeps the worker alive for whatever slips through.
    try {
      work();
    } catch (const std::exception& e) {
      base::log::Error("analytics.worker_exception", {{"error", e.what()}});
    } catch (...) {
      base::log::Error("analytics.worker_exception", {{"error", "not a std::exception"}});
    }
  });
  return true;
}

void AnswerOnWorker(const Responder& respond, const std::function<Response()>& answer) {
  const std::size_t resident_before = ResidentBytes();
  std::size_t body_bytes = 0;
  {
    std::optional<Response> response;
    try {
      response = answer();
    } catch (const std::exception& e) {
      base::log::Error("analytics.query_exception", {{"error", e.what()}});
    } catch (...) {
      base::log::Error("analytics.query_exception", {{"error", "not a std::exception"}});
    }
    // Whatever `answer` built is freed by now, so this small error body is affordable even
    // after std::bad_alloc.
    if (!response) {
      response = ErrorResponse(
          base::Error::Internal("the analytics query failed; the service log has the details"));
    }
    body_bytes = response->body.size();
    try {
      respond(std::move(*response));
    } catch (const std::exception& e) {
      // Nothing was sent (the server's responder queues the answer or throws); a short error
      // still may be. Should that throw too, the worker logs it.
      base::log::Error("analytics.respond_exception", {{"error", e.what()}});
      respond(ErrorResponse(
          base::Error::Internal("the analytics query failed; the service log has the details")));
    }
  }
  const std::size_t resident_after = ResidentBytes();
  if (body_bytes >= kTrimAfterBodyBytes ||
      resident_after >= resident_before + kTrimAfterGrowthBytes) {
    trim_wanted.store(true, std::memory_order_relaxed);
  }
}

void AddAnalyticsRoutes(HttpServer& server, app::QueryService& queries, QueryWorkers& workers,
                        const base::Clock& clock, const domain::AnswerLimits& limits) {
  for (const auto& spec : domain::AllMetrics()) {
    const auto metric = spec.metric;
    server.Route("GET", "/api/analytics/" + std::string(spec.path), app::AccessClass::kAnalytics,
                 [metric, &queries, &workers, &clock, limits](Request& req, Responder respond) {
                   const auto started = std::chrono::steady_clock::now();
                   auto query = domain::ParseAnalyticsQuery(metric, req.query, clock.Now(), limits);
                   if (!query) return respond(ErrorResponse(query.error()));
                   auto run = [&queries, started, query = std::move(*query), respond]() {
                     AnswerOnWorker(respond, [&]() -> Response {
                       const auto answer = queries.Run(query);
                       if (!answer) return ErrorResponse(answer.error());
                       const std::chrono::duration<double, std::milli> elapsed =
                           std::chrono::steady_clock::now() - started;
                       return Response{
                           200,
                           "application/json",
                           AnalyticsBody(answer->result, query, answer->cached, elapsed.count()),
                           {}};
                     });
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
