#include "e2e/analytics_oracle.hpp"

#include <functional>
#include <algorithm>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace e2e::oracle {
namespace {

namespace json = boost::json;
using std::chrono::hours;
using std::chrono::seconds;

// MRR is amount / interval with an interval of 1..12 months; in units of 1e-4 / 27720
// (27720 = lcm(1..12)) every such quotient is an integer, so sums stay exact.
constexpr std::int64_t kMrrScale = 27720;
constexpr std::int64_t kMrrUnitsPerCent = 100 * kMrrScale;  // amount units are 1e-4
constexpr std::int64_t kCostUnitsPerMicro = 1'000'000'000;  // cost units are 1e-15 USD

// num / den rounded half away from zero; den > 0.
Int128 RoundDiv(Int128 num, Int128 den) {
  const bool negative = num < 0;
  const Int128 a = negative ? -num : num;
  Int128 q = a / den;
  if (2 * (a % den) >= den) ++q;
  return negative ? -q : q;
}

double Cents(Int128 units, std::int64_t units_per_cent) {
  return static_cast<double>(RoundDiv(units, units_per_cent)) / 100.0;
}

double Micros(Int128 cost_units) {
  return static_cast<double>(RoundDiv(cost_units, kCostUnitsPerMicro)) / 1e6;
}

json::value Ratio(Int128 num, Int128 den) {
  if (den == 0) return nullptr;
  return static_cast<double>(static_cast<long double>(num) / static_cast<long double>(den));
}

bool IsActivity(EventType t) {
  return static_cast<int>(t) <= static_cast<int>(EventType::kConversationDeleted);
}

date::local_days LocalDay(Instant t, const date::time_zone* zone) {
  return date::floor<date::days>(zone->to_local(t));
}

Instant Midnight(date::local_days day, const date::time_zone* zone) {
  return std::chrono::time_point_cast<Millis>(
      zone->to_sys(date::local_seconds(day), date::choose::earliest));
}

// "(provider, model)" style keys for grouping.
using Key = std::vector<std::string>;

}  // namespace

std::string_view TypeName(EventType type) {
  switch (type) {
    case EventType::kSignup:
      return "user.signup";
    case EventType::kSignin:
      return "user.signin";
    case EventType::kSignout:
      return "user.signout";
    case EventType::kPlanUpgrade:
      return "user.plan_upgrade";
    case EventType::kPlanDowngrade:
      return "user.plan_downgrade";
    case EventType::kMessageSent:
      return "chat.message_sent";
    case EventType::kConversationCreated:
      return "chat.conversation_created";
    case EventType::kConversationDeleted:
      return "chat.conversation_deleted";
    case EventType::kPaymentSuccess:
      return "billing.payment_success";
    case EventType::kPaymentFailed:
      return "billing.payment_failed";
    case EventType::kSubscriptionCreated:
      return "billing.subscription_created";
    case EventType::kSubscriptionCancelled:
      return "billing.subscription_cancelled";
  }
  return "?";
}

std::optional<std::int64_t> ParseDecimal(std::string_view text, int decimals) {
  std::int64_t whole = 0;
  std::size_t i = 0;
  bool digits = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    whole = whole * 10 + (text[i] - '0');
    digits = true;
  }
  std::int64_t frac = 0;
  int frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      digits = true;
      if (frac_digits < decimals) {
        frac = frac * 10 + (text[i] - '0');
        ++frac_digits;
      } else if (text[i] != '0') {
        return std::nullopt;
      }
    }
  }
  if (!digits || i != text.size()) return std::nullopt;
  for (; frac_digits < decimals; ++frac_digits) frac *= 10;
  std::int64_t scale = 1;
  for (int k = 0; k < decimals; ++k) scale *= 10;
  return whole * scale + frac;
}

std::string FormatDecimal(std::int64_t units, int decimals) {
  std::int64_t scale = 1;
  for (int k = 0; k < decimals; ++k) scale *= 10;
  std::string out = std::to_string(units / scale);
  std::string frac = std::to_string(units % scale);
  frac.insert(0, static_cast<std::size_t>(decimals) - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  if (!frac.empty()) out += "." + frac;
  return out;
}

int PlanCatalog::IntervalOf(const std::string& plan) const {
  const auto it = interval_months.find(plan);
  return it == interval_months.end() ? 1 : it->second;
}

std::string_view GranularityName(Granularity g) {
  switch (g) {
    case Granularity::kHour:
      return "hour";
    case Granularity::kDay:
      return "day";
    case Granularity::kWeek:
      return "week";
    case Granularity::kMonth:
      return "month";
  }
  return "?";
}

std::optional<Granularity> ParseGranularity(std::string_view text) {
  for (auto g : {Granularity::kHour, Granularity::kDay, Granularity::kWeek, Granularity::kMonth}) {
    if (GranularityName(g) == text) return g;
  }
  return std::nullopt;
}

const std::vector<std::string>& Endpoints() {
  static const std::vector<std::string> kAll = {
      "users/count",     "users/growth",         "users/by-plan",        "users/active",
      "users/retention", "chat/messages",        "chat/conversations",   "chat/by-provider",
      "chat/tokens",     "chat/average-session", "revenue/total",        "revenue/mrr",
      "revenue/arr",     "revenue/by-plan",      "revenue/churn-rate",   "providers/usage",
      "providers/costs", "providers/popularity", "providers/performance"};
  return kAll;
}

std::vector<std::string> GroupByValues(std::string_view endpoint) {
  if (endpoint == "chat/messages" || endpoint == "chat/tokens") return {"provider", "model"};
  if (endpoint == "chat/by-provider" || endpoint == "providers/performance") return {"model"};
  if (endpoint == "providers/usage" || endpoint == "providers/costs") return {"model", "bucket"};
  return {};
}

bool HasBuckets(std::string_view endpoint, std::string_view group_by) {
  static const std::set<std::string_view> kSeries = {
      "users/growth",       "users/active",      "users/retention",      "chat/messages",
      "chat/conversations", "chat/tokens",       "chat/average-session", "revenue/mrr",
      "revenue/arr",        "revenue/churn-rate"};
  return kSeries.contains(endpoint) || group_by == "bucket";
}

Instant AlignBucket(Instant t, const date::time_zone* zone, Granularity g) {
  switch (g) {
    case Granularity::kHour: {
      // The local hour: floor in local time, then back with the same offset (the offset of the
      // instant itself, so the repeated hour of a DST end gives two buckets).
      const auto offset = zone->get_info(t).offset;
      const auto local = t + offset;
      return std::chrono::floor<hours>(local) - offset;
    }
    case Granularity::kDay:
      return Midnight(LocalDay(t, zone), zone);
    case Granularity::kWeek: {
      const auto day = LocalDay(t, zone);
      const date::weekday wd{day};
      return Midnight(day - (wd - date::Monday), zone);
    }
    case Granularity::kMonth: {
      const date::year_month_day ymd{LocalDay(t, zone)};
      return Midnight(date::local_days{ymd.year() / ymd.month() / 1}, zone);
    }
  }
  return t;
}

Instant NextBucket(Instant bucket_start, const date::time_zone* zone, Granularity g) {
  switch (g) {
    case Granularity::kHour:
      return AlignBucket(bucket_start + hours(1), zone, g);
    case Granularity::kDay:
      return Midnight(LocalDay(bucket_start, zone) + date::days(1), zone);
    case Granularity::kWeek:
      return Midnight(LocalDay(bucket_start, zone) + date::days(7), zone);
    case Granularity::kMonth: {
      const date::year_month_day ymd{LocalDay(bucket_start, zone)};
      const auto next = date::year_month(ymd.year(), ymd.month()) + date::months(1);
      return Midnight(date::local_days{next / 1}, zone);
    }
  }
  return bucket_start;
}

std::vector<Instant> BucketStarts(Instant start, Instant end, const date::time_zone* zone,
                                  Granularity g, std::size_t max_count) {
  std::vector<Instant> out;
  for (Instant b = AlignBucket(start, zone, g); b < end && out.size() <= max_count;
       b = NextBucket(b, zone, g)) {
    out.push_back(b);
  }
  return out;
}

std::string FormatInstant(Instant t, const date::time_zone* zone) {
  const auto secs = std::chrono::floor<seconds>(t);
  const auto offset = zone->get_info(secs).offset;
  const auto local = secs + offset;
  const auto day = std::chrono::floor<date::days>(local);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<seconds> tod{local - day};
  const long off = offset.count();
  const long abs_off = off < 0 ? -off : off;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld%c%02ld:%02ld",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long>(tod.hours().count()),
                static_cast<long>(tod.minutes().count()), static_cast<long>(tod.seconds().count()),
                off < 0 ? '-' : '+', abs_off / 3600, abs_off % 3600 / 60);
  return buf;
}

std::optional<Instant> ResolveDateParam(std::string_view text, const date::time_zone* zone,
                                        bool is_end) {
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > text.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  const auto y = num(0, 4), mo = num(5, 2), d = num(8, 2);
  if (!y || !mo || !d || text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const date::year_month_day ymd{date::year(*y), date::month(static_cast<unsigned>(*mo)),
                                 date::day(static_cast<unsigned>(*d))};
  if (!ymd.ok()) return std::nullopt;
  const date::local_days day{ymd};
  if (text.size() == 10) return Midnight(is_end ? day + date::days(1) : day, zone);

  const auto h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  if (text[10] != 'T' || !h || !mi || !s || text[13] != ':' || text[16] != ':') return std::nullopt;
  std::size_t pos = 19;
  Millis frac{0};
  if (pos < text.size() && text[pos] == '.') {
    int digits = 0;
    int ms = 0;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++digits) {
      if (digits < 3) ms = ms * 10 + (text[pos] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 3; ++k) ms *= 10;
    frac = Millis(ms);
  }
  if (pos >= text.size()) return std::nullopt;  // no offset
  seconds offset{0};
  if (text[pos] == 'Z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    const auto oh = num(pos + 1, 2), om = num(pos + 4, 2);
    if (!oh || !om || text[pos + 3] != ':') return std::nullopt;
    offset = hours(*oh) + std::chrono::minutes(*om);
    if (text[pos] == '-') offset = -offset;
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const date::sys_days sys_day{ymd};
  return Instant(sys_day) + hours(*h) + std::chrono::minutes(*mi) + seconds(*s) + frac - offset;
}

struct Oracle::Frame {
  const Query& q;
  std::vector<Instant> starts;  // bucket starts (empty for answers without buckets)
  std::vector<Instant> ends;    // the next bucket's start, not clipped to the range

  bool InRange(Instant t) const { return t >= q.start && t < q.end; }
  Instant ClipStart(std::size_t i) const { return std::max(starts[i], q.start); }
  Instant ClipEnd(std::size_t i) const { return std::min(ends[i], q.end); }
  std::size_t IndexOf(Instant t) const {
    return static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end(), t) -
                                    starts.begin()) -
           1;
  }
  std::string Label(std::size_t i) const { return FormatInstant(starts[i], q.zone); }
};

struct Oracle::BillingState {
  bool subscribed = false;
  bool paid = false;
  std::string currency;
  Int128 mrr = 0;  // units of 1e-4 / kMrrScale

  Int128 MrrIn(const std::string& c) const { return currency == c ? mrr : 0; }
};

Oracle::Oracle(std::vector<Event> events, PlanCatalog plans, std::vector<ModelPrice> prices,
               std::chrono::minutes session_gap)
    : plans_(std::move(plans)), prices_(std::move(prices)), session_gap_(session_gap) {
  std::set<std::string> seen;
  for (auto& e : events) {
    if (seen.insert(e.id).second) events_.push_back(std::move(e));
  }
  std::sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
    return std::tie(a.timestamp, a.id) < std::tie(b.timestamp, b.id);
  });
  for (const auto& e : events_) {
    by_user_[e.user_id].push_back(&e);
    if (e.type == EventType::kSignup && !first_signup_.contains(e.user_id))
      first_signup_[e.user_id] = &e;
    if (e.type == EventType::kSubscriptionCreated || e.type == EventType::kSubscriptionCancelled ||
        e.type == EventType::kPaymentSuccess) {
      billing_[e.user_id].push_back(&e);
    }
  }
}

const Event* Oracle::FirstSignup(const std::string& user) const {
  const auto it = first_signup_.find(user);
  return it == first_signup_.end() ? nullptr : it->second;
}

Oracle::BillingState Oracle::StateAt(const std::vector<const Event*>& billing, Instant t) const {
  BillingState s;
  std::int64_t amount = 0;
  int interval = 1;
  for (const Event* e : billing) {
    if (e->timestamp >= t) break;
    switch (e->type) {
      case EventType::kSubscriptionCreated:
        s.subscribed = true;
        break;
      case EventType::kSubscriptionCancelled:
        s.subscribed = false;
        break;
      case EventType::kPaymentSuccess:
        s.paid = true;
        s.currency = e->currency;
        amount = e->amount;
        interval = plans_.IntervalOf(e->plan);
        break;
      default:
        break;
    }
  }
  if (interval < 1 || interval > 12 || kMrrScale % interval != 0) {
    throw std::invalid_argument("billing interval outside 1..12 months");
  }
  if (s.subscribed && s.paid) s.mrr = static_cast<Int128>(amount) * (kMrrScale / interval);
  return s;
}

bool Oracle::EverAboveZeroBefore(const std::vector<const Event*>& billing, Instant from,
                                 const std::string& currency) const {
  for (const Event* e : billing) {
    if (e->timestamp >= from) break;
    if (StateAt(billing, e->timestamp + Millis(1)).MrrIn(currency) > 0) return true;
  }
  return false;
}

std::optional<Int128> Oracle::CostOf(const Event& m) const {
  if (m.cost_usd) return static_cast<Int128>(*m.cost_usd) * 1'000'000;  // 1e-9 -> 1e-15
  const ModelPrice* entry = nullptr;
  for (const auto& p : prices_) {
    if (p.provider != m.provider || p.model != m.model) continue;
    if (Instant(p.effective_from) > m.timestamp) continue;
    if (entry == nullptr || p.effective_from > entry->effective_from) entry = &p;
  }
  if (entry == nullptr) return std::nullopt;
  // tokens x (1e-9 USD per 1M tokens) = 1e-15 USD.
  if (m.input_tokens && m.output_tokens && entry->input_per_million && entry->output_per_million) {
    return static_cast<Int128>(*m.input_tokens) * *entry->input_per_million +
           static_cast<Int128>(*m.output_tokens) * *entry->output_per_million;
  }
  if (entry->blended_per_million)
    return static_cast<Int128>(m.tokens) * *entry->blended_per_million;
  return std::nullopt;
}

json::object Oracle::Expect(const Query& q) const {
  const auto allowed = GroupByValues(q.endpoint);
  if (std::find(Endpoints().begin(), Endpoints().end(), q.endpoint) == Endpoints().end()) {
    throw std::invalid_argument("unknown endpoint " + q.endpoint);
  }
  if (!q.group_by.empty() &&
      std::find(allowed.begin(), allowed.end(), q.group_by) == allowed.end()) {
    throw std::invalid_argument("groupBy " + q.group_by + " not allowed on " + q.endpoint);
  }
  Frame f{q, {}, {}};
  if (HasBuckets(q.endpoint, q.group_by)) {
    f.starts = BucketStarts(q.start, q.end, q.zone, q.granularity);
    for (const auto& b : f.starts) f.ends.push_back(NextBucket(b, q.zone, q.granularity));
  }
  const auto& ep = q.endpoint;
  if (ep == "users/count") return UsersCount(f);
  if (ep == "users/growth") return UsersGrowth(f);
  if (ep == "users/by-plan") return UsersByPlan(f);
  if (ep == "users/active") return UsersActive(f);
  if (ep == "users/retention") return UsersRetention(f);
  if (ep == "chat/messages") return ChatMessages(f);
  if (ep == "chat/conversations") return ChatConversations(f);
  if (ep == "chat/by-provider") return ChatByProvider(f);
  if (ep == "chat/tokens") return ChatTokens(f);
  if (ep == "chat/average-session") return ChatAverageSession(f);
  if (ep == "revenue/total") return RevenueTotal(f);
  if (ep == "revenue/mrr") return RevenueMrr(f, false);
  if (ep == "revenue/arr") return RevenueMrr(f, true);
  if (ep == "revenue/by-plan") return RevenueByPlan(f);
  if (ep == "revenue/churn-rate") return RevenueChurnRate(f);
  if (ep == "providers/usage") return ProvidersUsage(f);
  if (ep == "providers/costs") return ProvidersCosts(f);
  if (ep == "providers/popularity") return ProvidersPopularity(f);
  return ProvidersPerformance(f);
}

// Users.

json::object Oracle::UsersCount(const Frame& f) const {
  std::int64_t total = 0;
  std::int64_t fresh = 0;
  for (const auto& [user, signup] : first_signup_) {
    if (signup->timestamp < f.q.end) ++total;
    if (f.InRange(signup->timestamp)) ++fresh;
  }
  return {{"data", json::array{json::object{{"totalUsers", total}, {"newUsers", fresh}}}}};
}

json::object Oracle::UsersGrowth(const Frame& f) const {
  json::array rows;
  for (std::size_t i = 0; i < f.starts.size(); ++i) {
    std::int64_t fresh = 0;
    std::int64_t total = 0;
    for (const auto& [user, signup] : first_signup_) {
      if (signup->timestamp < f.ClipEnd(i)) ++total;
      if (signup->timestamp >= f.ClipStart(i) && signup->timestamp < f.ClipEnd(i)) ++fresh;
    }
    rows.push_back(
        json::object{{"bucket", f.Label(i)}, {"newUsers", fresh}, {"totalUsers", total}});
  }
  return {{"data", rows}};
}

json::object Oracle::UsersByPlan(const Frame& f) const {
  std::map<std::string, std::int64_t> users_by_plan;
  for (const auto& [user, signup] : first_signup_) {
    if (signup->timestamp >= f.q.end) continue;
    std::string plan = signup->plan;
    for (const Event* e : by_user_.at(user)) {  // sorted by (timestamp, id): the last one wins
      if (e->timestamp >= f.q.end) break;
      if (e->type == EventType::kPlanUpgrade || e->type == EventType::kPlanDowngrade)
        plan = e->to_plan;
    }
    ++users_by_plan[plan];
  }
  std::vector<std::pair<std::string, std::int64_t>> sorted(users_by_plan.begin(),
                                                           users_by_plan.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  json::array rows;
  for (const auto& [plan, n] : sorted) rows.push_back(json::object{{"plan", plan}, {"users", n}});
  return {{"data", rows}};
}

json::object Oracle::UsersActive(const Frame& f) const {
  std::vector<std::set<std::string>> active(f.starts.size());
  for (const auto& e : events_) {
    if (IsActivity(e.type) && f.InRange(e.timestamp))
      active[f.IndexOf(e.timestamp)].insert(e.user_id);
  }
  json::array rows;
  for (std::size_t i = 0; i < f.starts.size(); ++i) {
    rows.push_back(json::object{{"bucket", f.Label(i)},
                                {"activeUsers", static_cast<std::int64_t>(active[i].size())}});
  }
  // The last N calendar days in tz ending at the range end: the day holding the range's last
  // instant and the N-1 days before it; events before startDate count too.
  const auto last_day = LocalDay(f.q.end - Millis(1), f.q.zone);
  auto window = [&](int days) {
    const Instant from = Midnight(last_day - date::days(days - 1), f.q.zone);
    std::set<std::string> users;
    for (const auto& e : events_) {
      if (IsActivity(e.type) && e.timestamp >= from && e.timestamp < f.q.end)
        users.insert(e.user_id);
    }
    return static_cast<std::int64_t>(users.size());
  };
  const auto dau = window(1), wau = window(7), mau = window(30);
  json::object summary{{"dau", dau}, {"wau", wau}, {"mau", mau}, {"stickiness", Ratio(dau, mau)}};
  return {{"data", rows}, {"summary", summary}};
}

json::object Oracle::UsersRetention(const Frame& f) const {
  const std::size_t n = f.starts.size();
  std::map<std::size_t, std::vector<std::string>> cohorts;  // bucket index -> members
  for (const auto& [user, signup] : first_signup_) {
    if (f.InRange(signup->timestamp)) cohorts[f.IndexOf(signup->timestamp)].push_back(user);
  }
  std::map<std::string, std::set<std::size_t>> active_buckets;
  for (const auto& e : events_) {
    if (IsActivity(e.type) && f.InRange(e.timestamp))
      active_buckets[e.user_id].insert(f.IndexOf(e.timestamp));
  }
  json::array rows;
  for (const auto& [c, members] : cohorts) {
    const auto size = static_cast<std::int64_t>(members.size());
    json::array periods;
    for (std::size_t k = 0; c + k < n; ++k) {
      std::int64_t active = 0;
      for (const auto& u : members) {
        const auto it = active_buckets.find(u);
        if (it != active_buckets.end() && it->second.contains(c + k)) ++active;
      }
      periods.push_back(json::object{{"period", static_cast<std::int64_t>(k)},
                                     {"activeUsers", active},
                                     {"rate", Ratio(active, size)}});
    }
    rows.push_back(json::object{{"cohort", f.Label(c)}, {"users", size}, {"periods", periods}});
  }
  return {{"data", rows}};
}

// Chat.

namespace {

std::string GroupValue(const Event& e, const std::string& group_by) {
  if (group_by == "provider") return e.provider;
  if (group_by == "model") return e.model;
  return {};
}

}  // namespace

json::object Oracle::ChatMessages(const Frame& f) const {
  std::set<std::string> values;
  std::map<std::pair<std::size_t, std::string>, std::int64_t> count;
  std::int64_t total = 0;
  for (const auto& e : events_) {
    if (e.type != EventType::kMessageSent || !f.InRange(e.timestamp)) continue;
    const auto v = GroupValue(e, f.q.group_by);
    values.insert(v);
    ++count[{f.IndexOf(e.timestamp), v}];
    ++total;
  }
  if (f.q.group_by.empty()) values = {""};
  json::array rows;
  for (std::size_t i = 0; i < f.starts.size(); ++i) {
    for (const auto& v : values) {
      json::object row{{"bucket", f.Label(i)}};
      if (!f.q.group_by.empty()) row[f.q.group_by] = v;
      const auto it = count.find({i, v});
      row["messages"] = it == count.end() ? 0 : it->second;
      rows.push_back(std::move(row));
    }
  }
  return {{"data", rows}, {"summary", json::object{{"messages", total}}}};
}

json::object Oracle::ChatConversations(const Frame& f) const {
  std::vector<std::int64_t> created(f.starts.size()), deleted(f.starts.size());
  std::int64_t total_created = 0, total_deleted = 0;
  for (const auto& e : events_) {
    if (!f.InRange(e.timestamp)) continue;
    if (e.type == EventType::kConversationCreated) {
      ++created[f.IndexOf(e.timestamp)];
      ++total_created;
    } else if (e.type == EventType::kConversationDeleted) {
      ++deleted[f.IndexOf(e.timestamp)];
      ++total_deleted;
    }
  }
  json::array rows;
  for (std::size_t i = 0; i < f.starts.size(); ++i) {
    rows.push_back(
        json::object{{"bucket", f.Label(i)}, {"created", created[i]}, {"deleted", deleted[i]}});
  }
  return {{"data", rows},
          {"summary", json::object{{"created", total_created}, {"deleted", total_deleted}}}};
}

json::object Oracle::ChatByProvider(const Frame& f) const {
  struct Acc {
    std::int64_t messages = 0;
    std::int64_t tokens = 0;
    std::set<std::string> users;
  };
  std::map<Key, Acc> groups;
  std::int64_t total = 0;
  for (const auto& e : events_) {
    if (e.type != EventType::kMessageSent || !f.InRange(e.timestamp)) continue;
    Key key{e.provider};
    if (f.q.group_by == "model") key.push_back(e.model);
    auto& a = groups[key];
    ++a.messages;
    a.tokens += e.tokens;
    a.users.insert(e.user_id);
    ++total;
  }
  std::vector<std::pair<Key, const Acc*>> sorted;
  for (const auto& [k, a] : groups) sorted.emplace_back(k, &a);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) {
    return x.second->messages > y.second->messages;
  });
  json::array rows;
  for (const auto& [key, a] : sorted) {
    json::object row{{"provider", key[0]}};
    if (key.size() > 1) row["model"] = key[1];
    row["messages"] = a->messages;
    row["tokens"] = a->tokens;
    row["users"] = static_cast<std::int64_t>(a->users.size());
    row["share"] = Ratio(a->messages, total);
    rows.push_back(std::move(row));
  }
  return {{"data", rows}};
}

json::object Oracle::ChatTokens(const Frame& f) const {
  struct Acc {
    std::int64_t tokens = 0, input = 0, output = 0, messages = 0;
  };
  std::set<std::string> values;
  std::map<std::pair<std::size_t, std::string>, Acc> acc;
  for (const auto& e : events_) {
    if (e.type != EventType::kMessageSent || !f.InRange(e.timestamp)) continue;
    const auto v = GroupValue(e, f.q.group_by);
    values.insert(v);
    auto& a = acc[{f.IndexOf(e.timestamp), v}];
    a.tokens += e.tokens;
    if (e.input_tokens && e.output_tokens) {
      a.input += *e.input_tokens;
      a.output += *e.output_tokens;
    }
    ++a.messages;
  }
  if (f.q.group_by.empty()) values = {""};
  json::array rows;
  for (std::size_t i = 0; i < f.starts.size(); ++i) {
    for (const auto& v : values) {
      json::object row{{"bucket", f.Label(i)}};
      if (!f.q.group_by.empty()) row[f.q.group_by] = v;
      const auto it = acc.find({i, v});
      const Acc a = it == acc.end() ? Acc{} : it->second;
      row["tokens"] = a.tokens;
      row["inputTokens"] = a.input;
      row["outputTokens"] = a.output;
      row["messages"] = a.messages;
      row["avgTokensPerMessage"] = Ratio(a.tokens, a.messages);
      rows.push_back(std::move(row));
    }
  }
  return {{"data", rows}};
}

json::object Oracle::ChatAverageSession(const Frame& f) const {
  std::vector<std::vector<std::int64_t>> durations(f.starts.size());  // ms, by start bucket
  for (const auto& [user, list] : by_user_) {
    std::optional<Instant> first, last;
    auto close = [&] {
      if (first) durations[f.IndexOf(*first)].push_back((*last - *first).count());
    };
    for (const Event* e : list) {
      if (!IsActivity(e->type) || !f.InRange(e->timestamp)) continue;
      if (first && e->timestamp - *last > session_gap_) {
        close();
        first.reset();
      }
      if (!first) first = e->timestamp;
      last = e->timestamp;
    }
    close();
  }
  auto stats = [](std::vector<std::int64_t> v, json::object row) {
    std::sort(v.begin(), v.end());
    const auto n = static_cast<std::int64_t>(v.size());
    row["sessions"] = n;
    if (n == 0) {
      row["avgDurationSeconds"] = nullptr;
      row["medianDurationSeconds"] = nullptr;
      return row;
    }
    std::int64_t sum = 0;
    for (auto d : v) sum += d;
    row["avgDurationSeconds"] = static_cast<double>(sum) / static_cast<double>(n) / 1000.0;
    const auto mid = static_cast<std::size_t>(n / 2);
    const double median_ms =
        n % 2 == 1 ? static_cast<double>(v[mid])
                   : (static_cast<double>(v[mid - 1]) + static_cast<double>(v[mid])) / 2.0;
    row["medianDurationSeconds"] = median_ms / 1000.0;
    return row;
  };
  json::array rows;
  std::vector<std::int64_t> all;
  for (std::size_t i = 0; i < f.starts.size(); ++i) {
    rows.push_back(stats(durations[i], json::object{{"bucket", f.Label(i)}}));
    all.insert(all.end(), durations[i].begin(), durations[i].end());
  }
  return {{"data", rows}, {"summary", stats(all, {})}};
}

// Revenue.

json::object Oracle::RevenueTotal(const Frame& f) const {
  std::map<std::string, std::pair<Int128, std::int64_t>> by_currency;  // 1e-4 units, count
  std::int64_t payments = 0, failed = 0;
  for (const auto& e : events_) {
    if (!f.InRange(e.timestamp)) continue;
    if (e.type == EventType::kPaymentSuccess) {
      auto& [sum, n] = by_currency[e.currency];
      sum += e.amount;
      ++n;
      ++payments;
    } else if (e.type == EventType::kPaymentFailed) {
      ++failed;
    }
  }
  std::vector<std::pair<std::string, std::pair<Int128, std::int64_t>>> sorted(by_currency.begin(),
                                                                              by_currency.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  json::array rows;
  for (const auto& [currency, v] : sorted) {
    rows.push_back(json::object{
        {"currency", currency}, {"revenue", Cents(v.first, 100)}, {"payments", v.second}});
  }
  return {{"data", rows},
          {"summary", json::object{{"payments", payments}, {"failedPayments", failed}}}};
}

namespace {

// A customer's MRR movements in one currency, exact.
struct Movements {
  Int128 start = 0, end = 0, fresh = 0, expansion = 0, contraction = 0, churned = 0,
         reactivation = 0;
};

// Adds one customer's move from `prev` to `cur`: new only if they were never above 0 before.
void Classify(Int128 prev, Int128 cur, const std::function<bool()>& ever_above_zero, Movements& m) {
  if (prev == cur) return;
  if (prev == 0) {
    (ever_above_zero() ? m.reactivation : m.fresh) += cur;
  } else if (cur == 0) {
    m.churned += prev;
  } else if (cur > prev) {
    m.expansion += cur - prev;
  } else {
    m.contraction += prev - cur;
  }
}

}  // namespace

json::object Oracle::RevenueMrr(const Frame& f, bool arr) const {
  std::set<std::string> currencies;
  for (const auto& e : events_) {
    if (e.type == EventType::kPaymentSuccess && e.timestamp < f.q.end)
      currencies.insert(e.currency);
  }
  json::array rows;
  for (std::size_t i = 0; i < f.starts.size(); ++i) {
    const Instant from = f.ClipStart(i), to = f.ClipEnd(i);
    for (const auto& c : currencies) {
      Movements m;
      for (const auto& [user, billing] : billing_) {
        const auto prev = StateAt(billing, from).MrrIn(c);
        const auto cur = StateAt(billing, to).MrrIn(c);
        m.start += prev;
        m.end += cur;
        Classify(prev, cur, [&] { return EverAboveZeroBefore(billing, from, c); }, m);
      }
      if (arr) {
        rows.push_back(json::object{
            {"bucket", f.Label(i)}, {"currency", c}, {"arr", Cents(12 * m.end, kMrrUnitsPerCent)}});
        continue;
      }
      rows.push_back(json::object{{"bucket", f.Label(i)},
                                  {"currency", c},
                                  {"mrr", Cents(m.end, kMrrUnitsPerCent)},
                                  {"newMrr", Cents(m.fresh, kMrrUnitsPerCent)},
                                  {"expansionMrr", Cents(m.expansion, kMrrUnitsPerCent)},
                                  {"contractionMrr", Cents(m.contraction, kMrrUnitsPerCent)},
                                  {"churnedMrr", Cents(m.churned, kMrrUnitsPerCent)},
                                  {"reactivationMrr", Cents(m.reactivation, kMrrUnitsPerCent)}});
    }
  }
  return {{"data", rows}};
}

json::object Oracle::RevenueByPlan(const Frame& f) const {
  std::map<Key, std::pair<Int128, std::int64_t>> groups;
  for (const auto& e : events_) {
    if (e.type != EventType::kPaymentSuccess || !f.InRange(e.timestamp)) continue;
    auto& [sum, n] = groups[Key{e.plan, e.currency}];
    sum += e.amount;
    ++n;
  }
  std::vector<std::pair<Key, std::pair<Int128, std::int64_t>>> sorted(groups.begin(), groups.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  json::array rows;
  for (const auto& [key, v] : sorted) {
    rows.push_back(json::object{{"plan", key[0]},
                                {"currency", key[1]},
                                {"revenue", Cents(v.first, 100)},
                                {"payments", v.second}});
  }
  return {{"data", rows}};
}

json::object Oracle::RevenueChurnRate(const Frame& f) const {
  std::set<std::string> currencies;
  for (const auto& e : events_) {
    if (e.type == EventType::kPaymentSuccess && e.timestamp < f.q.end)
      currencies.insert(e.currency);
  }
  json::array rows;
  for (std::size_t i = 0; i < f.starts.size(); ++i) {
    const Instant from = f.ClipStart(i), to = f.ClipEnd(i);
    std::int64_t at_start = 0, churned_customers = 0;
    std::map<std::string, Movements> by_currency;
    for (const auto& [user, billing] : billing_) {
      const auto s0 = StateAt(billing, from);
      const auto s1 = StateAt(billing, to);
      if (s0.subscribed) {
        ++at_start;
        if (!s1.subscribed) ++churned_customers;
      }
      for (const auto& c : currencies) {
        auto& m = by_currency[c];
        const auto prev = s0.MrrIn(c), cur = s1.MrrIn(c);
        m.start += prev;
        Classify(prev, cur, [&] { return EverAboveZeroBefore(billing, from, c); }, m);
      }
    }
    json::object mrr;
    for (const auto& c : currencies) {
      const auto& m = by_currency[c];
      mrr[c] =
          json::object{{"startMrr", Cents(m.start, kMrrUnitsPerCent)},
                       {"churnedMrr", Cents(m.churned, kMrrUnitsPerCent)},
                       {"contractionMrr", Cents(m.contraction, kMrrUnitsPerCent)},
                       {"expansionMrr", Cents(m.expansion, kMrrUnitsPerCent)},
                       {"reactivationMrr", Cents(m.reactivation, kMrrUnitsPerCent)},
                       {"grossMrrChurnRate", Ratio(m.churned + m.contraction, m.start)},
                       {"netMrrChurnRate",
                        Ratio(m.churned + m.contraction - m.expansion - m.reactivation, m.start)}};
    }
    rows.push_back(json::object{{"bucket", f.Label(i)},
                                {"customersAtStart", at_start},
                                {"churnedCustomers", churned_customers},
                                {"customerChurnRate", Ratio(churned_customers, at_start)},
                                {"mrr", mrr}});
  }
  return {{"data", rows}};
}

// Providers.

namespace {

// Rows of a providers/* answer: key = (provider), (provider, model) or (bucket index, provider).
// Sorted by the caller.
template <typename Acc>
using Groups = std::map<std::pair<std::int64_t, Key>, Acc>;

}  // namespace

json::object Oracle::ProvidersUsage(const Frame& f) const {
  struct Acc {
    std::int64_t messages = 0, tokens = 0, input = 0, output = 0;
    std::set<std::string> users, conversations;
  };
  const bool by_bucket = f.q.group_by == "bucket";
  Groups<Acc> groups;
  std::set<std::string> providers;
  for (const auto& e : events_) {
    if (e.type != EventType::kMessageSent || !f.InRange(e.timestamp)) continue;
    providers.insert(e.provider);
    Key key{e.provider};
    if (f.q.group_by == "model") key.push_back(e.model);
    auto& a = groups[{by_bucket ? static_cast<std::int64_t>(f.IndexOf(e.timestamp)) : 0, key}];
    ++a.messages;
    a.tokens += e.tokens;
    if (e.input_tokens && e.output_tokens) {
      a.input += *e.input_tokens;
      a.output += *e.output_tokens;
    }
    a.users.insert(e.user_id);
    a.conversations.insert(e.conversation_id);
  }
  auto row_of = [&](const Key& key, const Acc& a) {
    json::object row{{"provider", key[0]}};
    if (key.size() > 1) row["model"] = key[1];
    row["messages"] = a.messages;
    row["tokens"] = a.tokens;
    row["inputTokens"] = a.input;
    row["outputTokens"] = a.output;
    row["users"] = static_cast<std::int64_t>(a.users.size());
    row["conversations"] = static_cast<std::int64_t>(a.conversations.size());
    return row;
  };
  json::array rows;
  if (by_bucket) {
    for (std::size_t i = 0; i < f.starts.size(); ++i) {
      for (const auto& p : providers) {
        const auto it = groups.find({static_cast<std::int64_t>(i), Key{p}});
        json::object row{{"bucket", f.Label(i)}};
        for (auto& kv : row_of(Key{p}, it == groups.end() ? Acc{} : it->second))
          row[kv.key()] = kv.value();
        rows.push_back(std::move(row));
      }
    }
    return {{"data", rows}};
  }
  std::vector<std::pair<Key, const Acc*>> sorted;
  for (const auto& [k, a] : groups) sorted.emplace_back(k.second, &a);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) {
    return x.second->messages > y.second->messages;
  });
  for (const auto& [key, a] : sorted) rows.push_back(row_of(key, *a));
  return {{"data", rows}};
}

json::object Oracle::ProvidersCosts(const Frame& f) const {
  struct Acc {
    Int128 cost = 0;  // 1e-15 USD
    std::int64_t messages = 0, unpriced = 0;
  };
  const bool by_bucket = f.q.group_by == "bucket";
  Groups<Acc> groups;
  std::set<std::string> providers;
  for (const auto& e : events_) {
    if (e.type != EventType::kMessageSent || !f.InRange(e.timestamp)) continue;
    providers.insert(e.provider);
    Key key{e.provider};
    if (f.q.group_by == "model") key.push_back(e.model);
    auto& a = groups[{by_bucket ? static_cast<std::int64_t>(f.IndexOf(e.timestamp)) : 0, key}];
    ++a.messages;
    if (const auto cost = CostOf(e)) {
      a.cost += *cost;
    } else {
      ++a.unpriced;
    }
  }
  auto row_of = [&](json::object row, const Key& key, const Acc& a) {
    row["provider"] = key[0];
    if (key.size() > 1) row["model"] = key[1];
    row["costUsd"] = Micros(a.cost);
    row["messages"] = a.messages;
    row["unpricedMessages"] = a.unpriced;
    return row;
  };
  json::array rows;
  if (by_bucket) {
    for (std::size_t i = 0; i < f.starts.size(); ++i) {
      for (const auto& p : providers) {
        const auto it = groups.find({static_cast<std::int64_t>(i), Key{p}});
        rows.push_back(row_of(json::object{{"bucket", f.Label(i)}}, Key{p},
                              it == groups.end() ? Acc{} : it->second));
      }
    }
    return {{"data", rows}};
  }
  std::vector<std::pair<Key, const Acc*>> sorted;
  for (const auto& [k, a] : groups) sorted.emplace_back(k.second, &a);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& x, const auto& y) { return x.second->cost > y.second->cost; });
  for (const auto& [key, a] : sorted) rows.push_back(row_of({}, key, *a));
  return {{"data", rows}};
}

json::object Oracle::ProvidersPopularity(const Frame& f) const {
  struct Acc {
    std::int64_t messages = 0;
    std::set<std::string> users;
  };
  std::map<Key, Acc> groups;
  std::int64_t total = 0;
  for (const auto& e : events_) {
    if (e.type != EventType::kMessageSent || !f.InRange(e.timestamp)) continue;
    auto& a = groups[Key{e.provider, e.model}];
    ++a.messages;
    a.users.insert(e.user_id);
    ++total;
  }
  std::vector<std::pair<Key, const Acc*>> sorted;
  for (const auto& [k, a] : groups) sorted.emplace_back(k, &a);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) {
    return x.second->messages > y.second->messages;
  });
  json::array rows;
  const auto limit = static_cast<std::size_t>(f.q.limit);
  for (std::size_t r = 0; r < sorted.size() && r < limit; ++r) {
    const auto& [key, a] = sorted[r];
    rows.push_back(json::object{{"rank", static_cast<std::int64_t>(r + 1)},
                                {"provider", key[0]},
                                {"model", key[1]},
                                {"messages", a->messages},
                                {"users", static_cast<std::int64_t>(a->users.size())},
                                {"share", Ratio(a->messages, total)}});
  }
  if (sorted.size() > limit) {
    std::int64_t messages = 0;
    std::set<std::string> users;
    for (std::size_t r = limit; r < sorted.size(); ++r) {
      messages += sorted[r].second->messages;
      users.insert(sorted[r].second->users.begin(), sorted[r].second->users.end());
    }
    rows.push_back(json::object{{"rank", static_cast<std::int64_t>(limit + 1)},
                                {"provider", "(other)"},
                                {"model", "(other)"},
                                {"messages", messages},
                                {"users", static_cast<std::int64_t>(users.size())},
                                {"share", Ratio(messages, total)}});
  }
  return {{"data", rows}};
}

json::object Oracle::ProvidersPerformance(const Frame& f) const {
  std::map<Key, std::vector<std::int64_t>> groups;
  for (const auto& e : events_) {
    if (e.type != EventType::kMessageSent || !f.InRange(e.timestamp) || !e.latency_ms) continue;
    Key key{e.provider};
    if (f.q.group_by == "model") key.push_back(e.model);
    groups[key].push_back(*e.latency_ms);
  }
  std::vector<std::pair<Key, std::vector<std::int64_t>>> sorted(groups.begin(), groups.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& x, const auto& y) { return x.second.size() > y.second.size(); });
  json::array rows;
  for (auto& [key, v] : sorted) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    std::int64_t sum = 0;
    for (auto x : v) sum += x;
    // Nearest rank as ClickHouse's quantileExact: v[min(n-1, floor(q*n))].
    auto pct = [&](double level) {
      return v[std::min(n - 1, static_cast<std::size_t>(level * static_cast<double>(n)))];
    };
    json::object row{{"provider", key[0]}};
    if (key.size() > 1) row["model"] = key[1];
    row["messages"] = static_cast<std::int64_t>(n);
    row["avgLatencyMs"] = static_cast<double>(sum) / static_cast<double>(n);
    row["p50LatencyMs"] = pct(0.5);
    row["p95LatencyMs"] = pct(0.95);
    row["p99LatencyMs"] = pct(0.99);
    rows.push_back(std::move(row));
  }
  return {{"data", rows}};
}

}  // namespace e2e::oracle
