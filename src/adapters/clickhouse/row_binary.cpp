#include "adapters/clickhouse/row_binary.hpp"

#include <cstring>
#include <optional>

namespace adapters::clickhouse {
namespace {

void PutVarUInt(std::uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

template <typename T>
void PutFixed(T v, std::string& out) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // RowBinary is little-endian, as is every target here
  out.append(buf, sizeof(T));
}

void PutString(std::string_view s, std::string& out) {
  PutVarUInt(s.size(), out);
  out.append(s);
}

template <typename T>
void PutNullable(const std::optional<T>& v, std::string& out) {
  out.push_back(v ? '\0' : '\1');
  if (v) PutFixed(*v, out);
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool AtEnd() const { return pos_ >= data_.size(); }
  bool ok() const { return ok_; }

  std::uint64_t VarUInt() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return Bad();
      const auto byte = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    return Bad();
  }
  std::string String() {
    const auto n = VarUInt();
    if (!ok_ || n > data_.size() - pos_) {
      Bad();
      return {};
    }
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  template <typename T>
  T Fixed() {
    T v{};
    if (sizeof(T) > data_.size() - pos_) {
      Bad();
      return v;
    }
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  template <typename T>
  std::optional<T> Nullable() {
    if (Fixed<std::uint8_t>() != 0) return std::nullopt;
    return Fixed<T>();
  }

 private:
  std::uint64_t Bad() {
    ok_ = false;
    pos_ = data_.size();
    return 0;
  }
  std::string_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

void EncodeEventsRowBinary(std::span<const domain::Event> events, base::TimePoint stored_at,
                           std::string& out) {
  const auto stored_ms = stored_at.time_since_epoch().count();
  for (const auto& e : events) {
    PutString(e.event_id, out);
    PutFixed(static_cast<std::int8_t>(static_cast<int>(e.type) + 1), out);
    PutFixed<std::int64_t>(e.timestamp.time_since_epoch().count(), out);
    PutString(e.user_id, out);
    PutString(e.plan, out);
    PutString(e.from_plan, out);
    PutString(e.to_plan, out);
    PutString(e.conversation_id, out);
    PutString(e.session_id, out);
    PutString(e.provider, out);
    PutString(e.model, out);
    PutFixed<std::uint32_t>(e.tokens, out);
    PutNullable(e.input_tokens, out);
    PutNullable(e.output_tokens, out);
    PutNullable(e.latency_ms, out);
    PutNullable(e.cost_usd ? std::optional<std::int64_t>(e.cost_usd->units) : std::nullopt, out);
    PutFixed<std::int64_t>(e.amount.units, out);
    PutString(e.currency, out);
    PutString(e.reason, out);
    PutString(e.subscription_ref, out);
    PutString(e.ip_prefix, out);
    PutFixed<std::int64_t>(stored_ms, out);
  }
}

base::Result<std::vector<domain::Event>> DecodeEventsRowBinary(std::string_view data) {
  std::vector<domain::Event> out;
  Reader r(data);
  while (!r.AtEnd()) {
    domain::Event e;
    e.event_id = r.String();
    const auto type = r.Fixed<std::int8_t>();
    if (type < 1 || type > static_cast<int>(domain::kEventTypeCount)) {
      return base::Fail(base::Error::Internal("stored event has an unknown type"));
    }
    e.type = static_cast<domain::EventType>(type - 1);
    e.timestamp = base::TimePoint(std::chrono::milliseconds(r.Fixed<std::int64_t>()));
    e.user_id = r.String();
    e.plan = r.String();
    e.from_plan = r.String();
    e.to_plan = r.String();
    e.conversation_id = r.String();
    e.session_id = r.String();
    e.provider = r.String();
    e.model = r.String();
    e.tokens = r.Fixed<std::uint32_t>();
    e.input_tokens = r.Nullable<std::uint32_t>();
    e.output_tokens = r.Nullable<std::uint32_t>();
    e.latency_ms = r.Nullable<std::uint32_t>();
    if (auto cost = r.Nullable<std::int64_t>()) e.cost_usd = domain::CostUsd{*cost};
    e.amount = domain::Amount{r.Fixed<std::int64_t>()};
    e.currency = r.String();
    e.reason = r.String();
    e.subscription_ref = r.String();
    e.ip_prefix = r.String();
    r.Fixed<std::int64_t>();
    if (!r.ok()) return base::Fail(base::Error::Internal("truncated RowBinary event rows"));
    out.push_back(std::move(e));
  }
  return out;
}

base::Result<std::vector<std::pair<std::string, base::TimePoint>>> DecodeIdTimeRows(
    std::string_view data) {
  std::vector<std::pair<std::string, base::TimePoint>> out;
  Reader r(data);
  while (!r.AtEnd()) {
    auto id = r.String();
    const auto ms = r.Fixed<std::int64_t>();
    if (!r.ok()) return base::Fail(base::Error::Internal("truncated RowBinary id rows"));
    out.emplace_back(std::move(id), base::TimePoint(std::chrono::milliseconds(ms)));
  }
  return out;
}

}  // namespace adapters::clickhouse
