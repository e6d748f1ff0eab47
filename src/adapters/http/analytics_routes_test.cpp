#include "adapters/http/analytics_routes.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>

#include "adapters/http/service_routes.hpp"
#include "app/ingest_service.hpp"
#include "app/ports/ingest_metrics.hpp"
#include "app/testing/fake_analytics_store.hpp"
#include "domain/timestamp.hpp"

namespace adapters::http {
namespace {

namespace json = boost::json;
using domain::Value;

class UnusedEventStore final : public app::EventStore {
 public:
  base::Status Migrate() override { return {}; }
  base::Status Ping() override { return {}; }
  base::Status Append(std::span<const domain::Event>) override { return {}; }
  base::Result<std::vector<app::StoredId>> RecentEventIds(base::TimePoint) override { return {}; }
  base::Result<app::EventCounts> CountEvents() override { return app::EventCounts{}; }
  base::Result<std::vector<domain::Event>> ReadEvents(std::size_t) override { return {}; }
  void Close() override {}
};

class UnusedPseudonymizer final : public app::Pseudonymizer {
 public:
  std::string PseudonymizeId(std::string_view raw) const override { return std::string(raw); }
  std::string DeriveEventId(std::string_view canonical) const override { return std::string(canonical); }
};

class UnusedHttpMetrics final : public app::HttpMetrics {
 public:
  void RequestServed(std::string_view, int, std::chrono::duration<double>) override {}
  void RequestThrottled(std::string_view) override {}
  void AccessRefused(std::string_view, int) override {}
  std::string Render() const override { return {}; }
};

TEST(ToJsonTest, NumbersStayNumbersAndStringsAreEscaped) {
  Value list = Value::List();
  list.Push(Value::Bool(true));
  Value v = Value::Object();
  v.Set("i", Value::Int(-3))
      .Set("money", Value::Double(19.99))
      .Set("whole", Value::Double(2320))
      .Set("tiny", Value::Double(0.000001))
      .Set("nan", Value::Double(std::nan("")))
      .Set("null", Value::Null())
      .Set("s", Value::String("a\"b\\c\n\x01"))
      .Set("list", std::move(list));
  EXPECT_EQ(ToJson(v),
            R"({"i":-3,"money":19.99,"whole":2320,"tiny":1e-06,"nan":null,"null":null,)"
            R"("s":"a\"b\\c\n\u0001","list":[true]})");
  // Whatever it writes, Boost.JSON reads back.
  EXPECT_NO_THROW(json::parse(ToJson(v)));
}

TEST(QueryWorkersTest, RunsWorkAndRefusesPastTheQueue) {
  std::atomic<int> done{0};
  std::mutex gate;
  std::unique_lock hold(gate);
  {
    QueryWorkers workers(1, 2);
    EXPECT_TRUE(workers.TrySubmit([&] { std::lock_guard l(gate); ++done; }));
    EXPECT_TRUE(workers.TrySubmit([&] { ++done; }));
    EXPECT_FALSE(workers.TrySubmit([&] { ++done; }));  // two already pending
    hold.unlock();
  }  // joins
  EXPECT_EQ(done.load(), 2);
}

TEST(AnalyticsBodyTest, MetaEchoesTheResolvedRequest) {
  const auto q = domain::ParseAnalyticsQuery(
      domain::Metric::kChatMessages,
      {{"startDate", "2025-03-30"}, {"endDate", "2025-03-30"}, {"tz", "Europe/Berlin"}},
      *domain::ParseIsoDateTime("2025-06-01T00:00:00Z"));
  ASSERT_TRUE(q.has_value());
  domain::MetricResult r;
  r.summary = Value::Object().Set("messages", Value::Int(0));
  const auto body = json::parse(AnalyticsBody(r, *q, true, 1.23456)).as_object();
  const auto& meta = body.at("meta").as_object();
  EXPECT_EQ(meta.at("startDate").as_string(), "2025-03-30T00:00:00+01:00");
  EXPECT_EQ(meta.at("endDate").as_string(), "2025-03-31T00:00:00+02:00");
  EXPECT_EQ(meta.at("granularity").as_string(), "day");
  EXPECT_EQ(meta.at("tz").as_string(), "Europe/Berlin");
  EXPECT_EQ(meta.at("cached").as_bool(), true);
  EXPECT_DOUBLE_EQ(meta.at("elapsedMs").to_number<double>(), 1.235);
  EXPECT_TRUE(body.at("data").is_array());
  EXPECT_EQ(body.at("summary").at("messages").as_int64(), 0);
}

// The OpenAPI document and the router agree both ways, and each analytics route documents
// exactly the parameters its spec accepts.
TEST(OpenApiTest, DocumentAndRouterListTheSameRoutes) {
  UnusedEventStore events;
  UnusedPseudonymizer pseudonymizer;
  base::FixedClock clock(*domain::ParseIsoDateTime("2025-06-01T00:00:00Z"));
  app::NullIngestMetrics ingest_metrics;
  UnusedHttpMetrics http_metrics;
  app::IngestService ingest(events, pseudonymizer, clock, ingest_metrics, {});
  app::testing::FakeAnalyticsStore store;
  app::ResponseCache cache(clock, std::chrono::seconds{0});
  app::QueryService queries(store, *domain::PlanCatalog::Parse(R"({"plans": []})"),
                            *domain::PriceTable::Parse(R"({"prices": []})"), cache, {});
  HttpServer server(HttpServer::Options{});
  // The same registration calls as the service's wiring (src/main/commands.cpp).
  AddIngestRoutes(server, ingest, domain::DecodeLimits{}, clock);
  AddEventStatsRoute(server, events);
  QueryWorkers workers(1, 4);
  AddAnalyticsRoutes(server, queries, workers, clock);
  AddOpenApiRoute(server);
  AddOperationsRoutes(server, {}, http_metrics);

  std::set<std::pair<std::string, std::string>> routed;
  for (const auto& [method, path] : server.Routes()) routed.emplace(method, path);

  const auto doc = json::parse(OpenApiDocument()).as_object();
  EXPECT_EQ(doc.at("openapi").as_string().subview().substr(0, 3), "3.1");
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, operation] : item.as_object()) {
      if (method == "parameters" || method == "summary" || method == "description") continue;
      std::string upper(method);
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.emplace(upper, std::string(path));
    }
  }
  for (const auto& r : routed) EXPECT_TRUE(documented.contains(r)) << "undocumented: " << r.first << " " << r.second;
  for (const auto& d : documented) EXPECT_TRUE(routed.contains(d)) << "not routed: " << d.first << " " << d.second;
  EXPECT_EQ(routed.size(), 25u);
}

// Resolves a parameter object, following one local $ref.
json::object Resolve(const json::object& doc, const json::value& p) {
  const auto& o = p.as_object();
  if (!o.contains("$ref")) return o;
  const std::string ref(o.at("$ref").as_string());
  const std::string prefix = "#/components/parameters/";
  EXPECT_EQ(ref.rfind(prefix, 0), 0u) << ref;
  return doc.at("components").at("parameters").at(ref.substr(prefix.size())).as_object();
}

TEST(OpenApiTest, AnalyticsParametersMatchWhatTheParserAccepts) {
  const auto doc = json::parse(OpenApiDocument()).as_object();
  for (const auto& spec : domain::AllMetrics()) {
    const std::string path = "/api/analytics/" + std::string(spec.path);
    const auto& get = doc.at("paths").at(path).at("get").as_object();
    std::set<std::string> names;
    std::set<std::string> group_values;
    for (const auto& p : get.at("parameters").as_array()) {
      const auto param = Resolve(doc, p);
      const std::string name(param.at("name").as_string());
      names.insert(name);
      if (name == "groupBy") {
        for (const auto& v : param.at("schema").at("enum").as_array()) group_values.emplace(v.as_string());
      }
    }
    std::set<std::string> expected = {"startDate", "endDate", "tz", "granularity"};
    if (!spec.group_by.empty()) expected.insert("groupBy");
    if (spec.has_limit) expected.insert("limit");
    EXPECT_EQ(names, expected) << path;
    EXPECT_EQ(group_values, std::set<std::string>(spec.group_by.begin(), spec.group_by.end())) << path;
  }
}

TEST(QueryWorkersTest, WorkThatThrowsEndsNeitherTheWorkerNorTheProcess) {
  std::atomic<int> done{0};
  {
    QueryWorkers workers(1, 2);
    EXPECT_TRUE(workers.TrySubmit([] { throw std::bad_alloc(); }));
    EXPECT_TRUE(workers.TrySubmit([] { throw std::runtime_error("boom"); }));
  }  // joins: both ran and their places in the queue are free again
  QueryWorkers workers(1, 2);
  EXPECT_TRUE(workers.TrySubmit([] { throw std::runtime_error("boom"); }));
  std::promise<void> ran;
  EXPECT_TRUE(workers.TrySubmit([&] {
    ++done;
    ran.set_value();
  }));
  ASSERT_EQ(ran.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(done.load(), 1);
}

// Calls an analytics route the way the server does and waits for its one response.
class AnalyticsRoutesTest : public testing::Test {
 protected:
  AnalyticsRoutesTest()
      : clock_(*domain::ParseIsoDateTime("2025-06-01T00:00:00Z")),
        cache_(clock_, std::chrono::seconds{0}),
        queries_(store_, *domain::PlanCatalog::Parse(R"({"plans": []})"),
                 *domain::PriceTable::Parse(R"({"prices": []})"), cache_, {}),
        server_(HttpServer::Options{}) {}

  struct Reply {
    Response response;
    std::shared_ptr<std::atomic<int>> calls;
  };

  Reply Call(const std::string& path, std::map<std::string, std::string> query = {}) {
    std::string methods;
    const auto* route = server_.Find("GET", path, methods);
    EXPECT_NE(route, nullptr) << path;
    if (route == nullptr) return {};
    auto promise = std::make_shared<std::promise<Response>>();
    auto calls = std::make_shared<std::atomic<int>>(0);
    Request req;
    req.method = "GET";
    req.path = path;
    req.query = std::move(query);
    route->handler(req, [promise, calls](Response r) {
      if (calls->fetch_add(1) == 0) promise->set_value(std::move(r));
    });
    auto future = promise->get_future();
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready) << path;
    return {future.get(), calls};
  }

  base::FixedClock clock_;
  app::testing::FakeAnalyticsStore store_;
  app::ResponseCache cache_;
  app::QueryService queries_;
  HttpServer server_;
};

TEST_F(AnalyticsRoutesTest, AnExceptionInTheQueryOnAWorkerIsAJson500) {
  Reply failed, ok;
  {
    QueryWorkers workers(1, 4);
    AddAnalyticsRoutes(server_, queries_, workers, clock_);
    store_.throw_bad_alloc = true;
    failed = Call("/api/analytics/users/count");
    // The same worker answers the next request.
    store_.throw_bad_alloc = false;
    store_.signups = {3, 1};
    ok = Call("/api/analytics/users/count");
  }  // joins the worker: a second response would have been sent by now
  EXPECT_EQ(failed.response.status, 500);
  EXPECT_EQ(failed.response.content_type, "application/json");
  const auto error = json::parse(failed.response.body).at("error");
  EXPECT_EQ(error.at("code").as_string(), "internal");
  EXPECT_EQ(failed.response.body.find("bad_alloc"), std::string::npos) << failed.response.body;
  ASSERT_EQ(ok.response.status, 200) << ok.response.body;
  EXPECT_EQ(json::parse(ok.response.body).at("data").at(0).at("totalUsers").as_int64(), 3);
  EXPECT_EQ(store_.calls, 2);
  ASSERT_TRUE(failed.calls && ok.calls);
  EXPECT_EQ(failed.calls->load(), 1);
  EXPECT_EQ(ok.calls->load(), 1);
}

TEST_F(AnalyticsRoutesTest, AnAnswerOverTheLimitsIsRefusedBeforeAnyQuery) {
  QueryWorkers workers(1, 4);
  AddAnalyticsRoutes(server_, queries_, workers, clock_, {.max_cells = 24, .max_groups = 2});
  const auto refused = Call("/api/analytics/chat/messages", {{"startDate", "2025-05-01T00:00:00Z"},
                                                             {"endDate", "2025-05-01T09:00:00Z"},
                                                             {"granularity", "hour"},
                                                             {"groupBy", "model"}});
  EXPECT_EQ(refused.response.status, 400);
  const auto error = json::parse(refused.response.body).at("error");
  EXPECT_EQ(error.at("field").as_string(), "granularity");
  EXPECT_NE(std::string(error.at("message").as_string()).find("limit of 24"), std::string::npos);
  EXPECT_EQ(store_.calls, 0);
  const auto ok = Call("/api/analytics/chat/messages", {{"startDate", "2025-05-01T00:00:00Z"},
                                                        {"endDate", "2025-05-01T08:00:00Z"},
                                                        {"granularity", "hour"},
                                                        {"groupBy", "model"}});
  EXPECT_EQ(ok.response.status, 200) << ok.response.body;
}

TEST(AnswerOnWorkerTest, RespondsOnceWhateverTheAnswerThrows) {
  std::vector<Response> sent;
  const Responder respond = [&](Response r) { sent.push_back(std::move(r)); };
  AnswerOnWorker(respond, []() -> Response { throw std::runtime_error("engine says no"); });
  AnswerOnWorker(respond, []() -> Response { throw 42; });
  AnswerOnWorker(respond, [] { return Response{200, "application/json", "{}", {}}; });
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].status, 500);
  EXPECT_EQ(sent[0].body.find("engine says no"), std::string::npos);
  EXPECT_EQ(sent[1].status, 500);
  EXPECT_EQ(sent[2].status, 200);
}

TEST(AnswerOnWorkerTest, ARespondThatThrowsIsRetriedWithAnError) {
  std::vector<int> statuses;
  int attempts = 0;
  const Responder respond = [&](Response r) {
    if (++attempts == 1) throw std::bad_alloc();
    statuses.push_back(r.status);
  };
  AnswerOnWorker(respond, [] { return Response{200, "application/json", "{}", {}}; });
  EXPECT_EQ(statuses, std::vector<int>{500});
}

}  // namespace
}  // namespace adapters::http
