#include "domain/event.hpp"

namespace domain {
namespace {

constexpr std::array<std::string_view, kEventTypeCount> kNames = {
    "user.signup",
    "user.signin",
    "user.signout",
    "user.plan_upgrade",
    "user.plan_downgrade",
    "chat.message_sent",
    "chat.conversation_created",
    "chat.conversation_deleted",
    "billing.payment_success",
    "billing.payment_failed",
    "billing.subscription_created",
    "billing.subscription_cancelled",
};

}  // namespace

std::string_view EventTypeName(EventType type) { return kNames[static_cast<std::size_t>(type)]; }

std::optional<EventType> ParseEventType(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

const std::array<EventType, kEventTypeCount>& AllEventTypes() {
  static const std::array<EventType, kEventTypeCount> all = [] {
    std::array<EventType, kEventTypeCount> a{};
    for (std::size_t i = 0; i < kEventTypeCount; ++i) a[i] = static_cast<EventType>(i);
    return a;
  }();
  return all;
}

}  // namespace domain
