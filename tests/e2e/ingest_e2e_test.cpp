// Black-box tests of the ingest path: the real binary, real HTTP, real embedded storage.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>
#include <thread>

#include "e2e/service_process.hpp"
#include "e2e/stored_events.hpp"

namespace e2e {
namespace {

namespace json = boost::json;

std::string Signin(const std::string& user, const std::string& id = "", int minute = 0) {
  json::object data{{"userId", user},
                    {"timestamp", "2026-01-15T10:" + std::string(minute < 10 ? "0" : "") +
                                      std::to_string(minute) + ":00Z"},
                    {"ip", "198.51.100.23"}};
  json::object event{{"type", "user.signin"}, {"data", data}};
  if (!id.empty()) event["id"] = id;
  return json::serialize(event);
}

std::string Ndjson(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

json::object Parse(const std::string& body) { return json::parse(body).as_object(); }

class IngestE2e : public testing::Test {
 protected:
  void SetUp() override { dir_ = FreshDir(testing::UnitTest::GetInstance()->current_test_info()->name()); }
  void TearDown() override {
    if (HasFailure() && service_) std::cerr << "---- service log ----\n" << service_->Log();
    service_.reset();
    std::filesystem::remove_all(dir_);
  }
  ServiceProcess& StartService(std::map<std::string, std::string> env = {}) {
    service_ = std::make_unique<ServiceProcess>(dir_, std::move(env));
    EXPECT_TRUE(service_->Start()) << service_->Log();
    return *service_;
  }

  std::filesystem::path dir_;
  std::unique_ptr<ServiceProcess> service_;
};

TEST_F(IngestE2e, HealthReadyAndMetricsAnswer) {
  auto& s = StartService();
  auto health = s.client().Send("GET", "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = s.client().Send("GET", "/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(Parse(ready->body).at("checks").at("storage").as_string(), "ok");

  ASSERT_TRUE(s.client().Send("POST", "/api/events", Signin("u1", "m-1")));
  auto metrics = s.client().Send("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("analytics_events_received_total{source=\"http\"} 1"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("analytics_events_stored_total 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("analytics_http_requests_total{route=\"/api/events\",status=\"200\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("analytics_storage_insert_seconds_count 1"), std::string::npos);
}

TEST_F(IngestE2e, BadEventsAreReportedAndGoodOnesOfTheSameBatchStored) {
  auto& s = StartService();
  const std::string body = Ndjson({Signin("u1", "a"), "{not json", Signin("u2", "b"),
                                   R"({"type":"user.teleport","data":{"userId":"u3","timestamp":"2026-01-15T10:00:00Z"}})",
                                   R"({"type":"user.signin","data":{"timestamp":"2026-01-15T10:00:00Z"}})",
                                   Signin("u4", "c")});
  auto reply = s.client().Send("POST", "/api/events", body, "application/x-ndjson");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 200) << reply->body;
  const auto r = Parse(reply->body);
  EXPECT_EQ(r.at("received").as_int64(), 6);
  EXPECT_EQ(r.at("stored").as_int64(), 3);
  EXPECT_EQ(r.at("rejected").as_int64(), 3);
  const auto& errors = r.at("errors").as_array();
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].at("index").as_int64(), 1);
  EXPECT_EQ(errors[0].at("code").as_string(), "invalid_json");
  EXPECT_EQ(errors[1].at("index").as_int64(), 3);
  EXPECT_EQ(errors[1].at("code").as_string(), "unknown_type");
  EXPECT_EQ(errors[2].at("index").as_int64(), 4);
  EXPECT_EQ(errors[2].at("code").as_string(), "missing_field");
  EXPECT_EQ(errors[2].at("field").as_string(), "data.userId");
  EXPECT_EQ(s.Stop(), 0);
  EXPECT_EQ(CountStored(dir_).distinct, 3u);
}

TEST_F(IngestE2e, AcceptsOneEventAJsonArrayAndNdjson) {
  auto& s = StartService();
  auto one = s.client().Send("POST", "/api/events", Signin("u1", "one"));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200) << one->body;
  auto array = s.client().Send("POST", "/api/events", "[" + Signin("u2", "arr-1") + "," + Signin("u3", "arr-2") + "]");
  ASSERT_TRUE(array);
  EXPECT_EQ(Parse(array->body).at("stored").as_int64(), 2);
  // Several objects one per line, without an NDJSON content type.
  auto lines = s.client().Send("POST", "/api/events", Ndjson({Signin("u4", "l-1"), Signin("u5", "l-2")}));
  ASSERT_TRUE(lines);
  EXPECT_EQ(Parse(lines->body).at("stored").as_int64(), 2) << lines->body;
  auto details = s.client().Send("POST", "/api/events?details=all", Signin("u6", "d-1"));
  ASSERT_TRUE(details);
  const auto d = Parse(details->body);
  ASSERT_EQ(d.at("events").as_array().size(), 1u);
  EXPECT_EQ(d.at("events").as_array()[0].at("status").as_string(), "stored");
  EXPECT_EQ(d.at("events").as_array()[0].at("id").as_string(), "d-1");
  EXPECT_EQ(s.Stop(), 0);
  EXPECT_EQ(CountStored(dir_).distinct, 6u);
}

TEST_F(IngestE2e, WhollyBadRequestsGetClearClientErrors) {
  auto& s = StartService({{"INGEST_MAX_BODY_BYTES", "4096"}, {"INGEST_MAX_BATCH_EVENTS", "10"}});
  auto all_bad = s.client().Send("POST", "/api/events", R"({"type":"nope","data":{}})");
  ASSERT_TRUE(all_bad);
  EXPECT_EQ(all_bad->status, 400);
  EXPECT_EQ(Parse(all_bad->body).at("error").at("code").as_string(), "invalid_argument");

  auto not_json = s.client().Send("POST", "/api/events", "hello");
  ASSERT_TRUE(not_json);
  EXPECT_EQ(not_json->status, 400);
  EXPECT_EQ(Parse(not_json->body).at("error").at("field").as_string(), "body");

  auto empty = s.client().Send("POST", "/api/events", "[]");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);

  std::vector<std::string> eleven;
  for (int i = 0; i < 11; ++i) eleven.push_back(Signin("u", "e-" + std::to_string(i)));
  auto too_many = s.client().Send("POST", "/api/events", Ndjson(eleven), "application/x-ndjson");
  ASSERT_TRUE(too_many);
  EXPECT_EQ(too_many->status, 413);
  EXPECT_EQ(Parse(too_many->body).at("error").at("code").as_string(), "payload_too_large");

  auto too_big = s.client().Send("POST", "/api/events", std::string(8192, ' ') + Signin("u", "big"));
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);

  auto wrong_method = s.client().Send("GET", "/api/events");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  auto unknown = s.client().Send("GET", "/api/nothing-here");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(Parse(unknown->body).at("error").at("code").as_string(), "not_found");

  // The service is still fine and still stores good events.
  auto good = s.client().Send("POST", "/api/events", Signin("u1", "after"));
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
  EXPECT_EQ(s.Stop(), 0);
  EXPECT_EQ(CountStored(dir_).distinct, 1u);
}

TEST_F(IngestE2e, GarbageNeverCrashesTheService) {
  auto& s = StartService();
  std::mt19937 rng(7);
  std::vector<std::string> bodies = {
      std::string(100'000, '['),                        // nesting far past the parser's depth limit
      std::string("{\"type\":\"user.signin\",\"data\":{\"userId\":\"\xff\xfe\",\"timestamp\":1}}"),  // bad UTF-8
      R"({"type":"chat.message_sent","data":{"userId":"u","conversationId":"c","provider":"p","model":"m","tokens":-1,"timestamp":"2026-01-01T00:00:00Z"}})",
      R"({"type":"billing.payment_success","data":{"userId":"u","amount":1e308,"currency":"USD","planId":"p","timestamp":"2026-01-01T00:00:00Z"}})",
      R"({"type":"user.signin","data":{"userId":"u","timestamp":99999999999999999999999}})",
      R"([1, "x", null, true, {}, []])",
  };
  for (int i = 0; i < 50; ++i) {
    std::string random(1 + rng() % 2000, '\0');
    for (auto& c : random) c = static_cast<char>(rng());
    bodies.push_back(random);
  }
  for (const auto& body : bodies) {
    auto reply = s.client().Send("POST", "/api/events", body);
    ASSERT_TRUE(reply) << "the service stopped answering";
    EXPECT_GE(reply->status, 400);
    EXPECT_LT(reply->status, 500) << reply->body;
  }
  ASSERT_TRUE(s.Running());
  auto good = s.client().Send("POST", "/api/events", Signin("u1", "still-works"));
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
}

TEST_F(IngestE2e, RedeliveredCopiesAreStoredOnceAcrossRestarts) {
  auto& s = StartService();
  // No ids: the service derives them from the content, so a resent copy is recognised.
  const std::string batch = Ndjson({Signin("u1", "", 1), Signin("u2", "", 2), Signin("u3", "", 3)});
  auto first = s.client().Send("POST", "/api/events", batch, "application/x-ndjson");
  ASSERT_TRUE(first);
  EXPECT_EQ(Parse(first->body).at("stored").as_int64(), 3);
  auto again = s.client().Send("POST", "/api/events", batch, "application/x-ndjson");
  ASSERT_TRUE(again);
  EXPECT_EQ(Parse(again->body).at("duplicates").as_int64(), 3);
  EXPECT_EQ(s.Stop(), 0);

  ASSERT_TRUE(s.Start()) << s.Log();
  auto after_restart = s.client().Send("POST", "/api/events", batch, "application/x-ndjson");
  ASSERT_TRUE(after_restart);
  const auto r = Parse(after_restart->body);
  EXPECT_EQ(r.at("duplicates").as_int64(), 3) << after_restart->body;
  EXPECT_EQ(r.at("stored").as_int64(), 0);
  EXPECT_EQ(s.Stop(), 0);
  const auto stored = CountStored(dir_);
  EXPECT_EQ(stored.distinct, 3u);
  EXPECT_EQ(stored.rows, 3u) << "a copy reached storage";
}

TEST_F(IngestE2e, SigtermAnswersAndStoresRequestsInFlight) {
  // A long batching delay keeps the request waiting inside the service when SIGTERM arrives.
  auto& s = StartService({{"STORE_BATCH_DELAY_MS", "3000"}});
  std::vector<std::string> lines;
  for (int i = 0; i < 2000; ++i) lines.push_back(Signin("u" + std::to_string(i), "inflight-" + std::to_string(i)));
  base::Result<loadgen::HttpReply> reply = base::Fail(base::Error::Internal("not sent"));
  std::thread sender([&] {
    reply = s.NewClient()->Send("POST", "/api/events", Ndjson(lines), "application/x-ndjson");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(s.Stop(), 0);
  sender.join();
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->status, 200) << reply->body;
  EXPECT_EQ(Parse(reply->body).at("stored").as_int64(), 2000);
  EXPECT_EQ(CountStored(dir_).distinct, 2000u);
}

TEST_F(IngestE2e, KillNineLosesNoAcknowledgedEvent) {
  auto& s = StartService();
  std::vector<std::string> bodies;
  for (int b = 0; b < 40; ++b) {
    std::vector<std::string> lines;
    for (int i = 0; i < 500; ++i) {
      const auto n = std::to_string(b * 500 + i);
      lines.push_back(Signin("u" + n, "k9-" + n));
    }
    bodies.push_back(Ndjson(lines));
  }
  std::atomic<int> acknowledged{0};
  std::thread sender([&] {
    auto client = s.NewClient();
    for (const auto& body : bodies) {
      auto r = client->Send("POST", "/api/events", body, "application/x-ndjson");
      if (!r || r->status != 200) break;
      ++acknowledged;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  s.Kill();
  sender.join();
  const int acked = acknowledged.load();
  ASSERT_TRUE(s.Start()) << s.Log();
  // A client resends whatever was not acknowledged; resending all of it must be harmless.
  auto stats = loadgen::SendBatches("127.0.0.1", s.port(), bodies, 2, {}, s.Credentials());
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_GE(stats->duplicates, static_cast<std::uint64_t>(acked) * 500);
  EXPECT_EQ(stats->stored + stats->duplicates, 20'000u);
  EXPECT_EQ(s.Stop(), 0);
  const auto stored = CountStored(dir_);
  EXPECT_EQ(stored.distinct, 20'000u);
  EXPECT_EQ(stored.rows, 20'000u) << "a resent copy reached storage";
}

TEST_F(IngestE2e, StoredRowsHoldNoPersonalData) {
  auto& s = StartService();
  const std::string email = "alice.private@example.com";
  const std::string title = "My divorce lawyer questions";
  const std::string body = Ndjson({
      R"({"id":"p-1","type":"user.signup","data":{"userId":")" + email + R"(","email":")" + email +
          R"(","planTier":"free","timestamp":"2026-01-15T10:00:00Z"}})",
      R"({"id":"p-2","type":"chat.conversation_created","data":{"userId":")" + email +
          R"(","conversationId":"c1","title":")" + title + R"(","timestamp":"2026-01-15T10:01:00Z"}})",
      R"({"id":"p-3","type":"user.signin","data":{"userId":")" + email +
          R"(","ip":"203.0.113.77","timestamp":"2026-01-15T10:02:00Z"}})",
      R"({"id":"p-4","type":"billing.subscription_created","data":{"userId":")" + email +
          R"(","planId":"pro","stripeSubscriptionId":"sub_SECRET123","timestamp":"2026-01-15T10:03:00Z"}})",
  });
  auto reply = s.client().Send("POST", "/api/events", body, "application/x-ndjson");
  ASSERT_TRUE(reply);
  ASSERT_EQ(Parse(reply->body).at("stored").as_int64(), 4) << reply->body;
  EXPECT_EQ(s.Stop(), 0);
  const auto events = ReadStored(dir_);
  ASSERT_EQ(events.size(), 4u);
  for (const auto& e : events) {
    for (const auto* field : {&e.user_id, &e.plan, &e.conversation_id, &e.reason, &e.subscription_ref, &e.ip_prefix}) {
      EXPECT_EQ(field->find("alice"), std::string::npos) << *field;
      EXPECT_EQ(field->find("divorce"), std::string::npos) << *field;
      EXPECT_EQ(field->find("SECRET"), std::string::npos) << *field;
      EXPECT_EQ(field->find(".77"), std::string::npos) << *field;
    }
    EXPECT_EQ(e.user_id.size(), 32u);
  }
  EXPECT_EQ(events[0].user_id, events[1].user_id) << "one user's events must still join up";
}

TEST_F(IngestE2e, ProductionRefusesToStartWithoutAKey) {
  ServiceProcess s(dir_, {{"ANALYTICS_ENV", "production"}, {"PSEUDONYMIZATION_KEY", ""}});
  EXPECT_FALSE(s.Start());
  EXPECT_NE(s.Log().find("PSEUDONYMIZATION_KEY"), std::string::npos) << s.Log();
}

}  // namespace
}  // namespace e2e
