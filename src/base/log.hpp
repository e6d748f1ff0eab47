#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace base::log {

enum class Level { kDebug, kInfo, kWarn, kError };

/// One key/value of a structured log line. The value is rendered once, at construction.
struct Field {
  std::string_view key;
  std::string value;
  bool quoted = true;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  template <typename T>
    requires std::is_arithmetic_v<T>
  Field(std::string_view k, T v) : key(k), value(Render(v)), quoted(false) {}

 private:
  static std::string Render(bool v) { return v ? "true" : "false"; }
  static std::string Render(double v);
  template <typename T>
  static std::string Render(T v) {
    if constexpr (std::is_floating_point_v<T>) {
      return Render(static_cast<double>(v));
    } else {
      return std::to_string(v);
    }
  }
};

enum class Format { kText, kJson };

/// Where formatted lines go. Implementations must be thread-safe; `Write` gets the level and
/// the already formatted body (without time stamp or level, which the sink adds).
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void Write(Level level, std::string_view body) = 0;
};

/// Process-wide configuration; call once at start-up before threads are started.
void Configure(std::shared_ptr<Sink> sink, Level min_level, Format format);
bool Enabled(Level level);
void Write(Level level, std::string_view event, std::initializer_list<Field> fields);

/// Formats `event` and fields as one line body ("event k=v ..." or JSON members).
std::string FormatBody(Format format, std::string_view event, std::initializer_list<Field> fields);

inline void Debug(std::string_view event, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, event, fields);
}
inline void Info(std::string_view event, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, event, fields);
}
inline void Warn(std::string_view event, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, event, fields);
}
inline void Error(std::string_view event, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kError)) Write(Level::kError, event, fields);
}

}  // namespace base::log
