#include "app/rollup.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace app {

std::uint32_t LatencyBin(std::uint32_t latency_ms) {
  if (latency_ms < kExactLatencyBins) return latency_ms;
  return kExactLatencyBins +
         static_cast<std::uint32_t>(std::floor(std::log(latency_ms / 128.0) / std::log(1.01)));
}

double LatencyBinValue(std::uint32_t bin) {
  if (bin < kExactLatencyBins) return bin;
  return 128.0 * std::pow(1.01, static_cast<double>(bin - kExactLatencyBins) + 0.5);
}

std::size_t SlotData::Bytes() const {
  std::size_t n = sizeof(SlotData) + active.capacity() * sizeof(Active);
  for (const auto& r : records) {
    n += sizeof(Record) + r.event_id.capacity() + r.customer.capacity() + r.plan.capacity() +
         r.currency.capacity();
  }
  for (const auto& m : models) {
    n += sizeof(Model) + m.priced.capacity() * sizeof(Priced) +
         (m.users.capacity() + m.conversations.capacity()) * sizeof(std::uint32_t) +
         m.latency_bins.capacity() * sizeof(m.latency_bins[0]);
  }
  return n;
}

namespace {
// Built slots without events share this one.
const SlotPtr& EmptySlot() {
  static const SlotPtr empty = std::make_shared<const SlotData>();
  return empty;
}

std::size_t SizeOf(const SlotPtr& p) { return p && p != EmptySlot() ? p->Bytes() : 0; }

void AddMissing(std::vector<MsRange>& missing, std::int64_t start, std::int64_t end) {
  if (start >= end) return;
  if (!missing.empty() && missing.back().end == start) {
    missing.back().end = end;
  } else {
    missing.push_back({start, end});
  }
}
}  // namespace

std::vector<MsRange> Rollup::Work::Ranges() const {
  std::vector<MsRange> out;
  for (const auto s : slots) AddMissing(out, s * kSlotMs, (s + 1) * kSlotMs);
  return out;
}

void Rollup::BeforeWrite(std::span<const domain::Event> events) {
  std::vector<std::int64_t> ts;
  ts.reserve(events.size());
  for (const auto& e : events) ts.push_back(e.timestamp.time_since_epoch().count());
  MarkChanged(ts);
}

void Rollup::MarkChanged(std::span<const std::int64_t> ts_ms) {
  std::vector<std::int64_t> slots;
  slots.reserve(ts_ms.size());
  for (const auto t : ts_ms) {
    const auto s = SlotOf(t);
    if (slots.empty() || slots.back() != s) slots.push_back(s);
  }
  std::ranges::sort(slots);
  const auto last = std::ranges::unique(slots);
  slots.erase(last.begin(), last.end());
  std::lock_guard lock(mutex_);
  for (const auto s : slots) {
    ++entries_[s].version;
    if (initialized_ && s < frontier_) changed_.insert(s);
  }
}

bool Rollup::IsInitialized() const {
  std::lock_guard lock(mutex_);
  return initialized_;
}

void Rollup::Initialize(std::optional<MsRange> stored, std::int64_t frontier) {
  std::lock_guard lock(mutex_);
  if (initialized_) return;
  initialized_ = true;
  frontier_ = frontier;
  empty_until_ = frontier;
  lo_ = stored ? std::min(SlotOf(stored->start), frontier) : frontier;
  hi_ = stored ? std::clamp(SlotOf(stored->end - 1) + 1, lo_, frontier) : frontier;
  backfill_ = hi_;
  // Writes announced before now outside the span (racing the read of it); the span itself is
  // read by the backfill.
  for (const auto& [s, e] : entries_) {
    if (s < frontier && (s < lo_ || s >= hi_) && !e.Valid()) changed_.insert(s);
  }
}

Rollup::Work Rollup::NextWork(std::int64_t frontier, std::size_t max_slots) {
  std::lock_guard lock(mutex_);
  Work work;
  if (!initialized_ || max_slots == 0) return work;
  if (frontier > frontier_) {
    // Newly closed slots: built once closed, and again whenever a late event lands in them.
    for (auto s = frontier_; s < frontier; ++s) changed_.insert(s);
    frontier_ = frontier;
  }
  if (!changed_.empty()) {
    // Newest first: dashboards look at recent time.
    auto it = changed_.end();
    while (it != changed_.begin() && work.slots.size() < max_slots) {
      --it;
      work.slots.push_back(*it);
      it = changed_.erase(it);
    }
  } else if (backfill_ > lo_) {
    const auto from = std::max(lo_, backfill_ - static_cast<std::int64_t>(max_slots));
    for (auto s = backfill_ - 1; s >= from; --s) work.slots.push_back(s);
    backfill_ = from;
  }
  std::ranges::sort(work.slots);
  in_flight_ += work.slots.size();
  for (const auto s : work.slots) {
    const auto it = entries_.find(s);
    work.versions.push_back(it == entries_.end() ? 0 : it->second.version);
  }
  return work;
}

void Rollup::Requeue(const Work& work) {
  std::lock_guard lock(mutex_);
  in_flight_ -= std::min(in_flight_, work.slots.size());
  for (const auto s : work.slots) changed_.insert(s);
}

void Rollup::Install(const Work& work, const SlotFacts& facts) {
  auto built = [&] {
    std::lock_guard dict(dict_mutex_);
    return AssembleLocked(facts);
  }();
  std::lock_guard lock(mutex_);
  in_flight_ -= std::min(in_flight_, work.slots.size());
  for (std::size_t i = 0; i < work.slots.size(); ++i) {
    const auto s = work.slots[i];
    const auto it = built.find(s);
    auto& entry = entries_[s];
    bytes_ -= SizeOf(entry.data);
    entry.data = it == built.end() ? EmptySlot() : it->second;
    entry.built_version = work.versions[i];
    bytes_ += SizeOf(entry.data);
  }
}

Rollup::View Rollup::Plan(std::int64_t start_ms, std::int64_t end_ms) const {
  View view;
  if (start_ms >= end_ms) return view;
  // Slots fully inside [start, end): [s0, s1).
  const auto s0 = -SlotOf(-start_ms);
  const auto s1 = SlotOf(end_ms);
  std::lock_guard lock(mutex_);
  if (!initialized_ || s0 >= s1) {
    AddMissing(view.missing, start_ms, end_ms);
    view.missing_ms = end_ms - start_ms;
    return view;
  }
  AddMissing(view.missing, start_ms, s0 * kSlotMs);
  // Slots [a, b) without entries: missing where storage held events at start-up or later.
  const auto gap = [&](std::int64_t a, std::int64_t b) {
    AddMissing(view.missing, std::max(a, lo_) * kSlotMs, std::min(b, hi_) * kSlotMs);
    AddMissing(view.missing, std::max(a, empty_until_) * kSlotMs, b * kSlotMs);
  };
  auto cursor = s0;
  for (auto it = entries_.lower_bound(s0); it != entries_.end() && it->first < s1; ++it) {
    gap(cursor, it->first);
    const auto& e = it->second;
    if (e.Valid()) {
      if (!e.data->IsEmpty()) view.slots.push_back(e.data);
    } else {
      AddMissing(view.missing, it->first * kSlotMs, (it->first + 1) * kSlotMs);
    }
    cursor = it->first + 1;
  }
  gap(cursor, s1);
  AddMissing(view.missing, s1 * kSlotMs, end_ms);
  for (const auto& m : view.missing) view.missing_ms += m.end - m.start;
  return view;
}

std::vector<SlotPtr> Rollup::Assemble(const SlotFacts& facts) {
  std::map<std::int64_t, SlotPtr> built;
  {
    std::lock_guard dict(dict_mutex_);
    built = AssembleLocked(facts);
  }
  std::vector<SlotPtr> out;
  out.reserve(built.size());
  for (auto& [s, d] : built) out.push_back(std::move(d));
  return out;
}

std::uint32_t Rollup::InternLocked(std::string_view name) {
  const auto it = name_ids_.find(std::string(name));
  if (it != name_ids_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(names_.size());
  names_.emplace_back(name);
  name_ids_.emplace(std::string(name), id);
  return id;
}

std::map<std::int64_t, SlotPtr> Rollup::AssembleLocked(const SlotFacts& facts) {
  std::map<std::int64_t, std::shared_ptr<SlotData>> slots;
  const auto slot = [&](std::int64_t s) -> SlotData& {
    auto& p = slots[s];
    if (!p) {
      p = std::make_shared<SlotData>();
      p->slot = s;
    }
    return *p;
  };
  const auto dense = [](std::unordered_map<std::uint64_t, std::uint32_t>& dict, std::uint64_t key) {
    return dict.try_emplace(key, static_cast<std::uint32_t>(dict.size())).first->second;
  };
  for (const auto& a : facts.activity) {
    auto& d = slot(a.slot);
    const auto start = a.slot * kSlotMs;
    d.active.push_back({dense(users_, a.user_key), static_cast<std::uint32_t>(a.first_ms - start),
                        static_cast<std::uint32_t>(a.last_ms - start)});
  }
  const auto model = [&](std::int64_t s, const std::string& provider,
                         const std::string& name) -> SlotData::Model& {
    auto& d = slot(s);
    const auto p = InternLocked(provider), m = InternLocked(name);
    for (auto& x : d.models) {
      if (x.provider == p && x.model == m) return x;
    }
    d.models.push_back({});
    d.models.back().provider = p;
    d.models.back().model = m;
    return d.models.back();
  };
  for (const auto& f : facts.priced) {
    model(f.slot, f.provider, f.model)
        .priced.push_back({f.has_cost, f.has_split, f.messages, f.tokens, f.input_tokens,
                           f.output_tokens, f.cost});
  }
  for (const auto& f : facts.audience) {
    auto& m = model(f.slot, f.provider, f.model);
    for (const auto u : f.users) m.users.push_back(dense(users_, u));
    for (const auto c : f.conversations) m.conversations.push_back(dense(conversations_, c));
  }
  for (const auto& f : facts.latency) {
    auto& m = model(f.slot, f.provider, f.model);
    m.latency_sum_ms += f.sum_ms;
    m.latency_bins.insert(m.latency_bins.end(), f.bins.begin(), f.bins.end());
  }
  for (const auto& f : facts.records) {
    slot(f.slot).records.push_back({f.type, dense(users_, f.user_key), f.ts_ms, f.event_id,
                                    f.user_id, f.plan, f.currency, f.amount});
  }
  for (const auto& f : facts.conversations) {
    auto& d = slot(f.slot);
    d.conversations_created += f.created;
    d.conversations_deleted += f.deleted;
  }
  std::map<std::int64_t, SlotPtr> out;
  for (auto& [s, d] : slots) {
    std::ranges::sort(d->active, {}, &SlotData::Active::user);
    d->active.shrink_to_fit();
    out.emplace(s, std::move(d));
  }
  return out;
}

std::int64_t Rollup::DataStartMs() const {
  std::lock_guard lock(mutex_);
  return initialized_ ? lo_ * kSlotMs : 0;
}

std::int64_t Rollup::FrontierMs() const {
  std::lock_guard lock(mutex_);
  return initialized_ ? frontier_ * kSlotMs : std::numeric_limits<std::int64_t>::max();
}

std::string Rollup::Name(std::uint32_t id) const {
  std::lock_guard dict(dict_mutex_);
  return id < names_.size() ? names_[id] : std::string();
}

std::uint32_t Rollup::NameId(std::string_view name) {
  std::lock_guard dict(dict_mutex_);
  return InternLocked(name);
}

std::size_t Rollup::UserCount() const {
  std::lock_guard dict(dict_mutex_);
  return users_.size();
}

std::size_t Rollup::ConversationCount() const {
  std::lock_guard dict(dict_mutex_);
  return conversations_.size();
}

RollupState Rollup::GetStats() const {
  RollupState s;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [slot, e] : entries_) s.built_slots += e.Valid() ? 1 : 0;
    s.pending_slots = changed_.size() + in_flight_ +
                      static_cast<std::size_t>(std::max<std::int64_t>(0, backfill_ - lo_));
    s.backfilled = initialized_ && backfill_ <= lo_;
    s.bytes = bytes_;
  }
  s.users = UserCount();
  s.conversations = ConversationCount();
  return s;
}

}  // namespace app
