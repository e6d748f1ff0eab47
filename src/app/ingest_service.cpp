#include "app/ingest_service.hpp"

#include <fmt/format.h>

#include <boost/unordered/unordered_flat_set.hpp>

#include "base/log.hpp"

namespace app {

IngestService::IngestService(EventStore& store, const Pseudonymizer& pseudonymizer,
                             const base::Clock& clock, IngestMetrics& metrics, Options options,
                             WriteObserver* observer)
    : store_(store),
      observer_(observer),
      pseudonymizer_(pseudonymizer),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      window_(options.dedup_horizon, options.dedup_max_ids) {}

IngestService::~IngestService() { Stop(); }

base::Status IngestService::Start() {
  const auto started = std::chrono::steady_clock::now();
  auto ids = store_.RecentEventIds(clock_.Now() - options_.dedup_horizon);
  if (!ids) return base::Fail(ids.error());
  for (const auto& id : *ids) window_.Insert(domain::KeyOf(id.event_id), id.stored_at);
  window_.Expire(clock_.Now());
  base::log::Info("ingest.dedup_window_loaded",
                  {{"ids", window_.Size()},
                   {"horizon_s", options_.dedup_horizon.count() / 1000},
                   {"ms", std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - started)
                              .count()}});
  std::lock_guard lock(mutex_);
  window_size_ = window_.Size();
  running_ = true;
  writer_ = std::thread([this] { WriterLoop(); });
  return {};
}

void IngestService::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
}

std::size_t IngestService::DedupWindowSize() const {
  std::lock_guard lock(mutex_);
  return window_size_;
}

domain::Event PrepareEvent(domain::DecodedEvent decoded, const Pseudonymizer& pseudonymizer) {
  domain::Event e = std::move(decoded.event);
  e.user_id = pseudonymizer.PseudonymizeId(e.user_id);
  if (!e.subscription_ref.empty()) e.subscription_ref = pseudonymizer.PseudonymizeId(e.subscription_ref);
  if (!decoded.id_was_sent) e.event_id = pseudonymizer.DeriveEventId(domain::CanonicalForm(e));
  return e;
}

void IngestService::Ingest(std::string_view source, std::vector<domain::DecodeResult> decoded,
                           IngestCallback done) {
  Submission s;
  s.results.resize(decoded.size());
  s.events.reserve(decoded.size());
  metrics_.EventsReceived(source, decoded.size());
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    if (decoded[i]) {
      s.events.push_back(Prepare(std::move(*decoded[i])));
      s.results[i].event_id = s.events.back().event_id;
      s.result_index.push_back(i);
    } else {
      metrics_.EventRejected(source, decoded[i].error().code);
      s.results[i].rejection = std::move(decoded[i].error());
    }
  }
  if (s.events.empty()) {
    done(std::move(s.results));
    return;
  }
  s.done = std::move(done);
  s.enqueued = std::chrono::steady_clock::now();
  {
    std::unique_lock lock(mutex_);
    if (!running_ || stopping_) {
      lock.unlock();
      s.done(base::Fail(base::Error::Unavailable("the service is shutting down")));
      return;
    }
    if (pending_events_ + s.events.size() > options_.max_pending_events && pending_events_ > 0) {
      lock.unlock();
      s.done(base::Fail(base::Error{base::ErrorCode::kResourceExhausted,
                                    "too many events waiting to be stored; retry shortly", ""}));
      return;
    }
    pending_events_ += s.events.size();
    metrics_.PendingEvents(pending_events_);
    pending_.push_back(std::move(s));
  }
  wake_.notify_one();
}

void IngestService::WriterLoop() {
  std::vector<Submission> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty() && stopping_) return;
      // Give concurrent senders a moment to join this batch, unless it is already full.
      const auto deadline = pending_.front().enqueued + options_.max_delay;
      wake_.wait_until(lock, deadline, [&] {
        return stopping_ || pending_events_ >= options_.max_batch_events;
      });
      std::size_t taken = 0;
      while (!pending_.empty() &&
             (taken == 0 || taken + pending_.front().events.size() <= options_.max_batch_events)) {
        taken += pending_.front().events.size();
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      pending_events_ -= taken;
      metrics_.PendingEvents(pending_events_);
    }
    Flush(batch);
    batch.clear();
    std::lock_guard lock(mutex_);
    window_size_ = window_.Size();
  }
}

void IngestService::Flush(std::vector<Submission>& batch) {
  const auto started = std::chrono::steady_clock::now();
  std::size_t submitted = 0;
  for (const auto& s : batch) submitted += s.events.size();
  std::vector<domain::Event> rows;
  std::vector<domain::IdKey> keys;
  rows.reserve(submitted);
  keys.reserve(submitted);
  boost::unordered_flat_set<domain::IdKey, decltype([](domain::IdKey k) {
                              return static_cast<std::size_t>(k.lo);
                            })>
      in_batch;
  std::size_t duplicates = 0;
  for (auto& s : batch) {
    for (std::size_t i = 0; i < s.events.size(); ++i) {
      auto& result = s.results[s.result_index[i]];
      const auto key = domain::KeyOf(s.events[i].event_id);
      if (window_.Contains(key) || !in_batch.insert(key).second) {
        result.outcome = EventOutcome::kDuplicate;
        ++duplicates;
        continue;
      }
      result.outcome = EventOutcome::kStored;
      keys.push_back(key);
      rows.push_back(std::move(s.events[i]));
    }
  }
  base::Status status;
  if (!rows.empty()) {
    if (observer_ != nullptr) observer_->BeforeWrite(rows);
    status = store_.Append(rows);
    if (observer_ != nullptr) observer_->AfterWrite(rows);
  }
  if (!status) {
    metrics_.BatchFailed();
    base::log::Error("ingest.batch_failed",
                     {{"events", rows.size()}, {"error", status.error().message}});
    for (auto& s : batch) {
      s.done(base::Fail(base::Error::Unavailable(
          "storage is unavailable; nothing from this request was acknowledged, retry it")));
    }
    return;
  }
  const auto now = clock_.Now();
  for (const auto key : keys) window_.Insert(key, now);
  window_.Expire(now);
  const std::chrono::duration<double> latency = std::chrono::steady_clock::now() - started;
  metrics_.BatchStored(rows.size(), latency);
  if (duplicates > 0) metrics_.EventsDuplicate(duplicates);
  base::log::Debug("ingest.batch_stored", {{"events", rows.size()},
                                           {"duplicates", duplicates},
                                           {"submissions", batch.size()},
                                           {"ms", latency.count() * 1000}});
  for (auto& s : batch) s.done(std::move(s.results));
}

}  // namespace app
