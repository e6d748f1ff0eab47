#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace domain {

/// A JSON-shaped value of an analytics answer, built by the query service and written out by
/// the HTTP adapter. Objects keep their field order. Plain value type.
struct Value {
  enum class Kind { kNull, kInt, kDouble, kString, kBool, kList, kObject };
  Kind kind = Kind::kNull;
  std::int64_t i = 0;
  double d = 0;
  std::string s;
  std::vector<Value> items;        ///< list items, or object values
  std::vector<std::string> keys;   ///< object keys, parallel to items

  static Value Null() { return {}; }
  static Value Int(std::int64_t v) { Value x; x.kind = Kind::kInt; x.i = v; return x; }
  static Value Double(double v) { Value x; x.kind = Kind::kDouble; x.d = v; return x; }
  static Value String(std::string v) { Value x; x.kind = Kind::kString; x.s = std::move(v); return x; }
  static Value Bool(bool v) { Value x; x.kind = Kind::kBool; x.i = v ? 1 : 0; return x; }
  static Value List() { Value x; x.kind = Kind::kList; return x; }
  static Value Object() { Value x; x.kind = Kind::kObject; return x; }

  /// Appends a field to an object; returns *this for chaining.
  Value& Set(std::string key, Value value) {
    keys.push_back(std::move(key));
    items.push_back(std::move(value));
    return *this;
  }
  /// The field named `key` of an object, or nullptr.
  const Value* Find(std::string_view key) const {
    for (std::size_t k = 0; k < keys.size(); ++k) {
      if (keys[k] == key) return &items[k];
    }
    return nullptr;
  }
  Value& Push(Value value) {
    items.push_back(std::move(value));
    return items.back();
  }
};

/// What an analytics endpoint answers, before the protocol adds `meta`.
struct MetricResult {
  Value data = Value::List();
  std::optional<Value> summary;
};

}  // namespace domain
