#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/ports/event_store.hpp"
#include "app/ports/ingest_metrics.hpp"
#include "app/ports/pseudonymizer.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "domain/dedup_window.hpp"
#include "domain/event_decoder.hpp"

namespace app {

enum class EventOutcome : std::uint8_t { kStored, kDuplicate, kRejected };

/// What became of one event of a submission, in submission order.
struct EventResult {
  EventOutcome outcome = EventOutcome::kRejected;
  std::string event_id;          ///< sent or derived; empty for rejected events
  domain::Rejection rejection;   ///< set for kRejected
};

using IngestCallback = std::function<void(base::Result<std::vector<EventResult>>)>;

/// Replaces raw identifiers with pseudonyms and fills in a derived id where none was sent: what
/// every decoded event goes through before storage (the ingest pipeline, the benchmark baseline).
domain::Event PrepareEvent(domain::DecodedEvent decoded, const Pseudonymizer& pseudonymizer);

/// The one ingest pipeline behind every source (HTTP now, RabbitMQ next): pseudonymises
/// validated events, drops redelivered copies, and group-commits submissions into bounded
/// batches on a single writer thread, so concurrent requests share one storage insert.
///
/// A submission's callback runs exactly once: with per-event results after its events are
/// durable, or with an error (kUnavailable: storage failed, nothing acknowledged;
/// kResourceExhausted: too much pending) so the sender retries. Callbacks run on the writer
/// thread (or inline for submissions with nothing to store) and must not block.
/// Thread-safe: `Ingest` may be called from any thread between `Start` and `Stop`.
class IngestService {
 public:
  struct Options {
    std::size_t max_batch_events = 100'000;
    std::chrono::milliseconds max_delay{5};
    std::size_t max_pending_events = 1'000'000;
    std::chrono::milliseconds dedup_horizon = std::chrono::hours(24);
    std::size_t dedup_max_ids = 20'000'000;
  };

  IngestService(EventStore& store, const Pseudonymizer& pseudonymizer, const base::Clock& clock,
                IngestMetrics& metrics, Options options, WriteObserver* observer = nullptr);
  ~IngestService();
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;

  /// Loads the ids stored within the dedup horizon and starts the writer.
  base::Status Start();
  /// Stores everything already submitted, then stops the writer. Idempotent.
  void Stop();

  void Ingest(std::string_view source, std::vector<domain::DecodeResult> decoded,
              IngestCallback done);

  domain::Event Prepare(domain::DecodedEvent decoded) const {
    return PrepareEvent(std::move(decoded), pseudonymizer_);
  }

  std::size_t DedupWindowSize() const;

 private:
  struct Submission {
    std::vector<EventResult> results;
    std::vector<domain::Event> events;       ///< the valid ones
    std::vector<std::size_t> result_index;   ///< events[i] belongs to results[result_index[i]]
    IngestCallback done;
    std::chrono::steady_clock::time_point enqueued;
  };

  void WriterLoop();
  void Flush(std::vector<Submission>& batch);

  EventStore& store_;
  WriteObserver* observer_;  ///< may be null
  const Pseudonymizer& pseudonymizer_;
  const base::Clock& clock_;
  IngestMetrics& metrics_;
  Options options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Submission> pending_;
  std::size_t pending_events_ = 0;
  bool running_ = false;
  bool stopping_ = false;
  std::thread writer_;

  domain::DedupWindow window_;  // writer thread only (and Start, before it runs)
  std::size_t window_size_ = 0;  // guarded by mutex_, for reporting
};

}  // namespace app
