#include "loadgen/generator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

namespace loadgen {
namespace {

using domain::EventType;

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kNever = INT64_MAX;

constexpr std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// The splitmix64 finalizer. It is a bijection on 64-bit values, which is what makes event ids
// unique by construction (see kSequenceBits).
constexpr std::uint64_t Mix(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr std::uint64_t Hash(std::uint64_t a, std::uint64_t b) {
  return Mix(a ^ Mix(b + 0x9e3779b97f4a7c15ULL));
}

constexpr double UnitInterval(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// libm's exp may differ in the last bit between C libraries. This one uses only basic IEEE
// arithmetic and exact scaling, so it rounds the same everywhere and output stays byte-identical.
double Exp(double x) {
  static constexpr std::array<double, 12> kInverseFactorials = [] {
    std::array<double, 12> c{};
    double f = 1.0;
    for (std::size_t i = 0; i < c.size(); ++i) {
      c[i] = 1.0 / f;
      f *= static_cast<double>(i + 1);
    }
    return c;
  }();
  constexpr double kLn2 = 0.6931471805599453094;
  const double k = std::floor(x / kLn2 + 0.5);
  const double r = x - k * kLn2;  // |r| <= ln2/2: degree 11 leaves an error below 1e-12
  double sum = kInverseFactorials.back();
  for (std::size_t i = kInverseFactorials.size() - 1; i-- > 0;) {
    sum = sum * r + kInverseFactorials[i];
  }
  // Scaling by a power of two built from its bits is exact; k stays far from the subnormals.
  const auto scale =
      std::bit_cast<double>(static_cast<std::uint64_t>(static_cast<std::int64_t>(k) + 1023) << 52);
  return sum * scale;
}

/// splitmix64: tiny, fast, and its sequence is fixed by its definition, unlike `std::`
/// distributions whose algorithms differ between standard libraries.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return Mix(state_);
  }
  double Uniform() { return UnitInterval(Next()); }
  bool Chance(double p) { return Uniform() < p; }
  /// Uniform in [0, n); the multiply-shift bias is below 2^-32 for the n used here.
  std::uint64_t Below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  /// Uniform in [lo, hi].
  std::int64_t Between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(Below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  /// Approximately standard normal (Irwin-Hall of four uniforms): tails end at 3.46 sigma,
  /// which the clamps applied to every quantity make irrelevant.
  double Normal() {
    const std::uint64_t a = Next();
    const std::uint64_t b = Next();
    constexpr double kScale = 0x1.0p-32;
    const double sum =
        static_cast<double>(a >> 32) * kScale + static_cast<double>(a & 0xffffffffULL) * kScale +
        static_cast<double>(b >> 32) * kScale + static_cast<double>(b & 0xffffffffULL) * kScale;
    return (sum - 2.0) * 1.7320508075688772;
  }
  double LogNormal(double median, double sigma) { return median * Exp(sigma * Normal()); }

  template <std::size_t N>
  std::size_t Pick(const std::array<std::uint32_t, N>& weights) {
    std::uint64_t total = 0;
    for (const auto w : weights) total += w;
    std::uint64_t x = Below(total);
    for (std::size_t i = 0; i < N; ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return N - 1;
  }

 private:
  std::uint64_t state_;
};

enum Plan : std::uint8_t { kFree, kPro, kTeam };
constexpr std::array<std::string_view, 3> kPlanNames = {"free", "pro", "team"};
constexpr std::array<std::uint32_t, 3> kSignupPlanWeights = {70, 22, 8};

enum Currency : std::uint8_t { kUsd, kEur, kGbp };
constexpr std::array<std::string_view, 3> kCurrencyCodes = {"USD", "EUR", "GBP"};
// Monthly list prices in cents, [plan][currency]; team is per seat.
constexpr std::array<std::array<std::int64_t, 3>, 3> kPriceCents = {{
    {0, 0, 0},
    {2000, 1900, 1600},
    {5000, 4700, 4000},
}};
constexpr std::array<std::uint32_t, 9> kSeatWeights = {30, 20, 15, 10, 8, 6, 5, 3, 3};  // 2..10

constexpr std::array<std::string_view, 3> kFailureReasons = {"card_declined", "insufficient_funds",
                                                             "expired_card"};
constexpr std::array<std::uint32_t, 3> kFailureReasonWeights = {50, 30, 20};

// Stripe-like dunning: a failed renewal is retried after these delays (from the first failure);
// when the last retry fails too the subscription is cancelled.
constexpr std::array<std::int64_t, 3> kRetryAfter = {2 * kDay, 5 * kDay, 9 * kDay};
constexpr double kRenewalFailure = 0.06;
constexpr double kRetrySuccess = 0.5;

// Monthly hazards of voluntary plan changes. Upgrades outnumber downgrades overall because most
// users are on free.
constexpr double kMonthlyFreeUpgrade = 0.07;
constexpr double kMonthlyReactivation = 0.10;
constexpr double kMonthlyProCancel = 0.04;
constexpr double kMonthlyProToTeam = 0.015;
constexpr double kMonthlyTeamCancel = 0.03;
constexpr double kMonthlyTeamToPro = 0.02;

struct Model {
  std::string_view provider;
  std::string_view name;
  std::uint32_t popularity;
  // Prices in nano-USD per token (USD per million tokens times 1000), so cost is exact.
  std::int64_t input_nano_usd;
  std::int64_t output_nano_usd;
  double first_token_ms;
  double ms_per_output_token;
};
constexpr std::array<Model, 8> kModels = {{
    {"openai", "gpt-4o-mini", 28, 150, 600, 350, 6},
    {"openai", "gpt-4o", 22, 2500, 10000, 450, 9},
    {"anthropic", "claude-sonnet-4", 16, 3000, 15000, 650, 10},
    {"google", "gemini-2.0-flash", 10, 100, 400, 300, 4},
    {"anthropic", "claude-haiku-3.5", 8, 800, 4000, 400, 7},
    {"openai", "o3-mini", 6, 1100, 4400, 2500, 8},  // reasons before it answers
    {"google", "gemini-1.5-pro", 5, 1250, 5000, 600, 10},
    {"mistral", "mistral-large", 5, 2000, 6000, 500, 10},
}};
constexpr std::array<std::uint32_t, kModels.size()> kModelPopularity = [] {
  std::array<std::uint32_t, kModels.size()> w{};
  for (std::size_t i = 0; i < kModels.size(); ++i) w[i] = kModels[i].popularity;
  return w;
}();

struct Zone {
  std::int64_t offset_minutes;  // no daylight saving: a fixed offset is enough for load
  Currency currency;
};
constexpr std::array<Zone, 11> kZones = {{
    {-480, kUsd},
    {-360, kUsd},
    {-300, kUsd},
    {-180, kUsd},
    {0, kGbp},
    {60, kEur},
    {120, kEur},
    {330, kUsd},
    {480, kUsd},
    {540, kUsd},
    {600, kUsd},
}};
constexpr std::array<std::uint32_t, kZones.size()> kZoneWeights = {10, 8, 20, 5, 10, 20,
                                                                   5,  8, 6,  5, 3};

// Local hour at which an active day's first session starts.
constexpr std::array<std::uint32_t, 24> kHourWeights = {
    2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 10, 11, 12, 12, 11, 10, 9, 9, 9, 8, 6, 4};

// Titles are user content, hence the quotes, backslashes, tab and non-ASCII text: they exercise
// the consumer's JSON unescaping.
constexpr std::array<std::string_view, 26> kTitles = {
    "New chat",
    "Summarize Q3 board deck",
    "Debug Python import error",
    "Email to landlord about repairs",
    "Regex for \"quoted\" strings",
    "Translate menu to Spanish",
    "Why does C:\\Users\\me\\AppData fill up?",
    "R\u00e9sum\u00e9 feedback",
    "SQL: top 10 customers by revenue",
    "Plan a 3-day trip to Lisbon",
    "Marketing copy \u2013 spring launch",
    "Refactor React component",
    "Write unit tests for parser",
    "Meal plan for the week",
    "Kubernetes pod CrashLoopBackOff",
    "Birthday poem for mom",
    "Compare Postgres vs ClickHouse",
    "Clean up\ttab-separated export",
    "Cover letter draft",
    "Fix \"undefined is not a function\"",
    "\u65e5\u672c\u8a9e\u306e\u7ffb\u8a33\u30c1\u30a7\u30c3\u30af",
    "Naming ideas for a bakery",
    "Explain transformers like I'm 5",
    "Budget spreadsheet formulas",
    "Code review: pull request #482",
    "Customer support reply template",
};
constexpr std::array<std::uint32_t, kTitles.size()> kTitleWeights = {
    30, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 3, 2, 3, 3, 3, 3, 3};

// Common first octets of public IPv4 space (no private, loopback or multicast ranges).
constexpr std::array<std::uint8_t, 20> kFirstOctets = {
    24, 31, 37, 45, 62, 66, 73, 81, 84, 88, 92, 98, 104, 109, 151, 176, 185, 188, 203, 212};

// Calibration of Scenario::events_per_user_month: the average valid events per 30 days of
// membership when the daily activity scale is 1, measured with the defaults below.
constexpr double kEventsPerMonthAtUnitScale = 93.0;

struct Params {
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::uint64_t users = 0;
  std::uint64_t seed = 0;
  std::uint64_t first_number = 1;
  // Scenario::events_per_user_month as factors of the calibrated defaults: below 1 users are
  // active on fewer days; above, on more days (up to nearly every day) with longer sessions.
  double day_scale = 1.0;
  double session_scale = 1.0;
};

/// Fixed traits of one simulated user.
struct UserProfile {
  std::uint64_t number = 0;
  std::int64_t signup = 0;
  std::int64_t tz = 0;  // offset of local time, ms
  Plan signup_plan = kFree;
  Currency currency = kUsd;
  std::int64_t seats = 1;
  double activity = 1.0;         // multiplier of the daily chance to be active, mean about 1
  double retention_floor = 0.0;  // long-run fraction of the first week's activity
  std::uint8_t favourite_model = 0;
  std::uint8_t ip_count = 1;
  std::array<std::uint32_t, 3> ips{};
};

/// One event before rendering. Fields a type does not use stay zero.
struct Record {
  std::int64_t t = 0;
  std::uint32_t order = 0;  // creation order: breaks ties in time deterministically
  EventType type = EventType::kUserSignup;
  std::uint8_t plan = 0;  // planTier, toPlan, planId
  std::uint8_t from_plan = 0;
  std::uint8_t model = 0;
  std::uint8_t reason = 0;
  std::uint8_t ip = 0;
  bool with_cost = false;
  std::uint32_t conversation = 0;
  std::uint32_t session = 0;
  std::uint32_t subscription = 0;
  std::uint32_t title = 0;
  std::uint32_t input_tokens = 0;
  std::uint32_t output_tokens = 0;
  std::uint32_t latency_ms = 0;
  std::int64_t amount_cents = 0;
};

std::int64_t LocalDayStart(std::int64_t t, std::int64_t tz) {
  return FloorDiv(t + tz, kDay) * kDay - tz;
}

// Stripe renews on the anchor's day of month, or on the month's last day when it is shorter.
std::int64_t AddMonths(std::int64_t anchor, int months) {
  using namespace std::chrono;
  const sys_days day{days{FloorDiv(anchor, kDay)}};
  const std::int64_t time_of_day = anchor - day.time_since_epoch().count() * kDay;
  const year_month_day ymd{day};
  const year_month ym = year_month{ymd.year(), ymd.month()} + std::chrono::months{months};
  const auto last = year_month_day_last{ym.year(), month_day_last{ym.month()}}.day();
  const sys_days renewal{ym.year() / ym.month() / std::min(ymd.day(), last)};
  return renewal.time_since_epoch().count() * kDay + time_of_day;
}

UserProfile MakeProfile(const Params& params, std::uint64_t index) {
  Rng rng(Hash(params.seed ^ 0x5eedf00dULL, params.first_number + index));
  UserProfile u;
  u.number = params.first_number + index;
  // Stratified over users, so ids grow with signup time like an auto-increment; the density of
  // signups grows linearly to 2.5 times its initial value by the end of the period.
  constexpr double kGrowth = 1.5;
  const double q = (static_cast<double>(index) + rng.Uniform()) / static_cast<double>(params.users);
  const double x = (std::sqrt(1.0 + 2.0 * kGrowth * (1.0 + kGrowth / 2.0) * q) - 1.0) / kGrowth;
  const std::int64_t span = params.end - params.start;
  u.signup = std::min(params.start + static_cast<std::int64_t>(x * static_cast<double>(span)),
                      params.end - 1);

  const Zone& zone = kZones[rng.Pick(kZoneWeights)];
  u.tz = zone.offset_minutes * kMinute;
  u.currency = rng.Chance(0.85) ? zone.currency : kUsd;
  u.signup_plan = static_cast<Plan>(rng.Pick(kSignupPlanWeights));
  u.seats = 2 + static_cast<std::int64_t>(rng.Pick(kSeatWeights));
  u.activity = Exp(0.8 * rng.Normal() - 0.32) * (u.signup_plan == kFree ? 1.0 : 1.4);
  u.retention_floor = rng.Chance(0.3) ? 0.0 : 0.3 + 0.5 * rng.Uniform();
  u.favourite_model = static_cast<std::uint8_t>(rng.Pick(kModelPopularity));
  u.ip_count = static_cast<std::uint8_t>(1 + rng.Below(3));
  for (auto& ip : u.ips) {
    ip = static_cast<std::uint32_t>(kFirstOctets[rng.Below(kFirstOctets.size())]) << 24 |
         static_cast<std::uint32_t>(rng.Below(256)) << 16 |
         static_cast<std::uint32_t>(rng.Below(256)) << 8 |
         static_cast<std::uint32_t>(rng.Between(1, 254));
  }
  return u;
}

/// Plays one user's life from signup to the end of the period, appending records in roughly
/// chronological order (billing and activity are separate timelines; the caller sorts).
class UserSimulation {
 public:
  UserSimulation(const Params& params, const UserProfile& user, std::vector<Record>& out)
      : params_(params),
        user_(user),
        rng_(Hash(params.seed, user.number)),
        out_(out),
        plan_(user.signup_plan) {}

  void Run() {
    Record signup = NewRecord(user_.signup, EventType::kUserSignup);
    signup.plan = user_.signup_plan;
    Add(signup);
    if (plan_ != kFree) StartSubscription(user_.signup + rng_.Between(5 * kSecond, kMinute), plan_);

    first_day_ = LocalDayStart(user_.signup, user_.tz);
    for (std::int64_t day = first_day_; day < params_.end; day += kDay) {
      const std::int64_t day_end = day + kDay;
      RunBilling(day_end);
      if (day == first_day_) {
        // Most people try the product right after signing up.
        if (rng_.Chance(0.9 * std::min(params_.day_scale, 1.0))) {
          ActiveDay(user_.signup + rng_.Between(20 * kSecond, 3 * kMinute), day_end, true);
        }
        continue;
      }
      ConsiderPlanChange(day);
      const std::int64_t hour = static_cast<std::int64_t>(rng_.Pick(kHourWeights));
      const std::int64_t first = day + hour * kHour + rng_.Between(0, kHour - 1);
      if (rng_.Chance(ActiveChance(day))) ActiveDay(first, day_end, false);
    }
  }

 private:
  struct OpenConversation {
    std::uint32_t number;
    std::uint32_t messages;
  };

  static Record NewRecord(std::int64_t t, EventType type) {
    Record r;
    r.t = t;
    r.type = type;
    return r;
  }

  void Add(Record& r) {
    r.order = static_cast<std::uint32_t>(out_.size());
    out_.push_back(r);
  }

  // Users are keenest in their first week; what stays is the user's floor.
  double Retention(std::int64_t day) const {
    static const std::array<double, 128> kDecay = [] {
      std::array<double, 128> decay{};
      for (std::size_t d = 0; d < decay.size(); ++d) decay[d] = Exp(-static_cast<double>(d) / 7.0);
      return decay;
    }();
    const auto days_in = static_cast<std::size_t>((day - first_day_) / kDay);
    const double decay = days_in < kDecay.size() ? kDecay[days_in] : 0.0;
    return user_.retention_floor + (1.0 - user_.retention_floor) * decay;
  }

  double ActiveChance(std::int64_t day) const {
    const std::int64_t weekday = ((FloorDiv(day + user_.tz, kDay) + 4) % 7 + 7) % 7;  // 0 = Sunday
    const double weekend = (weekday == 0 || weekday == 6) ? 0.55 : 1.0;
    const double p = params_.day_scale * 0.5 * user_.activity * Retention(day) * weekend;
    return std::min(p, 0.97);
  }

  std::int64_t PriceCents(Plan plan) const {
    return kPriceCents[plan][user_.currency] * (plan == kTeam ? user_.seats : 1);
  }

  // Billing. Scheduled renewals and retries run before voluntary changes of the same day, and
  // every billing record is later than the previous one, so the billing timeline is consistent
  // on its own whatever activity is interleaved with it.

  void AddPayment(std::int64_t t, EventType type, std::int64_t cents) {
    Record r = NewRecord(t, type);
    r.plan = plan_;
    r.amount_cents = cents;
    r.reason = failure_reason_;
    Add(r);
    last_billing_ = t;
  }

  void StartSubscription(std::int64_t t, Plan plan) {
    if (plan_ == kFree) {
      Record upgrade = NewRecord(t, EventType::kUserPlanUpgrade);
      upgrade.from_plan = kFree;
      upgrade.plan = plan;
      Add(upgrade);
      t += rng_.Between(kSecond, 3 * kSecond);
    }
    plan_ = plan;
    ++subscriptions_;
    Record created = NewRecord(t, EventType::kBillingSubscriptionCreated);
    created.plan = plan;
    created.subscription = subscriptions_;
    Add(created);
    // The first charge happens while the card is being entered, so it does not fail here.
    t += rng_.Between(2 * kSecond, 6 * kSecond);
    AddPayment(t, EventType::kBillingPaymentSuccess, PriceCents(plan));
    subscribed_ = true;
    ever_paid_ = true;
    anchor_ = t;
    period_ = 1;
    next_renewal_ = AddMonths(anchor_, period_);
    dunning_since_ = kNever;
  }

  void Cancel(std::int64_t t) {
    Record cancelled = NewRecord(t, EventType::kBillingSubscriptionCancelled);
    cancelled.plan = plan_;
    Add(cancelled);
    Record downgrade =
        NewRecord(t + rng_.Between(kSecond, 2 * kSecond), EventType::kUserPlanDowngrade);
    downgrade.from_plan = plan_;
    downgrade.plan = kFree;
    Add(downgrade);
    last_billing_ = downgrade.t;
    last_paid_plan_ = plan_;
    plan_ = kFree;
    subscribed_ = false;
    dunning_since_ = kNever;
  }

  void RunBilling(std::int64_t until) {
    while (subscribed_ && params_.end > last_billing_) {
      if (dunning_since_ != kNever) {
        const std::int64_t retry = dunning_since_ + kRetryAfter[retries_];
        if (retry >= until) return;
        if (rng_.Chance(kRetrySuccess)) {
          AddPayment(retry, EventType::kBillingPaymentSuccess, PriceCents(plan_));
          dunning_since_ = kNever;
        } else {
          AddPayment(retry, EventType::kBillingPaymentFailed, PriceCents(plan_));
          if (++retries_ == kRetryAfter.size()) Cancel(retry + rng_.Between(kMinute, 10 * kMinute));
        }
        continue;
      }
      if (next_renewal_ >= until) return;
      const std::int64_t t = next_renewal_;
      ++period_;
      next_renewal_ = AddMonths(anchor_, period_);
      if (rng_.Chance(kRenewalFailure)) {
        failure_reason_ = static_cast<std::uint8_t>(rng_.Pick(kFailureReasonWeights));
        AddPayment(t, EventType::kBillingPaymentFailed, PriceCents(plan_));
        dunning_since_ = t;
        retries_ = 0;
      } else {
        AddPayment(t, EventType::kBillingPaymentSuccess, PriceCents(plan_));
      }
    }
  }

  void ConsiderPlanChange(std::int64_t day) {
    if (dunning_since_ != kNever) return;
    const double u = rng_.Uniform() * 30.0;  // monthly hazards, one draw per day
    const std::int64_t t = day + rng_.Between(8 * kHour, 22 * kHour);
    // A change must come after every billing event already written (a renewal later today), or
    // that renewal would charge a plan the user no longer has.
    if (t <= last_billing_ + kMinute || t >= params_.end) return;
    if (plan_ == kFree) {
      const double hazard =
          (ever_paid_ ? kMonthlyReactivation : kMonthlyFreeUpgrade) * Retention(day);
      if (u < hazard) {
        const bool team = ever_paid_ ? last_paid_plan_ == kTeam : rng_.Chance(0.2);
        StartSubscription(t, team ? kTeam : kPro);
      }
      return;
    }
    const double cancel = plan_ == kPro ? kMonthlyProCancel : kMonthlyTeamCancel;
    const double change = plan_ == kPro ? kMonthlyProToTeam : kMonthlyTeamToPro;
    if (u < cancel) {
      Cancel(t);
    } else if (u < cancel + change) {
      ChangePaidPlan(t, plan_ == kPro ? kTeam : kPro);
    }
  }

  void ChangePaidPlan(std::int64_t t, Plan to) {
    const Plan from = plan_;
    const bool upgrade = to == kTeam;
    Record change =
        NewRecord(t, upgrade ? EventType::kUserPlanUpgrade : EventType::kUserPlanDowngrade);
    change.from_plan = from;
    change.plan = to;
    Add(change);
    last_billing_ = t;
    plan_ = to;
    if (!upgrade) return;  // a downgrade simply renews cheaper
    // Prorated charge for the rest of the current period. Tiny prorations are left out: they are
    // noise in revenue charts.
    const std::int64_t period_start = AddMonths(anchor_, period_ - 1);
    const std::int64_t cents =
        (PriceCents(to) - PriceCents(from)) * (next_renewal_ - t) / (next_renewal_ - period_start);
    if (cents >= 100) {
      AddPayment(t + rng_.Between(2 * kSecond, 5 * kSecond), EventType::kBillingPaymentSuccess,
                 cents);
    }
  }

  // Activity.

  void ActiveDay(std::int64_t first, std::int64_t day_end, bool signup_day) {
    std::int64_t cursor = std::max(first, activity_cursor_ + 20 * kMinute);
    int sessions = 1;
    while (sessions < 5 && rng_.Chance(0.45)) ++sessions;
    bool any = false;
    for (int s = 0; s < sessions; ++s) {
      if (s > 0) cursor += rng_.Between(kHour, 5 * kHour);
      if (cursor >= params_.end || cursor >= day_end + 2 * kHour) break;
      if (!any && !signup_day) {
        Record signin = NewRecord(cursor, EventType::kUserSignin);
        signin.ip = static_cast<std::uint8_t>(rng_.Chance(0.7) ? 0 : rng_.Below(user_.ip_count));
        Add(signin);
        cursor += rng_.Between(2 * kSecond, 15 * kSecond);
      }
      any = true;
      cursor = Session(cursor);
    }
    if (any && rng_.Chance(0.45)) {
      cursor += rng_.Between(10 * kSecond, 30 * kMinute);
      Record signout = NewRecord(cursor, EventType::kUserSignout);
      Add(signout);
    }
    activity_cursor_ = std::max(activity_cursor_, cursor);
  }

  std::int64_t Session(std::int64_t cursor) {
    ++sessions_;
    int messages = 1;
    const double more = 1.0 - 0.15 / params_.session_scale;  // 6.7 messages on average at scale 1
    while (messages < 200 && rng_.Chance(more)) ++messages;
    std::size_t conv = 0;
    bool fresh = open_.empty() || rng_.Chance(0.55);
    if (fresh) {
      conv = NewConversation(cursor);
    } else {
      conv = open_.size() - 1 - rng_.Below(std::min<std::size_t>(open_.size(), 5));
    }
    for (int m = 0; m < messages && cursor < params_.end; ++m) {
      if (m > 0 && rng_.Chance(0.07)) {
        cursor += rng_.Between(5 * kSecond, 30 * kSecond);
        conv = NewConversation(cursor);
        fresh = true;
      }
      const std::int64_t think =
          fresh ? rng_.Between(3 * kSecond, 40 * kSecond)
                : std::clamp(static_cast<std::int64_t>(rng_.LogNormal(35.0 * kSecond, 0.9)),
                             3 * kSecond, 10 * kMinute);
      fresh = false;
      cursor = Message(cursor + think, open_[conv]);
    }
    if (!open_.empty() && rng_.Chance(0.07)) {
      cursor += rng_.Between(5 * kSecond, 90 * kSecond);
      const std::size_t victim = rng_.Below(open_.size());
      Record deleted = NewRecord(cursor, EventType::kChatConversationDeleted);
      deleted.conversation = open_[victim].number;
      Add(deleted);
      open_.erase(open_.begin() + static_cast<std::ptrdiff_t>(victim));
    }
    return cursor;
  }

  std::size_t NewConversation(std::int64_t t) {
    // Old conversations are abandoned rather than deleted; forgetting them bounds the list.
    if (open_.size() >= 20) open_.erase(open_.begin());
    ++conversations_;
    Record created = NewRecord(t, EventType::kChatConversationCreated);
    created.conversation = conversations_;
    created.title = static_cast<std::uint32_t>(rng_.Pick(kTitleWeights));
    Add(created);
    open_.push_back({conversations_, 0});
    return open_.size() - 1;
  }

  // Returns the time the reply finished, which is when the chat service publishes the event.
  std::int64_t Message(std::int64_t sent, OpenConversation& conv) {
    const std::size_t model =
        rng_.Chance(0.65) ? user_.favourite_model : rng_.Pick(kModelPopularity);
    const Model& m = kModels[model];
    // The prompt carries the conversation so far, so input grows with its length.
    const double context = 1.0 + 0.3 * static_cast<double>(conv.messages++);
    const auto input = static_cast<std::uint32_t>(
        std::clamp(rng_.LogNormal(180.0, 0.9) * context, 50.0, 4000.0) + 0.5);
    const auto output =
        static_cast<std::uint32_t>(std::clamp(rng_.LogNormal(240.0, 0.85), 20.0, 2000.0) + 0.5);
    const double latency =
        (m.first_token_ms + m.ms_per_output_token * output) * rng_.LogNormal(1.0, 0.25);
    Record r = NewRecord(0, EventType::kChatMessageSent);
    r.latency_ms = static_cast<std::uint32_t>(std::clamp(latency, 150.0, 25000.0) + 0.5);
    r.t = sent + r.latency_ms;
    r.conversation = conv.number;
    r.session = sessions_;
    r.model = static_cast<std::uint8_t>(model);
    r.input_tokens = input;
    r.output_tokens = output;
    r.with_cost = rng_.Chance(0.3);
    Add(r);
    return r.t;
  }

  const Params& params_;
  const UserProfile& user_;
  Rng rng_;
  std::vector<Record>& out_;

  Plan plan_;
  Plan last_paid_plan_ = kPro;
  bool subscribed_ = false;
  bool ever_paid_ = false;
  std::uint32_t subscriptions_ = 0;
  std::int64_t anchor_ = 0;
  int period_ = 0;
  std::int64_t next_renewal_ = kNever;
  std::int64_t dunning_since_ = kNever;
  std::size_t retries_ = 0;
  std::uint8_t failure_reason_ = 0;
  std::int64_t last_billing_ = 0;

  std::int64_t first_day_ = 0;
  std::int64_t activity_cursor_ = 0;
  std::uint32_t sessions_ = 0;
  std::uint32_t conversations_ = 0;
  std::vector<OpenConversation> open_;
};

/// Sorts one user's records into time order and makes their timestamps strictly increasing, so
/// that no two events of a user share a millisecond (content-derived ids stay distinct); drops
/// what then falls at or after the end of the period. Every invariant the simulation keeps
/// holds for any prefix of a timeline, so this truncation preserves them.
void Arrange(std::vector<Record>& records, std::int64_t end) {
  std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    return a.t != b.t ? a.t < b.t : a.order < b.order;
  });
  for (std::size_t i = 1; i < records.size(); ++i) {
    if (records[i].t <= records[i - 1].t) records[i].t = records[i - 1].t + 1;
  }
  while (!records.empty() && records.back().t >= end) records.pop_back();
}

enum class Corruption : std::uint8_t {
  kNone,
  kUnknownType,
  kMissingUserId,
  kBadTimestamp,
  kNotJson,
  kWrongFieldType,
};
constexpr std::uint64_t kCorruptionKinds = 5;

constexpr std::array<std::string_view, 5> kUnknownTypes = {"user.deleted", "chat.message_received",
                                                           "billing.refund_issued", "User.Signup",
                                                           "chat.message-sent"};
constexpr std::array<std::string_view, 3> kNumericCurrencies = {"840", "978", "826"};

/// A bounded line buffer: appends are a plain copy, never a reallocation. The longest event (a
/// message) is under 400 bytes and titles are short literals, so the bound is never reached;
/// reaching it would be a bug in this file.
class Line {
 public:
  static constexpr std::size_t kCapacity = 4096;

  void Clear() { size_ = 0; }
  std::size_t Size() const { return size_; }
  std::string_view View() const { return {data_.data(), size_}; }
  char* Data() { return data_.data(); }

  Line& Put(char c) {
    Reserve(1);
    data_[size_++] = c;
    return *this;
  }
  Line& Put(std::string_view text) {
    Reserve(text.size());
    std::memcpy(data_.data() + size_, text.data(), text.size());
    size_ += text.size();
    return *this;
  }
  // Literals: the length is a constant, so the copy compiles to a few moves.
  template <std::size_t N>
  Line& Put(const char (&literal)[N]) {
    return Put(std::string_view(literal, N - 1));
  }
  Line& PutUint(std::uint64_t value) {
    const fmt::format_int text(value);
    return Put(std::string_view(text.data(), text.size()));
  }
  Line& PutTwoDigits(std::int64_t value) {
    Reserve(2);
    data_[size_++] = static_cast<char>('0' + value / 10);
    data_[size_++] = static_cast<char>('0' + value % 10);
    return *this;
  }
  void Truncate(std::size_t size) { size_ = std::min(size, size_); }
  void Insert(std::size_t pos, char c) {
    Reserve(1);
    std::memmove(data_.data() + pos + 1, data_.data() + pos, size_ - pos);
    data_[pos] = c;
    ++size_;
  }

 private:
  void Reserve(std::size_t n) {
    if (size_ + n > kCapacity) [[unlikely]]
      Overflow();
  }
  [[noreturn, gnu::cold, gnu::noinline]] static void Overflow() {
    throw std::length_error("loadgen: event line over 4 KiB");
  }

  std::array<char, kCapacity> data_;
  std::size_t size_ = 0;
};

void PutEscaped(Line& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text) {
    switch (c) {
      case '"':
        out.Put("\\\"");
        break;
      case '\\':
        out.Put("\\\\");
        break;
      case '\n':
        out.Put("\\n");
        break;
      case '\r':
        out.Put("\\r");
        break;
      case '\t':
        out.Put("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out.Put("\\u00").Put(kHex[(c >> 4) & 0xf]).Put(kHex[c & 0xf]);
        } else {
          out.Put(c);  // UTF-8 passes through: JSON text is UTF-8
        }
    }
  }
}

void PutCents(Line& out, std::int64_t cents) {
  out.PutUint(static_cast<std::uint64_t>(cents / 100)).Put('.').PutTwoDigits(cents % 100);
}

void PutNanoUsd(Line& out, std::int64_t nano) {
  constexpr std::int64_t kNanoPerUnit = 1'000'000'000;
  out.PutUint(static_cast<std::uint64_t>(nano / kNanoPerUnit));
  std::int64_t fraction = nano % kNanoPerUnit;
  if (fraction == 0) return;
  char digits[9];
  for (int i = 8; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  std::size_t length = 9;
  while (digits[length - 1] == '0') --length;
  out.Put('.').Put(std::string_view(digits, length));
}

// A UUID v4 in text form, as docs/events.md asks producers to send. All 64 bits of `unique` are
// kept (in the version 4 and variant fields' free bits and the last two groups), so distinct
// values give distinct UUIDs; the first 48 bits are filler derived from it.
void PutUuid(Line& out, std::uint64_t unique) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::uint64_t filler = Mix(unique ^ 0x6a09e667f3bcc909ULL);
  char text[36];
  const auto hex = [&](int from, int count, std::uint64_t value) {
    for (int i = from + count - 1; i >= from; --i) {
      text[i] = kHex[value & 0xf];
      value >>= 4;
    }
  };
  hex(0, 8, filler >> 32);
  text[8] = '-';
  hex(9, 4, filler >> 16);
  text[13] = '-';
  text[14] = '4';
  hex(15, 3, unique >> 52);
  text[18] = '-';
  text[19] = kHex[8 | ((unique >> 50) & 0x3)];
  hex(20, 3, unique >> 38);
  text[23] = '-';
  hex(24, 12, (unique & ((std::uint64_t{1} << 38) - 1)) | (filler & 0x3ff) << 38);
  out.Put(std::string_view(text, sizeof text));
}

/// Writes a JSON object member by member, placing the commas. Keys are literals that need no
/// escaping; values are escaped only where they can hold user content.
class JsonObject {
 public:
  explicit JsonObject(Line& out) : out_(out) { out_.Put('{'); }

  template <std::size_t N>
  Line& Key(const char (&key)[N]) {
    if (!first_) out_.Put(',');
    first_ = false;
    return out_.Put('"').Put(key).Put("\":");
  }
  template <std::size_t N>
  void Plain(const char (&key)[N], std::string_view value) {
    Key(key).Put('"').Put(value).Put('"');
  }
  template <std::size_t N>
  void Text(const char (&key)[N], std::string_view value) {
    Key(key).Put('"');
    PutEscaped(out_, value);
    out_.Put('"');
  }
  template <std::size_t N>
  void Uint(const char (&key)[N], std::uint64_t value) {
    Key(key).PutUint(value);
  }
  void Close() { out_.Put('}'); }

 private:
  Line& out_;
  bool first_ = true;
};

struct RenderOptions {
  std::uint64_t id = 0;
  bool epoch_millis = false;
  Corruption corruption = Corruption::kNone;
  std::uint64_t variant = 0;  // picks among the ways of a corruption
};

/// Turns records into wire JSON. Keeps the current user's strings and the last date written,
/// so that rendering an event allocates nothing.
class Renderer {
 public:
  Renderer(bool with_ids, std::uint64_t seed) : with_ids_(with_ids), seed_(seed) {}

  void SetUser(const UserProfile& user) {
    number_ = user.number;
    currency_ = user.currency;
    digits_.clear();
    fmt::format_to(std::back_inserter(digits_), "{:06}", user.number);
    user_id_.assign("user_").append(digits_);
    email_.clear();
    fmt::format_to(std::back_inserter(email_), "user{}@example.com", user.number);
    for (std::size_t i = 0; i < ips_.size(); ++i) {
      const std::uint32_t ip = user.ips[i];
      ips_[i].clear();
      fmt::format_to(std::back_inserter(ips_[i]), "{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff,
                     (ip >> 8) & 0xff, ip & 0xff);
    }
  }

  void Render(const Record& r, const RenderOptions& o, Line& out) {
    out.Clear();
    JsonObject top(out);
    if (with_ids_) {
      top.Key("id").Put('"');
      PutUuid(out, o.id);
      out.Put('"');
    }
    top.Plain("type", o.corruption == Corruption::kUnknownType
                          ? kUnknownTypes[o.variant % kUnknownTypes.size()]
                          : domain::EventTypeName(r.type));
    top.Key("data");
    JsonObject data(out);
    // A mistyped field is one a producer could plausibly get wrong for this type.
    const bool mistype = o.corruption == Corruption::kWrongFieldType;
    const bool mistype_user = mistype && r.type != EventType::kChatMessageSent &&
                              r.type != EventType::kBillingPaymentSuccess;
    if (o.corruption != Corruption::kMissingUserId) {
      if (mistype_user) {
        data.Uint("userId", number_);
      } else {
        data.Plain("userId", user_id_);
      }
    }
    switch (r.type) {
      case EventType::kUserSignup:
        data.Plain("email", email_);
        data.Plain("planTier", kPlanNames[r.plan]);
        Timestamp(data, r.t, o);
        break;
      case EventType::kUserSignin:
        Timestamp(data, r.t, o);
        data.Plain("ip", ips_[r.ip]);
        break;
      case EventType::kUserSignout:
        Timestamp(data, r.t, o);
        break;
      case EventType::kUserPlanUpgrade:
      case EventType::kUserPlanDowngrade:
        data.Plain("fromPlan", kPlanNames[r.from_plan]);
        data.Plain("toPlan", kPlanNames[r.plan]);
        Timestamp(data, r.t, o);
        break;
      case EventType::kChatMessageSent: {
        const Model& m = kModels[r.model];
        ConversationId(data, r.conversation);
        data.Plain("provider", m.provider);
        data.Plain("model", m.name);
        const std::uint64_t tokens = std::uint64_t{r.input_tokens} + r.output_tokens;
        if (mistype) {
          data.Key("tokens").Put('"').PutUint(tokens).Put('"');
        } else {
          data.Uint("tokens", tokens);
        }
        data.Uint("inputTokens", r.input_tokens);
        data.Uint("outputTokens", r.output_tokens);
        data.Uint("latencyMs", r.latency_ms);
        if (r.with_cost) {
          PutNanoUsd(data.Key("costUsd"), std::int64_t{r.input_tokens} * m.input_nano_usd +
                                              std::int64_t{r.output_tokens} * m.output_nano_usd);
        }
        Timestamp(data, r.t, o);
        data.Key("sessionId").Put("\"sess_").Put(digits_).Put('_').PutUint(r.session).Put('"');
        break;
      }
      case EventType::kChatConversationCreated:
        ConversationId(data, r.conversation);
        data.Text("title", kTitles[r.title]);
        Timestamp(data, r.t, o);
        break;
      case EventType::kChatConversationDeleted:
        ConversationId(data, r.conversation);
        Timestamp(data, r.t, o);
        break;
      case EventType::kBillingPaymentSuccess:
      case EventType::kBillingPaymentFailed:
        PutCents(data.Key("amount"), r.amount_cents);
        if (mistype && r.type == EventType::kBillingPaymentSuccess) {
          data.Key("currency").Put(kNumericCurrencies[currency_]);
        } else {
          data.Plain("currency", kCurrencyCodes[currency_]);
        }
        if (r.type == EventType::kBillingPaymentSuccess) {
          data.Plain("planId", kPlanNames[r.plan]);
        } else {
          data.Plain("reason", kFailureReasons[r.reason]);
        }
        Timestamp(data, r.t, o);
        break;
      case EventType::kBillingSubscriptionCreated:
        data.Plain("planId", kPlanNames[r.plan]);
        data.Key("stripeSubscriptionId").Put("\"sub_");
        PutStripeSuffix(out, r.subscription);
        out.Put('"');
        Timestamp(data, r.t, o);
        break;
      case EventType::kBillingSubscriptionCancelled:
        data.Plain("planId", kPlanNames[r.plan]);
        Timestamp(data, r.t, o);
        break;
    }
    data.Close();
    top.Close();
    if (o.corruption == Corruption::kNotJson) Break(out, o.variant);
  }

 private:
  void ConversationId(JsonObject& data, std::uint32_t conversation) {
    data.Key("conversationId").Put("\"conv_").Put(digits_).Put('_').PutUint(conversation).Put('"');
  }

  // Stripe ids carry 24 or so base62 characters. Derived from the user and the count of their
  // subscriptions, so a resubscription gets a new id.
  void PutStripeSuffix(Line& out, std::uint32_t subscription) const {
    static constexpr std::string_view kAlphabet =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::uint64_t h = Hash(Hash(seed_ ^ 0x5b5c71b7ULL, number_), subscription);
    for (int i = 0; i < 24; ++i) {
      if (i == 12) h = Mix(h ^ 0x2545f4914f6cdd1dULL);
      out.Put(kAlphabet[h % kAlphabet.size()]);
      h /= kAlphabet.size();
    }
  }

  void Timestamp(JsonObject& data, std::int64_t t, const RenderOptions& o) {
    Line& out = data.Key("timestamp");
    if (o.corruption == Corruption::kBadTimestamp) {
      switch (o.variant % 4) {
        case 0:  // no offset: local time or UTC is anyone's guess
          out.Put('"');
          PutIso(out, t);
          out.Truncate(out.Size() - 1);
          out.Put('"');
          return;
        case 1:  // epoch seconds where milliseconds are expected
          out.PutUint(static_cast<std::uint64_t>(t / kSecond));
          return;
        case 2: {  // a locale's format, 28/11/2026 14:03:05
          scratch_.Clear();
          PutIso(scratch_, t);
          const std::string_view iso = scratch_.View();
          out.Put('"').Put(iso.substr(8, 2)).Put('/').Put(iso.substr(5, 2)).Put('/');
          out.Put(iso.substr(0, 4)).Put(' ').Put(iso.substr(11, 8)).Put('"');
          return;
        }
        default:
          out.Put("\"\"");
          return;
      }
    }
    if (o.epoch_millis) {
      out.PutUint(static_cast<std::uint64_t>(t));
      return;
    }
    out.Put('"');
    PutIso(out, t);
    out.Put('"');
  }

  void PutIso(Line& out, std::int64_t t) {
    const std::int64_t day = FloorDiv(t, kDay);
    if (day != cached_day_ || date_.empty()) {
      using namespace std::chrono;
      const year_month_day ymd{sys_days{days{day}}};
      date_.clear();
      fmt::format_to(std::back_inserter(date_), "{:04}-{:02}-{:02}T", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
      cached_day_ = day;
    }
    const std::int64_t ms = t - day * kDay;
    out.Put(date_).PutTwoDigits(ms / kHour).Put(':').PutTwoDigits(ms % kHour / kMinute).Put(':');
    out.PutTwoDigits(ms % kMinute / kSecond)
        .Put('.')
        .Put(static_cast<char>('0' + ms % kSecond / 100));
    out.PutTwoDigits(ms % 100).Put('Z');
  }

  // Makes the line unparseable in ways seen in practice.
  static void Break(Line& out, std::uint64_t variant) {
    switch (variant % 3) {
      case 0:  // cut short, as by a writer that died mid-line
        out.Truncate(out.Size() * 2 / 3);
        break;
      case 1:  // a JavaScript object literal rather than JSON
        std::replace(out.Data(), out.Data() + out.Size(), '"', '\'');
        break;
      default:  // a trailing comma
        out.Insert(out.Size() - 2, ',');
        break;
    }
  }

  bool with_ids_;
  std::uint64_t seed_;
  std::uint64_t number_ = 0;
  Currency currency_ = kUsd;
  std::string digits_;
  std::string user_id_;
  std::string email_;
  std::array<std::string, 3> ips_;
  std::int64_t cached_day_ = 0;
  std::string date_;
  Line scratch_;
};

// Event ids are Mix(user number << 28 | sequence, keyed by the seed): Mix is a bijection, so ids
// are unique within a run (for user numbers below 2^36); bit 27 of the sequence marks invalid
// events. A user would need 2^27 events to overflow the sequence: centuries of activity even at
// the most extreme events_per_user_month.
constexpr int kSequenceBits = 28;
constexpr std::uint64_t kInvalidBit = std::uint64_t{1} << (kSequenceBits - 1);

}  // namespace

Generator::Generator(Scenario scenario) : scenario_(std::move(scenario)) {}

std::uint64_t Generator::Generate(const std::function<void(GeneratedEvent&&)>& sink) {
  const Scenario& s = scenario_;
  if (s.users <= 0 || s.end <= s.start) return 0;
  Params params;
  params.start = s.start.time_since_epoch().count();
  params.end = s.end.time_since_epoch().count();
  params.users = static_cast<std::uint64_t>(s.users);
  params.seed = s.seed;
  params.first_number = s.first_user_number;
  const double scale = std::max(0.0, s.events_per_user_month) / kEventsPerMonthAtUnitScale;
  // Busy users are already active most days, so more volume must mostly come from sessions.
  // Fourth roots by two square roots: sqrt is exactly rounded everywhere, pow is not.
  const double fourth_root = std::sqrt(std::sqrt(scale));
  params.day_scale = scale <= 1.0 ? scale : fourth_root;
  params.session_scale = scale <= 1.0 ? 1.0 : scale / fourth_root;
  const std::uint64_t id_key = Mix(s.seed ^ 0x1dc0ffee5eedULL);
  const std::uint64_t noise_key = Mix(s.seed ^ 0x0150d1ceULL);
  const std::uint64_t limit = s.max_events == 0 ? UINT64_MAX : s.max_events;

  std::vector<Record> records;
  records.reserve(4096);
  Renderer renderer(s.with_ids, s.seed);
  Line line;
  Line bad_line;
  GeneratedEvent event{};
  std::uint64_t emitted = 0;
  // The event handed to the sink is reused: when the sink only reads it, its buffer is kept.
  const auto emit = [&](const Line& json, const Record& r, bool valid, bool duplicate) {
    event.type = r.type;
    event.json.assign(json.View());
    event.valid = valid;
    event.duplicate = duplicate;
    event.timestamp = base::TimePoint(std::chrono::milliseconds(r.t));
    sink(std::move(event));
    return ++emitted < limit;
  };

  for (std::uint64_t index = 0; index < params.users; ++index) {
    const UserProfile user = MakeProfile(params, index);
    records.clear();
    UserSimulation(params, user, records).Run();
    Arrange(records, params.end);
    if (records.size() > kInvalidBit) records.resize(kInvalidBit);
    renderer.SetUser(user);
    const std::uint64_t user_noise = Hash(noise_key, user.number);
    for (std::uint64_t seq = 0; seq < records.size(); ++seq) {
      const Record& r = records[seq];
      // Noise is decided by hashing rather than drawn from the simulation's generator, so the
      // valid events are the same whatever the noise rates.
      const std::uint64_t noise = Hash(user_noise, seq);
      const std::uint64_t id_base = user.number << kSequenceBits | seq;
      RenderOptions o;
      o.id = Mix(id_base ^ id_key);
      o.epoch_millis = UnitInterval(Mix(noise ^ 1)) < s.epoch_millis_rate;
      renderer.Render(r, o, line);
      if (!emit(line, r, true, false)) return emitted;
      if (UnitInterval(Mix(noise ^ 2)) < s.duplicate_rate) {
        if (!emit(line, r, true, true)) return emitted;
      }
      if (UnitInterval(Mix(noise ^ 3)) < s.invalid_rate) {
        o.id = Mix((id_base | kInvalidBit) ^ id_key);
        o.corruption = static_cast<Corruption>(1 + Mix(noise ^ 4) % kCorruptionKinds);
        o.variant = Mix(noise ^ 5);
        renderer.Render(r, o, bad_line);
        if (!emit(bad_line, r, false, false)) return emitted;
      }
    }
  }
  return emitted;
}

Summary Summarize(const Scenario& scenario) {
  Summary summary;
  Generator(scenario).Generate([&summary](GeneratedEvent&& e) {
    ++summary.total;
    summary.bytes += e.json.size();
    if (!e.valid) {
      ++summary.invalid;
      return;
    }
    ++summary.valid;
    if (e.duplicate) {
      ++summary.duplicates;
    } else {
      ++summary.by_type[static_cast<std::size_t>(e.type)];
    }
  });
  return summary;
}

}  // namespace loadgen
