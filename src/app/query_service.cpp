#include "app/query_service.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "app/revenue_model.hpp"

namespace app {
namespace {

using domain::Value;

Bucketing BucketsOf(const domain::AnalyticsQuery& q) { return {q.granularity, &q.tz}; }
Bucketing NoBuckets() { return {}; }

std::int64_t Ms(base::TimePoint t) { return t.time_since_epoch().count(); }

// Index of the bucket holding the instant `ms` (storage labels rows with the bucket start).
std::size_t BucketIndex(const domain::AnalyticsQuery& q, std::int64_t ms) {
  const auto it = std::ranges::upper_bound(q.buckets, ms, {}, [](base::TimePoint t) { return Ms(t); });
  return it == q.buckets.begin() ? 0 : static_cast<std::size_t>(it - q.buckets.begin() - 1);
}

Value Label(const domain::AnalyticsQuery& q, std::size_t i) {
  return Value::String(q.tz.Format(q.buckets[i]));
}

Value Ratio(double numerator, double denominator) {
  return denominator == 0 ? Value::Null() : Value::Double(numerator / denominator);
}

Value Count(std::uint64_t n) { return Value::Int(static_cast<std::int64_t>(n)); }

// Amount units (10^-4) rounded to cents, half away from zero.
double AmountToMoney(Units u) { return static_cast<double>(domain::DivideRounded(u, 100)) / 100.0; }

// Cost units (10^-15 USD) rounded to 10^-6, half away from zero.
double CostToUsd(Units u) { return static_cast<double>(domain::DivideRounded(u, 1'000'000'000)) / 1e6; }

// Sorts object rows by the first measure (a number) descending, then by the name fields.
void SortByMeasure(std::vector<Value>& rows, std::string_view measure,
                   std::vector<std::string_view> names) {
  const auto number = [&](const Value& row) {
    const auto* v = row.Find(measure);
    return v == nullptr ? 0.0 : (v->kind == Value::Kind::kInt ? static_cast<double>(v->i) : v->d);
  };
  std::ranges::stable_sort(rows, [&](const Value& a, const Value& b) {
    const double x = number(a), y = number(b);
    if (x != y) return x > y;
    for (const auto name : names) {
      const auto& sa = a.Find(name)->s;
      const auto& sb = b.Find(name)->s;
      if (sa != sb) return sa < sb;
    }
    return false;
  });
}

domain::MetricResult FromRows(std::vector<Value> rows) {
  domain::MetricResult r;
  r.data.items = std::move(rows);
  return r;
}

}  // namespace

base::Result<QueryService::Answer> QueryService::Run(const domain::AnalyticsQuery& query) {
  const auto key = query.Key();
  if (auto hit = cache_.Get(key)) return Answer{std::move(*hit), true};
  TRY_ASSIGN(result, Compute(query));
  cache_.Put(key, *result);
  return Answer{std::move(*result), false};
}

base::Result<domain::MetricResult> QueryService::Compute(const domain::AnalyticsQuery& q) {
  using M = domain::Metric;
  switch (q.metric) {
    case M::kUsersCount: return UsersCount(q);
    case M::kUsersGrowth: return UsersGrowth(q);
    case M::kUsersByPlan: return UsersByPlan(q);
    case M::kUsersActive: return UsersActive(q);
    case M::kUsersRetention: return UsersRetention(q);
    case M::kChatMessages: return ChatMessages(q);
    case M::kChatConversations: return ChatConversations(q);
    case M::kChatByProvider: return ChatByProvider(q);
    case M::kChatTokens: return ChatTokens(q);
    case M::kChatAverageSession: return ChatAverageSession(q);
    case M::kRevenueTotal: return RevenueTotal(q, false);
    case M::kRevenueByPlan: return RevenueTotal(q, true);
    case M::kRevenueMrr:
    case M::kRevenueArr:
    case M::kRevenueChurnRate: return RevenueMrr(q, q.metric);
    case M::kProvidersUsage: return ProvidersUsage(q);
    case M::kProvidersCosts: return ProvidersCosts(q);
    case M::kProvidersPopularity: return ProvidersPopularity(q);
    case M::kProvidersPerformance: return ProvidersPerformance(q);
  }
  return base::Fail(base::Error::Internal("unknown metric"));
}

QueryService::R QueryService::UsersCount(const Q& q) {
  TRY_ASSIGN(totals, store_.Signups(q.range));
  Value row = Value::Object();
  row.Set("totalUsers", Count(totals->total_before_end)).Set("newUsers", Count(totals->new_in_range));
  return FromRows({std::move(row)});
}

QueryService::R QueryService::UsersGrowth(const Q& q) {
  TRY_ASSIGN(counts, store_.SignupsByBucket(q.range, BucketsOf(q)));
  std::uint64_t before = 0;
  std::vector<std::uint64_t> added(q.buckets.size(), 0);
  for (const auto& c : *counts) {
    if (c.bucket_ms == 0) {
      before += c.count;
    } else {
      added[BucketIndex(q, c.bucket_ms)] += c.count;
    }
  }
  std::vector<Value> rows;
  std::uint64_t total = before;
  for (std::size_t i = 0; i < q.buckets.size(); ++i) {
    total += added[i];
    Value row = Value::Object();
    row.Set("bucket", Label(q, i)).Set("newUsers", Count(added[i])).Set("totalUsers", Count(total));
    rows.push_back(std::move(row));
  }
  return FromRows(std::move(rows));
}

QueryService::R QueryService::UsersByPlan(const Q& q) {
  TRY_ASSIGN(plans, store_.PlansAt(q.range.end));
  std::vector<Value> rows;
  for (const auto& p : *plans) {
    Value row = Value::Object();
    row.Set("plan", Value::String(p.name)).Set("users", Count(p.count));
    rows.push_back(std::move(row));
  }
  SortByMeasure(rows, "users", {"plan"});
  return FromRows(std::move(rows));
}

QueryService::R QueryService::UsersActive(const Q& q) {
  TRY_ASSIGN(counts, store_.ActiveUsers(q.range, BucketsOf(q)));
  std::vector<std::uint64_t> active(q.buckets.size(), 0);
  for (const auto& c : *counts) active[BucketIndex(q, c.bucket_ms)] += c.count;
  std::vector<Value> rows;
  for (std::size_t i = 0; i < q.buckets.size(); ++i) {
    Value row = Value::Object();
    row.Set("bucket", Label(q, i)).Set("activeUsers", Count(active[i]));
    rows.push_back(std::move(row));
  }
  // The last calendar day in tz is the one holding the last instant of the range.
  const auto last = q.range.end - std::chrono::milliseconds{1};
  TRY_ASSIGN(windows, store_.ActiveUsersSince(q.tz.DayStart(last), q.tz.DayStart(last, -6),
                                              q.tz.DayStart(last, -29), q.range.end));
  auto result = FromRows(std::move(rows));
  Value summary = Value::Object();
  summary.Set("dau", Count(windows->day))
      .Set("wau", Count(windows->week))
      .Set("mau", Count(windows->month))
      .Set("stickiness", Ratio(static_cast<double>(windows->day), static_cast<double>(windows->month)));
  result.summary = std::move(summary);
  return result;
}

QueryService::R QueryService::UsersRetention(const Q& q) {
  TRY_ASSIGN(counts, store_.Retention(q.range, BucketsOf(q)));
  const std::size_t n = q.buckets.size();
  std::map<std::size_t, std::uint64_t> sizes;
  for (const auto& c : counts->cohort_sizes) sizes[BucketIndex(q, c.bucket_ms)] += c.count;
  std::map<std::pair<std::size_t, std::size_t>, std::uint64_t> active;
  for (const auto& cell : counts->active) {
    active[{BucketIndex(q, cell.cohort_ms), BucketIndex(q, cell.bucket_ms)}] += cell.users;
  }
  std::vector<Value> rows;
  for (const auto& [cohort, size] : sizes) {
    Value periods = Value::List();
    for (std::size_t b = cohort; b < n; ++b) {
      const auto it = active.find({cohort, b});
      const std::uint64_t users = it == active.end() ? 0 : it->second;
      Value p = Value::Object();
      p.Set("period", Count(b - cohort))
          .Set("activeUsers", Count(users))
          .Set("rate", Ratio(static_cast<double>(users), static_cast<double>(size)));
      periods.Push(std::move(p));
    }
    Value row = Value::Object();
    row.Set("cohort", Label(q, cohort)).Set("users", Count(size)).Set("periods", std::move(periods));
    rows.push_back(std::move(row));
  }
  return FromRows(std::move(rows));
}

namespace {

// Dense time series over every bucket x every group value present, ordered by bucket then
// value. `emit(row, totals_or_null)` appends the measures.
template <typename Emit>
std::vector<Value> DenseSeries(const domain::AnalyticsQuery& q,
                               const std::vector<MessageTotals>& totals,
                               std::string_view group_field,
                               const std::function<const std::string&(const MessageTotals&)>& group,
                               Emit emit) {
  std::set<std::string> values;
  std::map<std::pair<std::size_t, std::string>, MessageTotals> cells;
  for (const auto& t : totals) {
    const std::string key = group_field.empty() ? std::string() : group(t);
    values.insert(key);
    auto& cell = cells[{BucketIndex(q, t.bucket_ms), key}];
    cell.messages += t.messages;
    cell.tokens += t.tokens;
    cell.input_tokens += t.input_tokens;
    cell.output_tokens += t.output_tokens;
  }
  if (group_field.empty()) values = {std::string()};
  std::vector<Value> rows;
  for (std::size_t i = 0; i < q.buckets.size(); ++i) {
    for (const auto& v : values) {
      Value row = Value::Object();
      row.Set("bucket", Label(q, i));
      if (!group_field.empty()) row.Set(std::string(group_field), Value::String(v));
      const auto it = cells.find({i, v});
      static const MessageTotals kZero;
      emit(row, it == cells.end() ? kZero : it->second);
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

const std::string& ProviderOf(const MessageTotals& t) { return t.provider; }
const std::string& ModelOf(const MessageTotals& t) { return t.model; }

MessageGrouping GroupingFor(const domain::AnalyticsQuery& q, bool buckets) {
  MessageGrouping g;
  if (buckets) g.bucketing = BucketsOf(q);
  g.by_provider = q.group_by == "provider";
  g.by_model = q.group_by == "model";
  return g;
}

}  // namespace

QueryService::R QueryService::ChatMessages(const Q& q) {
  TRY_ASSIGN(totals, store_.Messages(q.range, GroupingFor(q, true)));
  std::uint64_t all = 0;
  for (const auto& t : *totals) all += t.messages;
  auto rows = DenseSeries(q, *totals, q.group_by,
                          q.group_by == "model" ? ModelOf : ProviderOf,
                          [](Value& row, const MessageTotals& t) { row.Set("messages", Count(t.messages)); });
  auto result = FromRows(std::move(rows));
  Value summary = Value::Object();
  summary.Set("messages", Count(all));
  result.summary = std::move(summary);
  return result;
}

QueryService::R QueryService::ChatTokens(const Q& q) {
  TRY_ASSIGN(totals, store_.Messages(q.range, GroupingFor(q, true)));
  auto rows = DenseSeries(q, *totals, q.group_by, q.group_by == "model" ? ModelOf : ProviderOf,
                          [](Value& row, const MessageTotals& t) {
                            row.Set("tokens", Count(t.tokens))
                                .Set("inputTokens", Count(t.input_tokens))
                                .Set("outputTokens", Count(t.output_tokens))
                                .Set("messages", Count(t.messages))
                                .Set("avgTokensPerMessage",
                                     Ratio(static_cast<double>(t.tokens),
                                           static_cast<double>(t.messages)));
                          });
  return FromRows(std::move(rows));
}

QueryService::R QueryService::ChatConversations(const Q& q) {
  TRY_ASSIGN(counts, store_.Conversations(q.range, BucketsOf(q)));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> cells(q.buckets.size());
  std::uint64_t created = 0, deleted = 0;
  for (const auto& c : *counts) {
    auto& cell = cells[BucketIndex(q, c.bucket_ms)];
    cell.first += c.created;
    cell.second += c.deleted;
    created += c.created;
    deleted += c.deleted;
  }
  std::vector<Value> rows;
  for (std::size_t i = 0; i < q.buckets.size(); ++i) {
    Value row = Value::Object();
    row.Set("bucket", Label(q, i)).Set("created", Count(cells[i].first)).Set("deleted", Count(cells[i].second));
    rows.push_back(std::move(row));
  }
  auto result = FromRows(std::move(rows));
  Value summary = Value::Object();
  summary.Set("created", Count(created)).Set("deleted", Count(deleted));
  result.summary = std::move(summary);
  return result;
}

QueryService::R QueryService::ChatByProvider(const Q& q) {
  MessageGrouping g;
  g.by_provider = true;
  g.by_model = q.group_by == "model";
  g.distinct_users = true;
  TRY_ASSIGN(totals, store_.Messages(q.range, g));
  std::uint64_t all = 0;
  for (const auto& t : *totals) all += t.messages;
  std::vector<Value> rows;
  for (const auto& t : *totals) {
    Value row = Value::Object();
    row.Set("provider", Value::String(t.provider));
    if (g.by_model) row.Set("model", Value::String(t.model));
    row.Set("messages", Count(t.messages))
        .Set("tokens", Count(t.tokens))
        .Set("users", Count(t.users))
        .Set("share", Ratio(static_cast<double>(t.messages), static_cast<double>(all)));
    rows.push_back(std::move(row));
  }
  SortByMeasure(rows, "messages", g.by_model ? std::vector<std::string_view>{"provider", "model"}
                                             : std::vector<std::string_view>{"provider"});
  return FromRows(std::move(rows));
}

QueryService::R QueryService::ChatAverageSession(const Q& q) {
  TRY_ASSIGN(stats, store_.Sessions(q.range, BucketsOf(q), options_.session_gap));
  std::vector<SessionStats> cells(q.buckets.size());
  SessionStats total;
  for (const auto& s : *stats) {
    if (!s.bucket_ms) {
      total = s;
    } else {
      cells[BucketIndex(q, *s.bucket_ms)] = s;
    }
  }
  const auto fill = [](Value& row, const SessionStats& s) {
    row.Set("sessions", Count(s.sessions))
        .Set("avgDurationSeconds",
             Ratio(static_cast<double>(s.total_duration_ms) / 1000.0, static_cast<double>(s.sessions)))
        .Set("medianDurationSeconds",
             s.sessions == 0 ? Value::Null() : Value::Double(s.median_duration_ms / 1000.0));
  };
  std::vector<Value> rows;
  for (std::size_t i = 0; i < q.buckets.size(); ++i) {
    Value row = Value::Object();
    row.Set("bucket", Label(q, i));
    fill(row, cells[i]);
    rows.push_back(std::move(row));
  }
  auto result = FromRows(std::move(rows));
  Value summary = Value::Object();
  fill(summary, total);
  result.summary = std::move(summary);
  return result;
}

QueryService::R QueryService::RevenueTotal(const Q& q, bool by_plan) {
  TRY_ASSIGN(payments, store_.Payments(q.range, by_plan));
  auto sorted = *payments;
  std::ranges::sort(sorted, [](const PaymentTotals& a, const PaymentTotals& b) {
    if (a.amount != b.amount) return a.amount > b.amount;
    return std::tie(a.plan, a.currency) < std::tie(b.plan, b.currency);
  });
  std::vector<Value> rows;
  for (const auto& p : sorted) {
    Value row = Value::Object();
    if (by_plan) row.Set("plan", Value::String(p.plan));
    row.Set("currency", Value::String(p.currency))
        .Set("revenue", Value::Double(AmountToMoney(p.amount)))
        .Set("payments", Count(p.payments));
    rows.push_back(std::move(row));
  }
  auto result = FromRows(std::move(rows));
  if (!by_plan) {
    TRY_ASSIGN(outcomes, store_.PaymentOutcomes(q.range));
    Value summary = Value::Object();
    summary.Set("payments", Count(outcomes->succeeded)).Set("failedPayments", Count(outcomes->failed));
    result.summary = std::move(summary);
  }
  return result;
}

QueryService::R QueryService::RevenueMrr(const Q& q, domain::Metric metric) {
  TRY_ASSIGN(history, store_.BillingHistory(q.range.end));
  // B0 is the range start; B(k+1) the end of bucket k, cut at the range end.
  std::vector<std::int64_t> boundaries{Ms(q.range.start)};
  for (std::size_t i = 1; i < q.buckets.size(); ++i) boundaries.push_back(Ms(q.buckets[i]));
  boundaries.push_back(Ms(q.range.end));
  const auto timeline = ReplayRevenue(*history, plans_, boundaries);
  const auto money = [](Units u) { return Value::Double(MrrToMoney(u)); };
  const auto rate = [](Units numerator, Units start) {
    return start == 0 ? Value::Null()
                      : Value::Double(static_cast<double>(numerator) / static_cast<double>(start));
  };
  std::vector<Value> rows;
  for (std::size_t k = 0; k < q.buckets.size(); ++k) {
    if (metric == domain::Metric::kRevenueChurnRate) {
      Value row = Value::Object();
      row.Set("bucket", Label(q, k))
          .Set("customersAtStart", Count(timeline.subscribed_at_start[k]))
          .Set("churnedCustomers", Count(timeline.churned_customers[k]))
          .Set("customerChurnRate", Ratio(static_cast<double>(timeline.churned_customers[k]),
                                          static_cast<double>(timeline.subscribed_at_start[k])));
      Value by_currency = Value::Object();
      for (std::size_t c = 0; c < timeline.currencies.size(); ++c) {
        const auto& s = timeline.steps[k][c];
        Value m = Value::Object();
        m.Set("startMrr", money(s.start))
            .Set("churnedMrr", money(s.churned))
            .Set("contractionMrr", money(s.contraction))
            .Set("expansionMrr", money(s.expansion))
            .Set("reactivationMrr", money(s.reactivation))
            .Set("grossMrrChurnRate", rate(s.churned + s.contraction, s.start))
            .Set("netMrrChurnRate",
                 rate(s.churned + s.contraction - s.expansion - s.reactivation, s.start));
        by_currency.Set(timeline.currencies[c], std::move(m));
      }
      row.Set("mrr", std::move(by_currency));
      rows.push_back(std::move(row));
      continue;
    }
    for (std::size_t c = 0; c < timeline.currencies.size(); ++c) {
      const auto& s = timeline.steps[k][c];
      Value row = Value::Object();
      row.Set("bucket", Label(q, k)).Set("currency", Value::String(timeline.currencies[c]));
      if (metric == domain::Metric::kRevenueArr) {
        row.Set("arr", money(s.end * 12));
      } else {
        row.Set("mrr", money(s.end))
            .Set("newMrr", money(s.new_mrr))
            .Set("expansionMrr", money(s.expansion))
            .Set("contractionMrr", money(s.contraction))
            .Set("churnedMrr", money(s.churned))
            .Set("reactivationMrr", money(s.reactivation));
      }
      rows.push_back(std::move(row));
    }
  }
  return FromRows(std::move(rows));
}

QueryService::R QueryService::ProvidersUsage(const Q& q) {
  MessageGrouping g;
  const bool by_bucket = q.group_by == "bucket";
  if (by_bucket) g.bucketing = BucketsOf(q);
  g.by_provider = true;
  g.by_model = q.group_by == "model";
  g.distinct_users = true;
  g.distinct_conversations = true;
  TRY_ASSIGN(totals, store_.Messages(q.range, g));
  const auto fill = [](Value& row, const MessageTotals& t) {
    row.Set("messages", Count(t.messages))
        .Set("tokens", Count(t.tokens))
        .Set("inputTokens", Count(t.input_tokens))
        .Set("outputTokens", Count(t.output_tokens))
        .Set("users", Count(t.users))
        .Set("conversations", Count(t.conversations));
  };
  std::vector<Value> rows;
  if (by_bucket) {
    std::set<std::string> providers;
    std::map<std::pair<std::size_t, std::string>, MessageTotals> cells;
    for (const auto& t : *totals) {
      providers.insert(t.provider);
      auto& cell = cells[{BucketIndex(q, t.bucket_ms), t.provider}];
      cell.messages += t.messages;
      cell.tokens += t.tokens;
      cell.input_tokens += t.input_tokens;
      cell.output_tokens += t.output_tokens;
      cell.users += t.users;  // one storage row per (bucket, provider): nothing to merge
      cell.conversations += t.conversations;
    }
    static const MessageTotals kZero;
    for (std::size_t i = 0; i < q.buckets.size(); ++i) {
      for (const auto& p : providers) {
        Value row = Value::Object();
        row.Set("bucket", Label(q, i)).Set("provider", Value::String(p));
        const auto it = cells.find({i, p});
        fill(row, it == cells.end() ? kZero : it->second);
        rows.push_back(std::move(row));
      }
    }
    return FromRows(std::move(rows));
  }
  for (const auto& t : *totals) {
    Value row = Value::Object();
    row.Set("provider", Value::String(t.provider));
    if (g.by_model) row.Set("model", Value::String(t.model));
    fill(row, t);
    rows.push_back(std::move(row));
  }
  SortByMeasure(rows, "messages", g.by_model ? std::vector<std::string_view>{"provider", "model"}
                                             : std::vector<std::string_view>{"provider"});
  return FromRows(std::move(rows));
}

QueryService::R QueryService::ProvidersCosts(const Q& q) {
  const bool by_bucket = q.group_by == "bucket";
  const bool by_model = q.group_by == "model";
  const auto breakpoints = prices_.Breakpoints();
  TRY_ASSIGN(groups, store_.CostGroups(q.range, by_bucket ? BucketsOf(q) : NoBuckets(), breakpoints));
  struct Cell {
    Units cost = 0;  // 10^-15 USD
    std::uint64_t messages = 0, unpriced = 0;
  };
  using Key = std::tuple<std::size_t, std::string, std::string>;
  std::map<Key, Cell> cells;
  std::set<std::string> providers;
  for (const auto& g : *groups) {
    const Key key{by_bucket ? BucketIndex(q, g.bucket_ms) : 0, g.provider, by_model ? g.model : ""};
    auto& cell = cells[key];
    providers.insert(g.provider);
    cell.messages += g.messages;
    if (g.has_cost) {
      cell.cost += g.cost * 1'000'000;  // 10^-9 -> 10^-15
      continue;
    }
    const domain::ModelPrice* price =
        g.epoch == 0 ? nullptr
                     : prices_.At(g.provider, g.model, base::TimePoint{std::chrono::milliseconds{breakpoints[g.epoch - 1]}});
    // Prices are 10^-9 USD per 1M tokens, so tokens x price is in 10^-15 USD.
    if (price != nullptr && g.has_split && price->input_per_million) {
      cell.cost += Units(g.input_tokens) * *price->input_per_million +
                   Units(g.output_tokens) * *price->output_per_million;
    } else if (price != nullptr && price->blended_per_million) {
      cell.cost += Units(g.tokens) * *price->blended_per_million;
    } else {
      cell.unpriced += g.messages;
    }
  }
  const auto fill = [](Value& row, const Cell& c) {
    row.Set("costUsd", Value::Double(CostToUsd(c.cost)))
        .Set("messages", Count(c.messages))
        .Set("unpricedMessages", Count(c.unpriced));
  };
  std::vector<Value> rows;
  if (by_bucket) {
    for (std::size_t i = 0; i < q.buckets.size(); ++i) {
      for (const auto& p : providers) {
        Value row = Value::Object();
        row.Set("bucket", Label(q, i)).Set("provider", Value::String(p));
        const auto it = cells.find({i, p, ""});
        fill(row, it == cells.end() ? Cell{} : it->second);
        rows.push_back(std::move(row));
      }
    }
    return FromRows(std::move(rows));
  }
  for (const auto& [key, cell] : cells) {
    Value row = Value::Object();
    row.Set("provider", Value::String(std::get<1>(key)));
    if (by_model) row.Set("model", Value::String(std::get<2>(key)));
    fill(row, cell);
    rows.push_back(std::move(row));
  }
  SortByMeasure(rows, "costUsd", by_model ? std::vector<std::string_view>{"provider", "model"}
                                          : std::vector<std::string_view>{"provider"});
  return FromRows(std::move(rows));
}

QueryService::R QueryService::ProvidersPopularity(const Q& q) {
  TRY_ASSIGN(models, store_.ModelUsage(q.range));
  auto sorted = *models;
  std::ranges::sort(sorted, [](const ModelCount& a, const ModelCount& b) {
    if (a.messages != b.messages) return a.messages > b.messages;
    return std::tie(a.provider, a.model) < std::tie(b.provider, b.model);
  });
  std::uint64_t all = 0;
  for (const auto& m : sorted) all += m.messages;
  const auto share = [&](std::uint64_t n) {
    return Ratio(static_cast<double>(n), static_cast<double>(all));
  };
  std::vector<Value> rows;
  const std::size_t top = std::min<std::size_t>(sorted.size(), static_cast<std::size_t>(q.limit));
  std::vector<std::pair<std::string, std::string>> shown;
  for (std::size_t i = 0; i < top; ++i) {
    const auto& m = sorted[i];
    shown.emplace_back(m.provider, m.model);
    Value row = Value::Object();
    row.Set("rank", Count(i + 1))
        .Set("provider", Value::String(m.provider))
        .Set("model", Value::String(m.model))
        .Set("messages", Count(m.messages))
        .Set("users", Count(m.users))
        .Set("share", share(m.messages));
    rows.push_back(std::move(row));
  }
  if (sorted.size() > top) {
    std::uint64_t rest = 0;
    for (std::size_t i = top; i < sorted.size(); ++i) rest += sorted[i].messages;
    TRY_ASSIGN(users, store_.UsersOutside(q.range, shown));
    Value row = Value::Object();
    row.Set("rank", Count(top + 1))
        .Set("provider", Value::String("(other)"))
        .Set("model", Value::String("(other)"))
        .Set("messages", Count(rest))
        .Set("users", Count(*users))
        .Set("share", share(rest));
    rows.push_back(std::move(row));
  }
  return FromRows(std::move(rows));
}

QueryService::R QueryService::ProvidersPerformance(const Q& q) {
  const bool by_model = q.group_by == "model";
  TRY_ASSIGN(stats, store_.Latencies(q.range, by_model));
  std::vector<Value> rows;
  for (const auto& s : *stats) {
    Value row = Value::Object();
    row.Set("provider", Value::String(s.provider));
    if (by_model) row.Set("model", Value::String(s.model));
    row.Set("messages", Count(s.messages))
        .Set("avgLatencyMs", Value::Double(s.avg_ms))
        .Set("p50LatencyMs", Value::Double(s.p50_ms))
        .Set("p95LatencyMs", Value::Double(s.p95_ms))
        .Set("p99LatencyMs", Value::Double(s.p99_ms));
    rows.push_back(std::move(row));
  }
  SortByMeasure(rows, "messages", by_model ? std::vector<std::string_view>{"provider", "model"}
                                           : std::vector<std::string_view>{"provider"});
  return FromRows(std::move(rows));
}

}  // namespace app
