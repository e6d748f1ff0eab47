#include "app/message_policy.hpp"

#include <gtest/gtest.h>

namespace app {
namespace {

std::vector<EventResult> Results(std::initializer_list<EventOutcome> outcomes) {
  std::vector<EventResult> out;
  for (const auto o : outcomes) {
    EventResult r;
    r.outcome = o;
    if (o == EventOutcome::kRejected) r.rejection = {"invalid_json", "", "not JSON"};
    out.push_back(r);
  }
  return out;
}

TEST(DecideMessageAction, StoredAndDuplicateMessagesAreAcked) {
  const base::Result<std::vector<EventResult>> batch =
      Results({EventOutcome::kStored, EventOutcome::kDuplicate});
  EXPECT_EQ(DecideMessageAction(batch, 0), MessageAction::kAck);
  EXPECT_EQ(DecideMessageAction(batch, 1), MessageAction::kAck);
}

TEST(DecideMessageAction, RejectedMessagesAreDeadLetteredAndOnlyThey) {
  const base::Result<std::vector<EventResult>> batch =
      Results({EventOutcome::kStored, EventOutcome::kRejected, EventOutcome::kStored});
  EXPECT_EQ(DecideMessageAction(batch, 0), MessageAction::kAck);
  EXPECT_EQ(DecideMessageAction(batch, 1), MessageAction::kDeadLetter);
  EXPECT_EQ(DecideMessageAction(batch, 2), MessageAction::kAck);
}

TEST(DecideMessageAction, AFailedBatchIsHeldForRetryNeverDeadLettered) {
  for (const auto code : {base::ErrorCode::kUnavailable, base::ErrorCode::kResourceExhausted,
                          base::ErrorCode::kInternal}) {
    const base::Result<std::vector<EventResult>> batch = base::Fail(base::Error{code, "down", ""});
    EXPECT_EQ(DecideMessageAction(batch, 0), MessageAction::kHoldAndRetry);
    EXPECT_EQ(DecideMessageAction(batch, 7), MessageAction::kHoldAndRetry);
  }
}

}  // namespace
}  // namespace app
