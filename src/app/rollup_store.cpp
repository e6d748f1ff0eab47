#include "app/rollup_store.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

namespace app {
namespace {

std::int64_t Ms(base::TimePoint t) { return t.time_since_epoch().count(); }
base::TimePoint AtMs(std::int64_t ms) { return base::TimePoint(std::chrono::milliseconds(ms)); }

// The bucket start holding an instant, as the storage reads label it (0 without buckets).
// Cheapest for ascending instants: it remembers the last bucket.
class BucketMap {
 public:
  explicit BucketMap(const Bucketing& b) : b_(b) {}
  std::int64_t Of(std::int64_t ms) {
    if (b_.tz == nullptr) return 0;
    if (ms < start_ || ms >= next_) {
      const auto floor = b_.tz->Floor(AtMs(ms), b_.granularity);
      start_ = Ms(floor);
      next_ = Ms(b_.tz->Next(floor, b_.granularity));
    }
    return start_;
  }

 private:
  const Bucketing& b_;
  std::int64_t start_ = 1, next_ = 0;
};

// Exact distinct counts of dense ids: each id remembers the last set it was counted in.
class Distinct {
 public:
  explicit Distinct(std::size_t ids) : stamp_(ids, 0) {}
  void Restart() {
    ++token_;
    count_ = 0;
  }
  void Add(std::uint32_t id) {
    if (stamp_[id] != token_) {
      stamp_[id] = token_;
      ++count_;
    }
  }
  void Add(const std::vector<std::uint32_t>& ids) {
    for (const auto id : ids) Add(id);
  }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<std::uint32_t> stamp_;
  std::uint32_t token_ = 0;
  std::uint64_t count_ = 0;
};

std::uint64_t MessagesOf(const SlotData::Model& m) {
  std::uint64_t n = 0;
  for (const auto& p : m.priced) n += p.messages;
  return n;
}

// Names of interned ids, looked up once per query.
class Names {
 public:
  explicit Names(const Rollup& rollup) : rollup_(rollup) {}
  const std::string& operator()(std::uint32_t id) {
    auto it = cache_.find(id);
    if (it == cache_.end()) it = cache_.emplace(id, rollup_.Name(id)).first;
    return it->second;
  }

 private:
  const Rollup& rollup_;
  std::unordered_map<std::uint32_t, std::string> cache_;
};

// Value at rank floor(q x n) of the merged histogram (ClickHouse's quantileExact picks that rank).
double Percentile(const std::vector<std::uint64_t>& bins, std::uint64_t n, double q) {
  const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(n));
  std::uint64_t seen = 0;
  for (std::size_t bin = 0; bin < bins.size(); ++bin) {
    seen += bins[bin];
    if (seen > rank) return LatencyBinValue(static_cast<std::uint32_t>(bin));
  }
  return 0;
}

// Each user's first signup among `slots` (dense user id, ms).
std::vector<std::pair<std::uint32_t, std::int64_t>> FirstSignups(const std::vector<SlotPtr>& slots,
                                                                  std::size_t users) {
  constexpr auto kNone = std::numeric_limits<std::int64_t>::max();
  std::vector<std::int64_t> first(users, kNone);
  for (const auto& s : slots) {
    for (const auto& r : s->records) {
      if (r.type == domain::EventType::kUserSignup) first[r.user] = std::min(first[r.user], r.ts_ms);
    }
  }
  std::vector<std::pair<std::uint32_t, std::int64_t>> out;
  for (std::size_t u = 0; u < users; ++u) {
    if (first[u] != kNone) out.emplace_back(static_cast<std::uint32_t>(u), first[u]);
  }
  return out;
}

}  // namespace

base::Result<std::optional<std::vector<SlotPtr>>> RollupAnalyticsStore::Collect(
    std::int64_t start_ms, std::int64_t end_ms, unsigned kinds) {
  using Out = std::optional<std::vector<SlotPtr>>;
  auto view = rollup_.Plan(start_ms, end_ms);
  // Only the missing part before the frontier costs a real read (after it, at most the open
  // slot holds events); reads of all history before an instant start at 0, so the share is
  // measured from where the data begins.
  const auto frontier = rollup_.FrontierMs();
  std::int64_t missing_closed = 0;
  for (const auto& m : view.missing) missing_closed += std::max<std::int64_t>(0, std::min(m.end, frontier) - m.start);
  const auto closed_span = std::min(end_ms, frontier) - std::max(start_ms, rollup_.DataStartMs());
  if (missing_closed > 0 &&
      (closed_span <= 0 ||
       static_cast<double>(missing_closed) > options_.max_missing_share * static_cast<double>(closed_span) ||
       view.missing.size() > 64)) {
    return Out{};
  }
  if (view.missing.empty()) return Out{std::move(view.slots)};
  TRY_ASSIGN(facts, source_.ReadFacts(view.missing, kinds));
  const auto extra = rollup_.Assemble(*facts);
  std::vector<SlotPtr> all;
  all.reserve(view.slots.size() + extra.size());
  std::ranges::merge(view.slots, extra, std::back_inserter(all), {}, &SlotData::slot,
                     &SlotData::slot);
  return Out{std::move(all)};
}

base::Result<std::vector<BucketCount>> RollupAnalyticsStore::ActiveUsers(
    const domain::TimeRange& range, const Bucketing& b) {
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end), kFactActivity));
  if (!*slots) return raw_.ActiveUsers(range, b);
  Distinct users(rollup_.UserCount());
  BucketMap buckets(b);
  std::vector<BucketCount> out;
  std::optional<std::int64_t> current;
  const auto flush = [&] {
    if (current && users.count() > 0) out.push_back({*current, users.count()});
  };
  for (const auto& s : **slots) {
    const auto bucket = buckets.Of(s->StartMs());
    if (!current || bucket != *current) {
      flush();
      current = bucket;
      users.Restart();
    }
    for (const auto& a : s->active) users.Add(a.user);
  }
  flush();
  return out;
}

base::Result<ActiveWindowCounts> RollupAnalyticsStore::ActiveUsersSince(
    base::TimePoint day_start, base::TimePoint week_start, base::TimePoint month_start,
    base::TimePoint end) {
  const auto aligned = [](base::TimePoint t) { return Ms(t) % kSlotMs == 0; };
  if (!aligned(day_start) || !aligned(week_start) || !aligned(month_start)) {
    return raw_.ActiveUsersSince(day_start, week_start, month_start, end);
  }
  TRY_ASSIGN(slots, Collect(Ms(month_start), Ms(end), kFactActivity));
  if (!*slots) return raw_.ActiveUsersSince(day_start, week_start, month_start, end);
  // Newest first: a user counts in every window holding their latest activity.
  Distinct users(rollup_.UserCount());
  users.Restart();
  std::uint64_t in_day = 0, in_week = 0, in_month = 0;
  for (auto it = (*slots)->rbegin(); it != (*slots)->rend(); ++it) {
    const auto start = (*it)->StartMs();
    auto& counter = start >= Ms(day_start) ? in_day : start >= Ms(week_start) ? in_week : in_month;
    for (const auto& a : (*it)->active) {
      const auto before = users.count();
      users.Add(a.user);
      counter += users.count() - before;
    }
  }
  return ActiveWindowCounts{in_day, in_day + in_week, in_day + in_week + in_month};
}

base::Result<RetentionCounts> RollupAnalyticsStore::Retention(const domain::TimeRange& range,
                                                              const Bucketing& b) {
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end), kFactActivity));
  if (!*slots) return raw_.Retention(range, b);
  TRY_ASSIGN(history, Collect(0, Ms(range.end), kFactRecords));
  if (!*history) return raw_.Retention(range, b);
  BucketMap buckets(b);
  constexpr auto kNone = std::numeric_limits<std::int64_t>::min();
  const auto users_count = rollup_.UserCount();
  std::vector<std::int64_t> cohort_of(users_count, kNone);
  std::map<std::int64_t, std::uint64_t> sizes;
  for (const auto& [user, first] : FirstSignups(**history, users_count)) {
    if (first < Ms(range.start)) continue;
    const auto cohort = buckets.Of(first);
    ++sizes[cohort];
    cohort_of[user] = cohort;
  }
  RetentionCounts out;
  for (const auto& [cohort, n] : sizes) out.cohort_sizes.push_back({cohort, n});
  std::map<std::pair<std::int64_t, std::int64_t>, std::uint64_t> cells;
  Distinct users(cohort_of.size());
  std::optional<std::int64_t> current;
  for (const auto& s : **slots) {
    const auto bucket = buckets.Of(s->StartMs());
    if (!current || bucket != *current) {
      current = bucket;
      users.Restart();
    }
    for (const auto& a : s->active) {
      const auto cohort = cohort_of[a.user];
      if (cohort == kNone) continue;
      const auto before = users.count();
      users.Add(a.user);
      if (users.count() != before) ++cells[{cohort, bucket}];
    }
  }
  for (const auto& [key, n] : cells) out.active.push_back({key.first, key.second, n});
  return out;
}

base::Result<std::vector<SessionStats>> RollupAnalyticsStore::Sessions(
    const domain::TimeRange& range, const Bucketing& b, std::chrono::milliseconds gap) {
  // Within a slot no two events of a user are more than a slot apart, so a gap of at least a
  // slot never splits inside one: sessions follow from each slot's first and last event.
  if (gap.count() < kSlotMs) return raw_.Sessions(range, b, gap);
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end), kFactActivity));
  if (!*slots) return raw_.Sessions(range, b, gap);
  constexpr auto kNone = std::numeric_limits<std::int64_t>::min();
  const auto users = rollup_.UserCount();
  std::vector<std::int64_t> first(users, kNone), last(users, 0);
  BucketMap buckets(b);
  std::map<std::int64_t, std::vector<std::int64_t>> by_bucket;
  std::vector<std::int64_t> all;
  const auto emit = [&](std::int64_t start, std::int64_t end) {
    by_bucket[buckets.Of(start)].push_back(end - start);
    all.push_back(end - start);
  };
  for (const auto& s : **slots) {
    const auto base = s->StartMs();
    for (const auto& a : s->active) {
      const auto t0 = base + a.first_off, t1 = base + a.last_off;
      if (first[a.user] == kNone) {
        first[a.user] = t0;
      } else if (t0 - last[a.user] > gap.count()) {
        emit(first[a.user], last[a.user]);
        first[a.user] = t0;
      }
      last[a.user] = t1;
    }
  }
  for (std::size_t u = 0; u < users; ++u) {
    if (first[u] != kNone) emit(first[u], last[u]);
  }
  const auto stats = [](std::optional<std::int64_t> bucket, std::vector<std::int64_t>& d) {
    SessionStats s;
    s.bucket_ms = bucket;
    s.sessions = d.size();
    for (const auto x : d) s.total_duration_ms += x;
    const auto n = d.size();
    std::ranges::nth_element(d, d.begin() + static_cast<std::ptrdiff_t>(n / 2));
    const auto upper = static_cast<double>(d[n / 2]);
    if (n % 2 == 1) {
      s.median_duration_ms = upper;
    } else {
      const auto lower = *std::max_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(n / 2));
      s.median_duration_ms = (static_cast<double>(lower) + upper) / 2;
    }
    return s;
  };
  std::vector<SessionStats> out;
  if (all.empty()) return out;
  out.push_back(stats(std::nullopt, all));
  for (auto& [bucket, d] : by_bucket) out.push_back(stats(bucket, d));
  return out;
}

base::Result<std::vector<MessageTotals>> RollupAnalyticsStore::Messages(
    const domain::TimeRange& range, const MessageGrouping& g) {
  const bool audience = g.distinct_users || g.distinct_conversations;
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end),
                            kFactPriced | (audience ? kFactAudience : 0u)));
  if (!*slots) return raw_.Messages(range, g);
  struct Group {
    MessageTotals totals;
    std::vector<const SlotData::Model*> models;
  };
  const auto none = rollup_.NameId("");
  std::map<std::tuple<std::int64_t, std::uint32_t, std::uint32_t>, Group> groups;
  BucketMap buckets(g.bucketing);
  for (const auto& s : **slots) {
    const auto bucket = buckets.Of(s->StartMs());
    for (const auto& m : s->models) {
      if (MessagesOf(m) == 0) continue;
      auto& group = groups[{bucket, g.by_provider ? m.provider : none, g.by_model ? m.model : none}];
      for (const auto& p : m.priced) {
        group.totals.messages += p.messages;
        group.totals.tokens += p.tokens;
        group.totals.input_tokens += p.input_tokens;
        group.totals.output_tokens += p.output_tokens;
      }
      if (audience) group.models.push_back(&m);
    }
  }
  Distinct users(audience ? rollup_.UserCount() : 0);
  Distinct conversations(g.distinct_conversations ? rollup_.ConversationCount() : 0);
  Names names(rollup_);
  std::vector<MessageTotals> out;
  for (auto& [key, group] : groups) {
    auto t = group.totals;
    t.bucket_ms = std::get<0>(key);
    t.provider = names(std::get<1>(key));
    t.model = names(std::get<2>(key));
    if (g.distinct_users) {
      users.Restart();
      for (const auto* m : group.models) users.Add(m->users);
      t.users = users.count();
    }
    if (g.distinct_conversations) {
      conversations.Restart();
      for (const auto* m : group.models) conversations.Add(m->conversations);
      t.conversations = conversations.count();
    }
    out.push_back(std::move(t));
  }
  std::ranges::sort(out, {}, [](const MessageTotals& t) {
    return std::tie(t.bucket_ms, t.provider, t.model);
  });
  return out;
}

base::Result<std::vector<CostGroup>> RollupAnalyticsStore::CostGroups(
    const domain::TimeRange& range, const Bucketing& b,
    const std::vector<std::int64_t>& breakpoints) {
  // A price epoch must not change inside a slot (effective dates are midnights UTC).
  if (std::ranges::any_of(breakpoints, [](std::int64_t bp) { return bp % kSlotMs != 0; })) {
    return raw_.CostGroups(range, b, breakpoints);
  }
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end), kFactPriced));
  if (!*slots) return raw_.CostGroups(range, b, breakpoints);
  using Key = std::tuple<std::int64_t, std::uint32_t, std::uint32_t, std::size_t, bool, bool>;
  std::map<Key, CostGroup> groups;
  BucketMap buckets(b);
  for (const auto& s : **slots) {
    const auto start = s->StartMs();
    const auto bucket = buckets.Of(start);
    const auto epoch = static_cast<std::size_t>(std::ranges::upper_bound(breakpoints, start) -
                                                breakpoints.begin());
    for (const auto& m : s->models) {
      for (const auto& p : m.priced) {
        auto& c = groups[{bucket, m.provider, m.model, epoch, p.has_cost, p.has_split}];
        c.messages += p.messages;
        c.cost += p.cost;
        c.tokens += p.tokens;
        c.input_tokens += p.input_tokens;
        c.output_tokens += p.output_tokens;
      }
    }
  }
  Names names(rollup_);
  std::vector<CostGroup> out;
  for (auto& [key, c] : groups) {
    c.bucket_ms = std::get<0>(key);
    c.provider = names(std::get<1>(key));
    c.model = names(std::get<2>(key));
    c.epoch = std::get<3>(key);
    c.has_cost = std::get<4>(key);
    c.has_split = std::get<5>(key);
    out.push_back(std::move(c));
  }
  std::ranges::sort(out, {}, [](const CostGroup& c) {
    return std::tie(c.bucket_ms, c.provider, c.model, c.epoch, c.has_cost, c.has_split);
  });
  return out;
}

base::Result<std::vector<ModelCount>> RollupAnalyticsStore::ModelUsage(
    const domain::TimeRange& range) {
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end), kFactPriced | kFactAudience));
  if (!*slots) return raw_.ModelUsage(range);
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<const SlotData::Model*>> groups;
  for (const auto& s : **slots) {
    for (const auto& m : s->models) {
      if (MessagesOf(m) > 0) groups[{m.provider, m.model}].push_back(&m);
    }
  }
  Distinct users(rollup_.UserCount());
  Names names(rollup_);
  std::vector<ModelCount> out;
  for (const auto& [key, models] : groups) {
    ModelCount c{names(key.first), names(key.second), 0, 0};
    users.Restart();
    for (const auto* m : models) {
      c.messages += MessagesOf(*m);
      users.Add(m->users);
    }
    c.users = users.count();
    out.push_back(std::move(c));
  }
  std::ranges::sort(out, {}, [](const ModelCount& c) { return std::tie(c.provider, c.model); });
  return out;
}

base::Result<std::uint64_t> RollupAnalyticsStore::UsersOutside(
    const domain::TimeRange& range,
    const std::vector<std::pair<std::string, std::string>>& excluded) {
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end), kFactAudience));
  if (!*slots) return raw_.UsersOutside(range, excluded);
  const std::set<std::pair<std::string, std::string>> skip(excluded.begin(), excluded.end());
  Names names(rollup_);
  std::map<std::pair<std::uint32_t, std::uint32_t>, bool> counted;
  Distinct users(rollup_.UserCount());
  users.Restart();
  for (const auto& s : **slots) {
    for (const auto& m : s->models) {
      auto it = counted.find({m.provider, m.model});
      if (it == counted.end()) {
        const bool in = !skip.contains({names(m.provider), names(m.model)});
        it = counted.emplace(std::pair{m.provider, m.model}, in).first;
      }
      if (it->second) users.Add(m.users);
    }
  }
  return users.count();
}

base::Result<std::vector<LatencyStats>> RollupAnalyticsStore::Latencies(
    const domain::TimeRange& range, bool by_model) {
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end), kFactLatency));
  if (!*slots) return raw_.Latencies(range, by_model);
  struct Group {
    std::uint64_t n = 0, sum = 0;
    std::vector<std::uint64_t> bins;
  };
  const auto none = rollup_.NameId("");
  std::map<std::pair<std::uint32_t, std::uint32_t>, Group> groups;
  for (const auto& s : **slots) {
    for (const auto& m : s->models) {
      if (m.latency_bins.empty()) continue;
      auto& g = groups[{m.provider, by_model ? m.model : none}];
      g.sum += m.latency_sum_ms;
      for (const auto& [bin, n] : m.latency_bins) {
        if (bin >= g.bins.size()) g.bins.resize(bin + 1, 0);
        g.bins[bin] += n;
        g.n += n;
      }
    }
  }
  Names names(rollup_);
  std::vector<LatencyStats> out;
  for (const auto& [key, g] : groups) {
    out.push_back({names(key.first), names(key.second), g.n,
                   static_cast<double>(g.sum) / static_cast<double>(g.n),
                   Percentile(g.bins, g.n, 0.5), Percentile(g.bins, g.n, 0.95),
                   Percentile(g.bins, g.n, 0.99)});
  }
  std::ranges::sort(out, {}, [](const LatencyStats& l) { return std::tie(l.provider, l.model); });
  return out;
}

base::Result<SignupTotals> RollupAnalyticsStore::Signups(const domain::TimeRange& range) {
  TRY_ASSIGN(slots, Collect(0, Ms(range.end), kFactRecords));
  if (!*slots) return raw_.Signups(range);
  SignupTotals out;
  for (const auto& [user, first] : FirstSignups(**slots, rollup_.UserCount())) {
    ++out.total_before_end;
    if (first >= Ms(range.start)) ++out.new_in_range;
  }
  return out;
}

base::Result<std::vector<BucketCount>> RollupAnalyticsStore::SignupsByBucket(
    const domain::TimeRange& range, const Bucketing& b) {
  TRY_ASSIGN(slots, Collect(0, Ms(range.end), kFactRecords));
  if (!*slots) return raw_.SignupsByBucket(range, b);
  BucketMap buckets(b);
  std::map<std::int64_t, std::uint64_t> counts;
  for (const auto& [user, first] : FirstSignups(**slots, rollup_.UserCount())) {
    ++counts[first < Ms(range.start) ? 0 : buckets.Of(first)];
  }
  std::vector<BucketCount> out;
  for (const auto& [bucket, n] : counts) out.push_back({bucket, n});
  return out;
}

base::Result<std::vector<NamedCount>> RollupAnalyticsStore::PlansAt(base::TimePoint end) {
  TRY_ASSIGN(slots, Collect(0, Ms(end), kFactRecords));
  if (!*slots) return raw_.PlansAt(end);
  // Per user: the plan of the earliest signup and the target of the latest change, both by
  // (time, event id) as the raw read's argMin / argMax.
  struct Latest {
    const SlotData::Record* signup = nullptr;
    const SlotData::Record* change = nullptr;
  };
  const auto key = [](const SlotData::Record* r) { return std::tie(r->ts_ms, r->event_id); };
  std::vector<Latest> users(rollup_.UserCount());
  for (const auto& s : **slots) {
    for (const auto& r : s->records) {
      auto& u = users[r.user];
      if (r.type == domain::EventType::kUserSignup) {
        if (u.signup == nullptr || key(&r) < key(u.signup)) u.signup = &r;
      } else if (r.type == domain::EventType::kUserPlanUpgrade ||
                 r.type == domain::EventType::kUserPlanDowngrade) {
        if (u.change == nullptr || key(u.change) < key(&r)) u.change = &r;
      }
    }
  }
  std::map<std::string, std::uint64_t> plans;
  for (const auto& u : users) {
    if (u.signup != nullptr) ++plans[u.change != nullptr ? u.change->plan : u.signup->plan];
  }
  std::vector<NamedCount> out;
  for (auto& [plan, n] : plans) out.push_back({plan, n});
  return out;
}

base::Result<std::vector<ConversationCounts>> RollupAnalyticsStore::Conversations(
    const domain::TimeRange& range, const Bucketing& b) {
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end), kFactConversations));
  if (!*slots) return raw_.Conversations(range, b);
  BucketMap buckets(b);
  std::vector<ConversationCounts> out;
  for (const auto& s : **slots) {
    if (s->conversations_created == 0 && s->conversations_deleted == 0) continue;
    const auto bucket = buckets.Of(s->StartMs());
    if (out.empty() || out.back().bucket_ms != bucket) out.push_back({bucket, 0, 0});
    out.back().created += s->conversations_created;
    out.back().deleted += s->conversations_deleted;
  }
  return out;
}

base::Result<std::vector<PaymentTotals>> RollupAnalyticsStore::Payments(
    const domain::TimeRange& range, bool by_plan) {
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end), kFactRecords));
  if (!*slots) return raw_.Payments(range, by_plan);
  std::map<std::pair<std::string, std::string>, PaymentTotals> totals;
  for (const auto& s : **slots) {
    for (const auto& r : s->records) {
      if (r.type != domain::EventType::kBillingPaymentSuccess) continue;
      auto& t = totals[{by_plan ? r.plan : std::string(), r.currency}];
      t.amount += r.amount;
      ++t.payments;
    }
  }
  std::vector<PaymentTotals> out;
  for (auto& [key, t] : totals) {
    t.plan = key.first;
    t.currency = key.second;
    out.push_back(std::move(t));
  }
  return out;
}

base::Result<PaymentCounts> RollupAnalyticsStore::PaymentOutcomes(const domain::TimeRange& range) {
  TRY_ASSIGN(slots, Collect(Ms(range.start), Ms(range.end), kFactRecords));
  if (!*slots) return raw_.PaymentOutcomes(range);
  PaymentCounts out;
  for (const auto& s : **slots) {
    for (const auto& r : s->records) {
      out.succeeded += r.type == domain::EventType::kBillingPaymentSuccess ? 1 : 0;
      out.failed += r.type == domain::EventType::kBillingPaymentFailed ? 1 : 0;
    }
  }
  return out;
}

base::Result<std::vector<BillingEvent>> RollupAnalyticsStore::BillingHistory(base::TimePoint end) {
  TRY_ASSIGN(slots, Collect(0, Ms(end), kFactRecords));
  if (!*slots) return raw_.BillingHistory(end);
  // Grouped by customer (their dense index), each customer's events by (time, event id): the
  // keys sit in one array, so the sort rarely leaves it.
  struct Key {
    std::uint32_t user;
    std::int64_t ts_ms;
    const SlotData::Record* record;
  };
  std::vector<Key> keys;
  for (const auto& s : **slots) {
    for (const auto& r : s->records) {
      if (r.type == domain::EventType::kBillingPaymentSuccess ||
          r.type == domain::EventType::kBillingSubscriptionCreated ||
          r.type == domain::EventType::kBillingSubscriptionCancelled) {
        keys.push_back({r.user, r.ts_ms, &r});
      }
    }
  }
  std::ranges::sort(keys, [](const Key& a, const Key& b) {
    if (a.user != b.user) return a.user < b.user;
    if (a.ts_ms != b.ts_ms) return a.ts_ms < b.ts_ms;
    return a.record->event_id < b.record->event_id;
  });
  std::vector<const SlotData::Record*> records;
  records.reserve(keys.size());
  for (const auto& k : keys) records.push_back(k.record);
  std::vector<BillingEvent> out;
  out.reserve(records.size());
  for (const auto* r : records) {
    BillingEvent e;
    e.customer = r->customer;
    e.kind = r->type == domain::EventType::kBillingPaymentSuccess ? BillingEvent::Kind::kPayment
             : r->type == domain::EventType::kBillingSubscriptionCreated
                 ? BillingEvent::Kind::kSubscribed
                 : BillingEvent::Kind::kCancelled;
    e.ts_ms = r->ts_ms;
    e.plan = r->plan;
    e.currency = r->currency;
    e.amount = r->amount;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace app
