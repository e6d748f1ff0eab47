#include "app/query_service.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <span>
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
  const auto it =
      std::ranges::upper_bound(q.buckets, ms, {}, [](base::TimePoint t) { return Ms(t); });
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
double CostToUsd(Units u) {
  return static_cast<double>(domain::DivideRounded(u, 1'000'000'000)) / 1e6;
}

domain::MetricResult FromRows(std::vector<Value> rows) {
  domain::MetricResult r;
  r.data.items = std::move(rows);
  return r;
}

Value Other() { return Value::String(std::string(domain::kOtherGroup)); }

// The first `max_groups` of `sorted` (already in the answer's order: main measure descending,
// then names), answered as they are; the rest fold into one "(other)" row.
template <typename T>
std::span<const T> KeptPart(const std::vector<T>& sorted, std::size_t max_groups) {
  return std::span<const T>(sorted).first(std::min(sorted.size(), max_groups));
}
template <typename T>
std::span<const T> FoldedPart(const std::vector<T>& sorted, std::size_t max_groups) {
  return std::span<const T>(sorted).subspan(std::min(sorted.size(), max_groups));
}

// The group values of a series: the `max_groups` largest by their measure over the whole range
// (ties: name ascending), listed by name; values left out share the "(other)" column.
struct SeriesGroups {
  std::vector<std::string> kept;  // ascending
  bool folds = false;

  std::size_t width() const { return kept.size() + (folds ? 1 : 0); }
  std::size_t ColumnOf(const std::string& value) const {
    const auto it = std::ranges::lower_bound(kept, value);
    return it != kept.end() && *it == value ? static_cast<std::size_t>(it - kept.begin())
                                            : kept.size();
  }
  Value Label(std::size_t column) const {
    return column < kept.size() ? Value::String(kept[column]) : Other();
  }
};

template <typename Measure>
SeriesGroups ChooseGroups(const std::map<std::string, Measure>& totals, std::size_t max_groups) {
  std::vector<std::pair<Measure, const std::string*>> ranked;
  ranked.reserve(totals.size());
  for (const auto& [name, measure] : totals) ranked.emplace_back(measure, &name);
  // `totals` is in name order, so a stable sort by measure breaks ties by name.
  std::ranges::stable_sort(ranked, [](const auto& a, const auto& b) { return a.first > b.first; });
  SeriesGroups g;
  g.folds = ranked.size() > max_groups;
  for (std::size_t i = 0; i < ranked.size() && i < max_groups; ++i)
    g.kept.push_back(*ranked[i].second);
  std::ranges::sort(g.kept);
  return g;
}

SeriesGroups Ungrouped() { return SeriesGroups{{std::string()}, false}; }

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
    case M::kUsersCount:
      return UsersCount(q);
    case M::kUsersGrowth:
      return UsersGrowth(q);
    case M::kUsersByPlan:
      return UsersByPlan(q);
    case M::kUsersActive:
      return UsersActive(q);
    case M::kUsersRetention:
      return UsersRetention(q);
    case M::kChatMessages:
      return ChatMessages(q);
    case M::kChatConversations:
      return ChatConversations(q);
    case M::kChatByProvider:
      return ChatByProvider(q);
    case M::kChatTokens:
      return ChatTokens(q);
    case M::kChatAverageSession:
      return ChatAverageSession(q);
    case M::kRevenueTotal:
      return RevenueTotal(q, false);
    case M::kRevenueByPlan:
      return RevenueTotal(q, true);
    case M::kRevenueMrr:
    case M::kRevenueArr:
    case M::kRevenueChurnRate:
      return RevenueMrr(q, q.metric);
    case M::kProvidersUsage:
      return ProvidersUsage(q);
    case M::kProvidersCosts:
      return ProvidersCosts(q);
    case M::kProvidersPopularity:
      return ProvidersPopularity(q);
    case M::kProvidersPerformance:
      return ProvidersPerformance(q);
  }
  return base::Fail(base::Error::Internal("unknown metric"));
}

QueryService::R QueryService::UsersCount(const Q& q) {
  TRY_ASSIGN(totals, store_.Signups(q.range));
  Value row = Value::Object();
  row.Set("totalUsers", Count(totals->total_before_end))
      .Set("newUsers", Count(totals->new_in_range));
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
  auto sorted = std::move(*plans);
  std::ranges::sort(sorted, [](const NamedCount& a, const NamedCount& b) {
    return a.count != b.count ? a.count > b.count : a.name < b.name;
  });
  std::vector<Value> rows;
  for (const auto& p : KeptPart(sorted, q.max_groups)) {
    Value row = Value::Object();
    row.Set("plan", Value::String(p.name)).Set("users", Count(p.count));
    rows.push_back(std::move(row));
  }
  if (const auto rest = FoldedPart(sorted, q.max_groups); !rest.empty()) {
    // A user is on one plan at a time, so the folded plans' users add up exactly.
    std::uint64_t users = 0;
    for (const auto& p : rest) users += p.count;
    Value row = Value::Object();
    row.Set("plan", Other()).Set("users", Count(users));
    rows.push_back(std::move(row));
  }
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
      .Set("stickiness",
           Ratio(static_cast<double>(windows->day), static_cast<double>(windows->month)));
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
    row.Set("cohort", Label(q, cohort))
        .Set("users", Count(size))
        .Set("periods", std::move(periods));
    rows.push_back(std::move(row));
  }
  return FromRows(std::move(rows));
}

namespace {

struct MessageCell {
  std::uint64_t messages = 0, tokens = 0, input_tokens = 0, output_tokens = 0;
  void Add(const MessageTotals& t) {
    messages += t.messages;
    tokens += t.tokens;
    input_tokens += t.input_tokens;
    output_tokens += t.output_tokens;
  }
};

// Message totals as a dense series: per bucket, the kept group values by name, then "(other)"
// when values were folded. `measure` ranks the values over the whole range. The cells held are
// the answer's (buckets x kept values), whatever the store returned.
template <typename Emit>
std::vector<Value> MessageSeries(const domain::AnalyticsQuery& q,
                                 const std::vector<MessageTotals>& totals,
                                 std::uint64_t (*measure)(const MessageTotals&), Emit emit) {
  const bool by_model = q.group_by == "model";
  const auto value_of = [&](const MessageTotals& t) -> const std::string& {
    return by_model ? t.model : t.provider;
  };
  SeriesGroups groups = Ungrouped();
  if (!q.group_by.empty()) {
    std::map<std::string, std::uint64_t> ranking;
    for (const auto& t : totals) ranking[value_of(t)] += measure(t);
    groups = ChooseGroups(ranking, q.max_groups);
  }
  const std::size_t width = groups.width();
  std::vector<MessageCell> cells(q.buckets.size() * width);
  for (const auto& t : totals) {
    const std::size_t column = q.group_by.empty() ? 0 : groups.ColumnOf(value_of(t));
    cells[BucketIndex(q, t.bucket_ms) * width + column].Add(t);
  }
  std::vector<Value> rows;
  rows.reserve(cells.size());
  for (std::size_t i = 0; i < q.buckets.size(); ++i) {
    for (std::size_t c = 0; c < width; ++c) {
      Value row = Value::Object();
      row.Set("bucket", Label(q, i));
      if (!q.group_by.empty()) row.Set(q.group_by, groups.Label(c));
      emit(row, cells[i * width + c]);
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::uint64_t MessagesOf(const MessageTotals& t) { return t.messages; }
std::uint64_t TokensOf(const MessageTotals& t) { return t.tokens; }

MessageGrouping GroupingFor(const domain::AnalyticsQuery& q, bool buckets) {
  MessageGrouping g;
  if (buckets) g.bucketing = BucketsOf(q);
  g.by_provider = q.group_by == "provider";
  g.by_model = q.group_by == "model";
  return g;
}

// Rows per provider or (provider, model) without buckets, in the answer's order: messages
// descending, then names.
std::vector<MessageTotals> ByMessages(std::vector<MessageTotals> totals) {
  std::ranges::sort(totals, [](const MessageTotals& a, const MessageTotals& b) {
    if (a.messages != b.messages) return a.messages > b.messages;
    return std::tie(a.provider, a.model) < std::tie(b.provider, b.model);
  });
  return totals;
}

}  // namespace

QueryService::R QueryService::ChatMessages(const Q& q) {
  TRY_ASSIGN(totals, store_.Messages(q.range, GroupingFor(q, true)));
  std::uint64_t all = 0;
  for (const auto& t : *totals) all += t.messages;
  auto rows = MessageSeries(q, *totals, MessagesOf, [](Value& row, const MessageCell& c) {
    row.Set("messages", Count(c.messages));
  });
  auto result = FromRows(std::move(rows));
  Value summary = Value::Object();
  summary.Set("messages", Count(all));
  result.summary = std::move(summary);
  return result;
}

QueryService::R QueryService::ChatTokens(const Q& q) {
  TRY_ASSIGN(totals, store_.Messages(q.range, GroupingFor(q, true)));
  auto rows = MessageSeries(q, *totals, TokensOf, [](Value& row, const MessageCell& c) {
    row.Set("tokens", Count(c.tokens))
        .Set("inputTokens", Count(c.input_tokens))
        .Set("outputTokens", Count(c.output_tokens))
        .Set("messages", Count(c.messages))
        .Set("avgTokensPerMessage",
             Ratio(static_cast<double>(c.tokens), static_cast<double>(c.messages)));
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
    row.Set("bucket", Label(q, i))
        .Set("created", Count(cells[i].first))
        .Set("deleted", Count(cells[i].second));
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
  const auto share = [&](std::uint64_t n) {
    return Ratio(static_cast<double>(n), static_cast<double>(all));
  };
  const auto sorted = ByMessages(std::move(*totals));
  std::vector<Value> rows;
  for (const auto& t : KeptPart(sorted, q.max_groups)) {
    Value row = Value::Object();
    row.Set("provider", Value::String(t.provider));
    if (g.by_model) row.Set("model", Value::String(t.model));
    row.Set("messages", Count(t.messages))
        .Set("tokens", Count(t.tokens))
        .Set("users", Count(t.users))
        .Set("share", share(t.messages));
    rows.push_back(std::move(row));
  }
  if (const auto rest = FoldedPart(sorted, q.max_groups); !rest.empty()) {
    MessageCell other;
    for (const auto& t : rest) other.Add(t);
    // A user of two folded groups would count twice in a sum: distinct users are not derivable.
    Value row = Value::Object();
    row.Set("provider", Other());
    if (g.by_model) row.Set("model", Other());
    row.Set("messages", Count(other.messages))
        .Set("tokens", Count(other.tokens))
        .Set("users", Value::Null())
        .Set("share", share(other.messages));
    rows.push_back(std::move(row));
  }
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
        .Set("avgDurationSeconds", Ratio(static_cast<double>(s.total_duration_ms) / 1000.0,
                                         static_cast<double>(s.sessions)))
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
  auto sorted = std::move(*payments);
  std::ranges::sort(sorted, [](const PaymentTotals& a, const PaymentTotals& b) {
    if (a.amount != b.amount) return a.amount > b.amount;
    return std::tie(a.plan, a.currency) < std::tie(b.plan, b.currency);
  });
  std::vector<Value> rows;
  for (const auto& p : KeptPart(sorted, q.max_groups)) {
    Value row = Value::Object();
    if (by_plan) row.Set("plan", Value::String(p.plan));
    row.Set("currency", Value::String(p.currency))
        .Set("revenue", Value::Double(AmountToMoney(p.amount)))
        .Set("payments", Count(p.payments));
    rows.push_back(std::move(row));
  }
  if (const auto rest = FoldedPart(sorted, q.max_groups); !rest.empty()) {
    // Amounts of different currencies do not add up: the folded revenue is given only when the
    // folded rows share one currency (plans of one currency), and then exactly.
    Units amount = 0;
    std::uint64_t count = 0;
    bool one_currency = true;
    for (const auto& p : rest) {
      amount += p.amount;
      count += p.payments;
      one_currency = one_currency && p.currency == rest.front().currency;
    }
    Value row = Value::Object();
    if (by_plan) row.Set("plan", Other());
    row.Set("currency", one_currency && by_plan ? Value::String(rest.front().currency) : Other())
        .Set("revenue",
             one_currency && by_plan ? Value::Double(AmountToMoney(amount)) : Value::Null())
        .Set("payments", Count(count));
    rows.push_back(std::move(row));
  }
  auto result = FromRows(std::move(rows));
  if (!by_plan) {
    TRY_ASSIGN(outcomes, store_.PaymentOutcomes(q.range));
    Value summary = Value::Object();
    summary.Set("payments", Count(outcomes->succeeded))
        .Set("failedPayments", Count(outcomes->failed));
    result.summary = std::move(summary);
  }
  return result;
}

namespace {

// Currencies past the `max_groups` with the most paying customers (any successful payment before
// the range end; ties: code ascending) are replayed as one "(other)" currency. A kept currency's
// figures depend only on which payments are in it, so they stay exact; the amounts of "(other)"
// mix currencies and are answered as null.
void FoldCurrencies(std::vector<BillingEvent>& history, std::size_t max_groups) {
  std::map<std::string, std::uint64_t> customers;
  const std::string* last_customer = nullptr;
  std::set<std::string> seen;  // currencies of the current customer
  for (const auto& e : history) {
    if (e.kind != BillingEvent::Kind::kPayment) continue;
    if (last_customer == nullptr || *last_customer != e.customer) {
      last_customer = &e.customer;
      seen.clear();
    }
    if (seen.insert(e.currency).second) ++customers[e.currency];
  }
  const auto groups = ChooseGroups(customers, max_groups);
  if (!groups.folds) return;
  const std::string other(domain::kOtherGroup);
  for (auto& e : history) {
    if (e.kind == BillingEvent::Kind::kPayment &&
        groups.ColumnOf(e.currency) == groups.kept.size()) {
      e.currency = other;
    }
  }
}

}  // namespace

QueryService::R QueryService::RevenueMrr(const Q& q, domain::Metric metric) {
  TRY_ASSIGN(history, store_.BillingHistory(q.range.end));
  FoldCurrencies(*history, q.max_groups);
  // B0 is the range start; B(k+1) the end of bucket k, cut at the range end.
  std::vector<std::int64_t> boundaries{Ms(q.range.start)};
  for (std::size_t i = 1; i < q.buckets.size(); ++i) boundaries.push_back(Ms(q.buckets[i]));
  boundaries.push_back(Ms(q.range.end));
  const auto timeline = ReplayRevenue(*history, plans_, boundaries);
  history->clear();
  history->shrink_to_fit();
  // Kept currencies by code, then "(other)" (which sorts first among the replay's codes).
  std::vector<std::size_t> order;
  std::optional<std::size_t> other;
  for (std::size_t c = 0; c < timeline.currencies.size(); ++c) {
    if (timeline.currencies[c] == domain::kOtherGroup) {
      other = c;
    } else {
      order.push_back(c);
    }
  }
  if (other) order.push_back(*other);
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
      for (const auto c : order) {
        const auto& s = timeline.steps[k][c];
        const bool mixed = other && c == *other;
        const auto amount = [&](Units u) { return mixed ? Value::Null() : money(u); };
        Value m = Value::Object();
        m.Set("startMrr", amount(s.start))
            .Set("churnedMrr", amount(s.churned))
            .Set("contractionMrr", amount(s.contraction))
            .Set("expansionMrr", amount(s.expansion))
            .Set("reactivationMrr", amount(s.reactivation))
            .Set("grossMrrChurnRate",
                 mixed ? Value::Null() : rate(s.churned + s.contraction, s.start))
            .Set("netMrrChurnRate",
                 mixed ? Value::Null()
                       : rate(s.churned + s.contraction - s.expansion - s.reactivation, s.start));
        by_currency.Set(timeline.currencies[c], std::move(m));
      }
      row.Set("mrr", std::move(by_currency));
      rows.push_back(std::move(row));
      continue;
    }
    for (const auto c : order) {
      const auto& s = timeline.steps[k][c];
      const bool mixed = other && c == *other;
      const auto amount = [&](Units u) { return mixed ? Value::Null() : money(u); };
      Value row = Value::Object();
      row.Set("bucket", Label(q, k)).Set("currency", Value::String(timeline.currencies[c]));
      if (metric == domain::Metric::kRevenueArr) {
        row.Set("arr", amount(s.end * 12));
      } else {
        row.Set("mrr", amount(s.end))
            .Set("newMrr", amount(s.new_mrr))
            .Set("expansionMrr", amount(s.expansion))
            .Set("contractionMrr", amount(s.contraction))
            .Set("churnedMrr", amount(s.churned))
            .Set("reactivationMrr", amount(s.reactivation));
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
  // `distinct` is null for a row that merges groups: a user or conversation of two of them
  // would count twice in a sum.
  const auto fill = [](Value& row, const MessageCell& c, std::optional<MessageTotals> distinct) {
    row.Set("messages", Count(c.messages))
        .Set("tokens", Count(c.tokens))
        .Set("inputTokens", Count(c.input_tokens))
        .Set("outputTokens", Count(c.output_tokens))
        .Set("users", distinct ? Count(distinct->users) : Value::Null())
        .Set("conversations", distinct ? Count(distinct->conversations) : Value::Null());
  };
  std::vector<Value> rows;
  if (by_bucket) {
    std::map<std::string, std::uint64_t> ranking;
    for (const auto& t : *totals) ranking[t.provider] += t.messages;
    const auto groups = ChooseGroups(ranking, q.max_groups);
    const std::size_t width = groups.width();
    struct Cell {
      MessageCell sums;
      MessageTotals distinct;  // users and conversations of the one storage row of a kept cell
    };
    std::vector<Cell> cells(q.buckets.size() * width);
    for (const auto& t : *totals) {
      auto& cell = cells[BucketIndex(q, t.bucket_ms) * width + groups.ColumnOf(t.provider)];
      cell.sums.Add(t);
      cell.distinct.users += t.users;  // one storage row per (bucket, provider)
      cell.distinct.conversations += t.conversations;
    }
    rows.reserve(cells.size());
    for (std::size_t i = 0; i < q.buckets.size(); ++i) {
      for (std::size_t c = 0; c < width; ++c) {
        const auto& cell = cells[i * width + c];
        Value row = Value::Object();
        row.Set("bucket", Label(q, i)).Set("provider", groups.Label(c));
        fill(row, cell.sums, c < groups.kept.size() ? std::optional(cell.distinct) : std::nullopt);
        rows.push_back(std::move(row));
      }
    }
    return FromRows(std::move(rows));
  }
  const auto sorted = ByMessages(std::move(*totals));
  for (const auto& t : KeptPart(sorted, q.max_groups)) {
    Value row = Value::Object();
    row.Set("provider", Value::String(t.provider));
    if (g.by_model) row.Set("model", Value::String(t.model));
    MessageCell c;
    c.Add(t);
    fill(row, c, t);
    rows.push_back(std::move(row));
  }
  if (const auto rest = FoldedPart(sorted, q.max_groups); !rest.empty()) {
    MessageCell other;
    for (const auto& t : rest) other.Add(t);
    Value row = Value::Object();
    row.Set("provider", Other());
    if (g.by_model) row.Set("model", Other());
    fill(row, other, std::nullopt);
    rows.push_back(std::move(row));
  }
  return FromRows(std::move(rows));
}

namespace {

// Cost of messages: exact, in 10^-15 USD.
struct CostCell {
  Units cost = 0;
  std::uint64_t messages = 0, unpriced = 0;
  void Add(const CostCell& c) {
    cost += c.cost;
    messages += c.messages;
    unpriced += c.unpriced;
  }
};

void FillCost(Value& row, const CostCell& c) {
  row.Set("costUsd", Value::Double(CostToUsd(c.cost)))
      .Set("messages", Count(c.messages))
      .Set("unpricedMessages", Count(c.unpriced));
}

}  // namespace

QueryService::R QueryService::ProvidersCosts(const Q& q) {
  const bool by_bucket = q.group_by == "bucket";
  const bool by_model = q.group_by == "model";
  const auto breakpoints = prices_.Breakpoints();
  TRY_ASSIGN(groups,
             store_.CostGroups(q.range, by_bucket ? BucketsOf(q) : NoBuckets(), breakpoints));
  const auto price = [&](const CostGroup& g) {
    CostCell cell;
    cell.messages = g.messages;
    if (g.has_cost) {
      cell.cost = g.cost * 1'000'000;  // 10^-9 -> 10^-15
      return cell;
    }
    const domain::ModelPrice* p =
        g.epoch == 0
            ? nullptr
            : prices_.At(g.provider, g.model,
                         base::TimePoint{std::chrono::milliseconds{breakpoints[g.epoch - 1]}});
    // Prices are 10^-9 USD per 1M tokens, so tokens x price is in 10^-15 USD.
    if (p != nullptr && g.has_split && p->input_per_million) {
      cell.cost = Units(g.input_tokens) * *p->input_per_million +
                  Units(g.output_tokens) * *p->output_per_million;
    } else if (p != nullptr && p->blended_per_million) {
      cell.cost = Units(g.tokens) * *p->blended_per_million;
    } else {
      cell.unpriced = g.messages;
    }
    return cell;
  };
  std::vector<Value> rows;
  if (by_bucket) {
    // Priced per storage group first (as many as the data holds), ranked by cost over the range.
    std::map<std::pair<std::size_t, std::string>, CostCell> present;
    std::map<std::string, Units> ranking;
    for (const auto& g : *groups) {
      const auto cell = price(g);
      present[{BucketIndex(q, g.bucket_ms), g.provider}].Add(cell);
      ranking[g.provider] += cell.cost;
    }
    groups->clear();
    const auto kept = ChooseGroups(ranking, q.max_groups);
    const std::size_t width = kept.width();
    std::vector<CostCell> cells(q.buckets.size() * width);
    for (const auto& [key, cell] : present)
      cells[key.first * width + kept.ColumnOf(key.second)].Add(cell);
    rows.reserve(cells.size());
    for (std::size_t i = 0; i < q.buckets.size(); ++i) {
      for (std::size_t c = 0; c < width; ++c) {
        Value row = Value::Object();
        row.Set("bucket", Label(q, i)).Set("provider", kept.Label(c));
        FillCost(row, cells[i * width + c]);
        rows.push_back(std::move(row));
      }
    }
    return FromRows(std::move(rows));
  }
  std::map<std::pair<std::string, std::string>, CostCell> cells;
  for (const auto& g : *groups) cells[{g.provider, by_model ? g.model : ""}].Add(price(g));
  std::vector<std::pair<const std::pair<std::string, std::string>*, const CostCell*>> sorted;
  for (const auto& [key, cell] : cells) sorted.emplace_back(&key, &cell);
  // `cells` is in name order, so a stable sort by cost breaks ties by provider, then model.
  std::ranges::stable_sort(
      sorted, [](const auto& a, const auto& b) { return a.second->cost > b.second->cost; });
  for (const auto& [key, cell] : KeptPart(sorted, q.max_groups)) {
    Value row = Value::Object();
    row.Set("provider", Value::String(key->first));
    if (by_model) row.Set("model", Value::String(key->second));
    FillCost(row, *cell);
    rows.push_back(std::move(row));
  }
  if (const auto rest = FoldedPart(sorted, q.max_groups); !rest.empty()) {
    CostCell other;
    for (const auto& [key, cell] : rest) other.Add(*cell);
    Value row = Value::Object();
    row.Set("provider", Other());
    if (by_model) row.Set("model", Other());
    FillCost(row, other);
    rows.push_back(std::move(row));
  }
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
  auto sorted = std::move(*stats);
  std::ranges::sort(sorted, [](const LatencyStats& a, const LatencyStats& b) {
    if (a.messages != b.messages) return a.messages > b.messages;
    return std::tie(a.provider, a.model) < std::tie(b.provider, b.model);
  });
  std::vector<Value> rows;
  for (const auto& s : KeptPart(sorted, q.max_groups)) {
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
  if (const auto rest = FoldedPart(sorted, q.max_groups); !rest.empty()) {
    // The mean follows from the groups' counts and means; a percentile of the merged latencies
    // does not follow from the groups' percentiles.
    std::uint64_t n = 0;
    double sum = 0;
    for (const auto& s : rest) {
      n += s.messages;
      sum += s.avg_ms * static_cast<double>(s.messages);
    }
    Value row = Value::Object();
    row.Set("provider", Other());
    if (by_model) row.Set("model", Other());
    row.Set("messages", Count(n))
        .Set("avgLatencyMs", Ratio(sum, static_cast<double>(n)))
        .Set("p50LatencyMs", Value::Null())
        .Set("p95LatencyMs", Value::Null())
        .Set("p99LatencyMs", Value::Null());
    rows.push_back(std::move(row));
  }
  return FromRows(std::move(rows));
}

}  // namespace app
