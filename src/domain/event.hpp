#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.hpp"

namespace domain {

/// The twelve event types the platform's auth, chat and billing services publish. The wire name
/// (`user.signup`, ...) doubles as the RabbitMQ routing key.
enum class EventType : std::uint8_t {
  kUserSignup,
  kUserSignin,
  kUserSignout,
  kUserPlanUpgrade,
  kUserPlanDowngrade,
  kChatMessageSent,
  kChatConversationCreated,
  kChatConversationDeleted,
  kBillingPaymentSuccess,
  kBillingPaymentFailed,
  kBillingSubscriptionCreated,
  kBillingSubscriptionCancelled,
};

inline constexpr std::size_t kEventTypeCount = 12;

std::string_view EventTypeName(EventType type);
std::optional<EventType> ParseEventType(std::string_view name);
const std::array<EventType, kEventTypeCount>& AllEventTypes();

/// Fixed-point money: an integer count of 1/10^kScale units. Exact sums, no binary fractions.
template <int kScale>
struct Fixed {
  static constexpr int kDigits = kScale;
  std::int64_t units = 0;
  friend bool operator==(Fixed, Fixed) = default;
};
using Amount = Fixed<4>;   ///< payment amounts in major units (19.99 -> 199900)
using CostUsd = Fixed<9>;  ///< model cost in US dollars (per-message costs are tiny)

/// One validated, pseudonymised event, ready to store. Holds no PII: `user_id` is the keyed
/// pseudonym, e-mail and conversation titles are never kept, `ip_prefix` is truncated.
/// Fields a type does not carry stay empty / zero / nullopt. A plain value type.
struct Event {
  std::string event_id;
  EventType type = EventType::kUserSignup;
  base::TimePoint timestamp{};
  std::string user_id;

  std::string plan;       ///< user.signup planTier; billing.* planId
  std::string from_plan;  ///< plan changes
  std::string to_plan;

  std::string conversation_id;
  std::string session_id;
  std::string provider;
  std::string model;
  std::uint32_t tokens = 0;
  std::optional<std::uint32_t> input_tokens;
  std::optional<std::uint32_t> output_tokens;
  std::optional<std::uint32_t> latency_ms;
  std::optional<CostUsd> cost_usd;

  Amount amount{};
  std::string currency;  ///< ISO 4217, upper case
  std::string reason;    ///< billing.payment_failed
  std::string subscription_ref;  ///< pseudonym of the Stripe subscription id
  std::string ip_prefix;         ///< user.signin: /24 of IPv4, /48 of IPv6

  friend bool operator==(const Event&, const Event&) = default;
};

}  // namespace domain
