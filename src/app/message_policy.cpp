#include "app/message_policy.hpp"

namespace app {

MessageAction DecideMessageAction(const base::Result<std::vector<EventResult>>& batch,
                                  std::size_t index) {
  // Every failure of a whole submission is about storage or load, never about one message.
  if (!batch) return MessageAction::kHoldAndRetry;
  switch ((*batch)[index].outcome) {
    case EventOutcome::kStored:
    case EventOutcome::kDuplicate: return MessageAction::kAck;
    case EventOutcome::kRejected: return MessageAction::kDeadLetter;
  }
  return MessageAction::kHoldAndRetry;
}

}  // namespace app
