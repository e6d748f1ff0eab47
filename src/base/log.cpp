#include "base/log.hpp"

#include "base/json_string.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdio>

namespace base::log {
namespace {

class StderrSink final : public Sink {
 public:
  void Write(Level, std::string_view body) override {
    std::fwrite(body.data(), 1, body.size(), stderr);
    std::fputc('\n', stderr);
  }
};

struct State {
  std::shared_ptr<Sink> sink = std::make_shared<StderrSink>();
  std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
  Format format = Format::kText;
};

State& GlobalState() {
  static State state;
  return state;
}


bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  for (char c : s) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

}  // namespace

std::string Field::Render(double v) { return fmt::format("{:.6g}", v); }

void Configure(std::shared_ptr<Sink> sink, Level min_level, Format format) {
  auto& state = GlobalState();
  if (sink) state.sink = std::move(sink);
  state.min_level.store(static_cast<int>(min_level));
  state.format = format;
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= GlobalState().min_level.load(std::memory_order_relaxed);
}

std::string FormatBody(Format format, std::string_view event,
                       std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(64 + fields.size() * 24);
  if (format == Format::kJson) {
    out += "\"event\":";
    AppendJsonString(out, event);
    for (const auto& f : fields) {
      out.push_back(',');
      AppendJsonString(out, f.key);
      out.push_back(':');
      if (f.quoted) {
        AppendJsonString(out, f.value);
      } else {
        out += f.value;
      }
    }
    return out;
  }
  out += event;
  for (const auto& f : fields) {
    out.push_back(' ');
    out += f.key;
    out.push_back('=');
    if (f.quoted && NeedsQuotes(f.value)) {
      AppendJsonString(out, f.value);
    } else {
      out += f.value;
    }
  }
  return out;
}

void Write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  auto& state = GlobalState();
  state.sink->Write(level, FormatBody(state.format, event, fields));
}

}  // namespace base::log
