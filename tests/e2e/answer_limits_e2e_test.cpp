// Black-box tests of the answer limits (docs/metrics.md, "Answer limits"): on the real binary, a
// year of messages to 300 model names and a few thousand users. Answers that could be larger
// than the limit are refused before they run, grouped answers keep the 50 largest groups and
// fold the rest into "(other)" exactly, the largest allowed answers are served, and after a
// burst of them the service's resident memory comes back.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e/service_process.hpp"

namespace e2e {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

constexpr std::size_t kMaxGroups = 50;  // the service's default AnswerLimits
constexpr std::size_t kMaxCells = 100'000;
constexpr int kUsers = 3'000;
constexpr int kModels = 300;
/// The memory bound this test holds the service to: after a burst of the largest allowed
/// answers, resident memory is back within this much of where it was before the burst. It has
/// room for the response cache (64 MiB by its estimate) and the allocator's working set.
constexpr std::int64_t kMemoryBoundBytes = std::int64_t{150} << 20;

std::int64_t DayMs(int day_of_2025) {
  // 2025-01-01T00:00:00Z plus whole days.
  return 1'735'689'600'000LL + std::int64_t{day_of_2025} * 86'400'000LL;
}

std::string ModelName(int k) {
  char name[16];
  std::snprintf(name, sizeof name, "model-%03d", k);
  return name;
}

struct Message {
  int day = 0;  // of 2025
  int model = 0;
};

/// The events, and what the tests expect of them, computed here from what is sent.
struct DataSet {
  std::vector<std::string> lines;  // NDJSON
  std::vector<Message> messages;
  std::map<int, std::uint64_t> signups_by_day;  // day offset from 2024-10-01 -> signups
};

std::string Line(const std::string& id, const char* type, json::object data) {
  return json::serialize(json::object{{"id", id}, {"type", type}, {"data", std::move(data)}});
}

DataSet Generate() {
  DataSet ds;
  std::mt19937 rng(20251207);
  // 2024-10-01T00:00:00Z; the retention range covers 446 days from here.
  constexpr std::int64_t kRetentionStartMs = 1'727'740'800'000LL;
  int id = 0;
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = "user-" + std::to_string(u);
    const int signup_day = static_cast<int>(rng() % 446);
    const std::int64_t signup_ms = kRetentionStartMs + std::int64_t{signup_day} * 86'400'000LL +
                                   static_cast<std::int64_t>(rng() % 86'000'000);
    ++ds.signups_by_day[signup_day];
    ds.lines.push_back(Line("s-" + std::to_string(id++), "user.signup",
                            {{"userId", user},
                             {"timestamp", signup_ms},
                             {"planTier", "free"},
                             {"email", user + "@example.com"}}));
    // Activity on later days, so that retention cohorts have periods to count.
    for (int k = 0; k < 8; ++k) {
      const int later = signup_day + static_cast<int>(rng() % 60);
      if (later >= 446) continue;
      ds.lines.push_back(
          Line("i-" + std::to_string(id++), "user.signin",
               {{"userId", user},
                {"timestamp", kRetentionStartMs + std::int64_t{later} * 86'400'000LL +
                                  static_cast<std::int64_t>(rng() % 86'000'000)},
                {"ip", "203.0.113.7"}}));
    }
  }
  // Model k gets 1..23 messages (many ties, broken by name), spread over 2025.
  for (int k = 0; k < kModels; ++k) {
    const int count = 1 + (k * 37) % 23;
    for (int n = 0; n < count; ++n) {
      const int day = static_cast<int>(rng() % 365);
      const std::string user = "user-" + std::to_string(rng() % kUsers);
      ds.messages.push_back({day, k});
      ds.lines.push_back(
          Line("m-" + std::to_string(id++), "chat.message_sent",
               {{"userId", user},
                {"timestamp", DayMs(day) + static_cast<std::int64_t>(rng() % 86'000'000)},
                {"conversationId", "conv-" + user},
                {"provider", "provider-" + std::to_string(k % 7)},
                {"model", ModelName(k)},
                {"tokens", 100 + n}}));
    }
  }
  return ds;
}

std::string PostAll(loadgen::HttpClient& client, const std::vector<std::string>& lines) {
  constexpr std::size_t kBatch = 5000;
  for (std::size_t i = 0; i < lines.size(); i += kBatch) {
    std::string body;
    for (std::size_t j = i; j < std::min(lines.size(), i + kBatch); ++j) body += lines[j] + "\n";
    const auto reply = client.Send("POST", "/api/events", body, "application/x-ndjson");
    if (!reply) return "POST /api/events: no answer";
    if (reply->status != 200) {
      return "POST /api/events: " + std::to_string(reply->status) + " " +
             reply->body.substr(0, 500);
    }
    if (json::parse(reply->body).at("rejected").as_int64() != 0) {
      return "events rejected: " + reply->body.substr(0, 1000);
    }
  }
  return {};
}

/// Waits until the query rollup has built every closed slot, so that memory is measured with it
/// in place (it grows while it builds).
std::string WaitForRollup(loadgen::HttpClient& client) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto metrics = client.Send("GET", "/metrics")) {
      last = metrics->body;
      if (last.find("analytics_rollup_slots{state=\"pending\"} 0\n") != std::string::npos &&
          last.find("analytics_rollup_slots{state=\"built\"} 0\n") == std::string::npos &&
          last.find("analytics_rollup_slots{state=\"built\"}") != std::string::npos) {
        return "";
      }
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return "the query rollup did not finish building; /metrics:\n" + last.substr(0, 2000);
}

/// VmRSS of `pid` in bytes (-1 when it cannot be read).
std::int64_t ResidentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

std::string Mib(std::int64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

class AnswerLimitsE2e : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = FreshDir("answer-limits");
    service_ = std::make_unique<ServiceProcess>(
        dir_, std::map<std::string, std::string>{{"QUERY_CACHE", "on"},
                                                 {"QUERY_CACHE_TTL_SECONDS", "300"}});
    if (!service_->Start()) {
      setup_error_ = "the service did not start:\n" + service_->Log();
      return;
    }
    data_ = std::make_unique<DataSet>(Generate());
    setup_error_ = PostAll(service_->client(), data_->lines);
    if (setup_error_.empty()) setup_error_ = WaitForRollup(service_->client());
  }
  static void TearDownTestSuite() {
    service_.reset();
    data_.reset();
    std::filesystem::remove_all(dir_);
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }
  void TearDown() override {
    if (HasFailure() && service_) {
      const auto log = service_->Log();
      std::cerr << "---- service log (tail) ----\n"
                << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
    }
  }

  static json::value Get200(loadgen::HttpClient& client, const std::string& target) {
    const auto reply = client.Send("GET", target);
    EXPECT_TRUE(reply) << target;
    if (!reply) return {};
    EXPECT_EQ(reply->status, 200) << target << "\n" << reply->body.substr(0, 1000);
    if (reply->status != 200) return {};
    return json::parse(reply->body);
  }

  static inline std::filesystem::path dir_;
  static inline std::unique_ptr<ServiceProcess> service_;
  static inline std::unique_ptr<DataSet> data_;
  static inline std::string setup_error_;
};

const std::string kYear = "startDate=2025-01-01&endDate=2025-12-31";
// 446 days: 446 x 447 / 2 = 99,681 retention cells, the most under 100,000.
const std::string kLargestRetention =
    "/api/analytics/users/retention?startDate=2024-10-01&endDate=2025-12-20&granularity=day";
// 1,960 hours x 51 groups = 99,960 cells.
const std::string kLargestGroupedSeries =
    "/api/analytics/chat/tokens?startDate=2025-03-01T00:00:00Z&endDate=2025-05-21T16:00:00Z"
    "&granularity=hour&groupBy=model";

TEST_F(AnswerLimitsE2e, AnHourlyGroupedYearIsRefusedNamingTheLimit) {
  const auto reply = service_->client().Send(
      "GET", "/api/analytics/chat/messages?" + kYear + "&granularity=hour&groupBy=model");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 400) << reply->body.substr(0, 1000);
  const auto error = json::parse(reply->body).at("error");
  EXPECT_EQ(error.at("code").as_string(), "invalid_argument");
  EXPECT_EQ(error.at("field").as_string(), "granularity");
  const std::string message(error.at("message").as_string());
  EXPECT_NE(message.find("100000"), std::string::npos) << message;        // the limit
  EXPECT_NE(message.find("446760 cells"), std::string::npos) << message;  // 8,760 x 51
  EXPECT_NE(message.find("coarser granularity"), std::string::npos) << message;
  // One cell more than allowed is refused too: 1,961 hours x 51 = 100,011.
  const auto over = service_->client().Send(
      "GET",
      "/api/analytics/chat/tokens?startDate=2025-03-01T00:00:00Z&endDate=2025-05-21T17:00:00Z"
      "&granularity=hour&groupBy=model");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 400) << over->body.substr(0, 500);
}

TEST_F(AnswerLimitsE2e, ADailyGroupedYearKeepsTheLargestModelsAndOtherAddsUpExactly) {
  const auto body =
      Get200(service_->client(), "/api/analytics/chat/messages?" + kYear + "&groupBy=model");
  ASSERT_TRUE(body.is_object());
  // Expected from the events sent: messages per model over the year, per day, and the 50 largest
  // models (ties by name).
  std::map<std::string, std::uint64_t> per_model;
  std::map<int, std::uint64_t> per_day;
  std::map<std::pair<int, std::string>, std::uint64_t> per_day_model;
  for (const auto& m : data_->messages) {
    ++per_model[ModelName(m.model)];
    ++per_day[m.day];
    ++per_day_model[{m.day, ModelName(m.model)}];
  }
  std::vector<std::pair<std::string, std::uint64_t>> ranked(per_model.begin(), per_model.end());
  std::ranges::stable_sort(ranked,
                           [](const auto& a, const auto& b) { return a.second > b.second; });
  std::set<std::string> top;
  for (std::size_t i = 0; i < kMaxGroups; ++i) top.insert(ranked[i].first);

  const auto& rows = body.at("data").as_array();
  ASSERT_EQ(rows.size(), 365 * (kMaxGroups + 1));
  std::map<std::string, std::vector<std::string>> models_by_bucket;
  std::map<std::string, std::uint64_t> sum_by_bucket;
  std::uint64_t all = 0;
  for (const auto& row : rows) {
    const std::string bucket(row.at("bucket").as_string());
    const std::string model(row.at("model").as_string());
    const auto messages = static_cast<std::uint64_t>(row.at("messages").as_int64());
    models_by_bucket[bucket].push_back(model);
    sum_by_bucket[bucket] += messages;
    all += messages;
    if (model != "(other)") {
      EXPECT_TRUE(top.contains(model)) << model << " is not among the 50 largest";
      const int day = static_cast<int>(models_by_bucket.size()) - 1;
      const auto it = per_day_model.find({day, model});
      EXPECT_EQ(messages, it == per_day_model.end() ? 0 : it->second) << bucket << " " << model;
    }
  }
  ASSERT_EQ(models_by_bucket.size(), 365u);
  int day = 0;
  for (const auto& [bucket, models] : models_by_bucket) {
    EXPECT_EQ(models.size(), kMaxGroups + 1) << bucket;
    EXPECT_EQ(models.back(), "(other)") << bucket;
    EXPECT_EQ(sum_by_bucket[bucket], per_day[day]) << bucket;  // kept + "(other)" = all sent
    ++day;
  }
  EXPECT_EQ(all, data_->messages.size());
  EXPECT_EQ(body.at("summary").at("messages").as_int64(),
            static_cast<std::int64_t>(data_->messages.size()));
}

TEST_F(AnswerLimitsE2e, TheLargestAllowedRetentionAnswers) {
  const auto body = Get200(service_->client(), kLargestRetention);
  ASSERT_TRUE(body.is_object());
  const auto& cohorts = body.at("data").as_array();
  ASSERT_EQ(cohorts.size(), data_->signups_by_day.size());
  std::size_t cells = 0;
  std::size_t i = 0;
  for (const auto& [day, signups] : data_->signups_by_day) {
    const auto& c = cohorts[i++];
    EXPECT_EQ(c.at("users").as_int64(), static_cast<std::int64_t>(signups));
    const auto& periods = c.at("periods").as_array();
    EXPECT_EQ(periods.size(), static_cast<std::size_t>(446 - day));
    cells += periods.size();
  }
  EXPECT_LE(cells, kMaxCells);
  const auto over = service_->client().Send(
      "GET",
      "/api/analytics/users/retention?startDate=2024-10-01&endDate=2025-12-21&granularity=day");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 400) << over->body.substr(0, 500);
  EXPECT_NE(over->body.find("100128 cells"), std::string::npos) << over->body;
}

TEST_F(AnswerLimitsE2e, ResidentMemoryComesBackAfterABurstOfTheLargestAnswers) {
  const pid_t pid = service_->pid();
  ASSERT_GT(pid, 0);
  // The largest allowed answers of several shapes; `variant` shifts a range by whole days so a
  // request is not a cache hit (the mid-sized ones fill the cache to its bound).
  const auto targets = [](int variant) {
    const std::string shift = std::to_string(1 + variant % 20);
    const std::string day = shift.size() == 1 ? "0" + shift : shift;
    return std::vector<std::string>{
        kLargestRetention,
        kLargestGroupedSeries,
        "/api/analytics/chat/messages?startDate=2025-06-01T00:00:00Z&endDate=2025-08-21T16:00:00Z"
        "&granularity=hour&groupBy=model",
        "/api/analytics/providers/usage?startDate=2025-01-01T00:00:00Z"
        "&endDate=2025-03-23T16:00:00Z&granularity=hour&groupBy=bucket",
        "/api/analytics/users/active?startDate=2024-10-01T00:00:00Z"
        "&endDate=2025-11-21T16:00:00Z&granularity=hour",
        "/api/analytics/chat/messages?startDate=2025-01-" + day +
            "&endDate=2025-12-31&groupBy=model",
        "/api/analytics/users/retention?startDate=2025-01-" + day +
            "&endDate=2025-12-31&granularity=day",
        // Small enough to be cached (about 2 and 3.5 MB each by the cache's estimate).
        "/api/analytics/chat/messages?startDate=2025-01-" + day +
            "&endDate=2025-12-31&granularity=week&groupBy=model",
        "/api/analytics/chat/tokens?startDate=2025-01-" + day +
            "&endDate=2025-12-31&granularity=week&groupBy=model",
    };
  };
  // Measured before any of these answers was built, so that memory a first round kept would
  // count against the bound rather than hide in the starting point.
  const std::int64_t before = ResidentBytes(pid);
  ASSERT_GT(before, 0);

  std::atomic<std::int64_t> peak{before};
  std::atomic<bool> bursting{true};
  std::thread sampler([&] {
    while (bursting) {
      peak = std::max(peak.load(), ResidentBytes(pid));
      std::this_thread::sleep_for(milliseconds(20));
    }
  });
  constexpr int kClients = 4, kRounds = 3;
  const auto started = std::chrono::steady_clock::now();
  std::atomic<int> answered{0}, failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto client = service_->NewClient();
      for (int round = 0; round < kRounds; ++round) {
        for (const auto& t : targets(1 + c * kRounds + round)) {
          const auto reply = client->Send("GET", t);
          (reply && reply->status == 200 ? answered : failed)++;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  bursting = false;
  sampler.join();
  const auto per_round = static_cast<int>(targets(0).size());
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(answered.load(), kClients * kRounds * per_round);

  // The cache was in play: the last client's last weekly answer is still held.
  const auto last = targets(kClients * kRounds);
  const auto again = Get200(service_->client(), last[last.size() - 2]);
  ASSERT_TRUE(again.is_object());
  EXPECT_TRUE(again.at("meta").at("cached").as_bool());

  // Wait for the state, not for a time: resident memory back within the bound.
  std::int64_t after = ResidentBytes(pid);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (after > before + kMemoryBoundBytes && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
    after = ResidentBytes(pid);
  }
  std::cout << "resident memory: before " << Mib(before) << ", peak " << Mib(peak.load())
            << ", after " << Mib(after) << " (" << answered.load() << " answers from " << kClients
            << " clients in " << took.count() << " s)\n";
  EXPECT_LE(after, before + kMemoryBoundBytes)
      << "before " << Mib(before) << ", peak " << Mib(peak.load()) << ", after " << Mib(after);
  EXPECT_TRUE(service_->Running());
}

}  // namespace
}  // namespace e2e
