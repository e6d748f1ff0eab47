#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace app {

/// What a protected request is for; authorisation and rate limits are decided per class.
enum class AccessClass {
  kAnalytics,  ///< analytics reads (admin role)
  kIngest,     ///< event ingest (admin role or an ingest API key)
  kAdmin,      ///< administrative changes (admin role)
  kMetrics,    ///< the Prometheus exposition (per METRICS_ACCESS)
};

inline constexpr std::array<AccessClass, 4> kAccessClasses = {
    AccessClass::kAnalytics, AccessClass::kIngest, AccessClass::kAdmin, AccessClass::kMetrics};

constexpr std::size_t Index(AccessClass c) { return static_cast<std::size_t>(c); }

constexpr std::string_view AccessClassName(AccessClass c) {
  switch (c) {
    case AccessClass::kAnalytics:
      return "analytics";
    case AccessClass::kIngest:
      return "ingest";
    case AccessClass::kAdmin:
      return "admin";
    case AccessClass::kMetrics:
      return "metrics";
  }
  return "analytics";
}

constexpr std::optional<AccessClass> AccessClassNamed(std::string_view name) {
  for (const auto c : kAccessClasses) {
    if (AccessClassName(c) == name) return c;
  }
  return std::nullopt;
}

}  // namespace app
