#pragma once

#include "app/ingest_service.hpp"
#include "base/result.hpp"

namespace app {

/// What a queue consumer does with one message.
enum class MessageAction {
  kAck,           ///< stored (or a copy of a stored event): done
  kDeadLetter,    ///< can never succeed (not JSON, unknown type, invalid fields): to the
                  ///< dead-letter queue at once, with its reason, then ack
  kHoldAndRetry,  ///< not the message's fault (storage down, full, slow): keep it unacked in
                  ///< the broker, back off, store again; never nack, so no delivery attempt burns
};

/// The one place that decides ack / dead-letter / retry for a consumed message, from the
/// outcome of its batch (`batch` failed as a whole) and of the message itself.
MessageAction DecideMessageAction(const base::Result<std::vector<EventResult>>& batch,
                                  std::size_t index);

}  // namespace app
