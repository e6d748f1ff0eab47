#pragma once

// Reads what a stopped service left in its embedded storage, for black-box assertions.

#include <cstdint>
#include <filesystem>
#include <vector>

#include "domain/event.hpp"

namespace e2e {

struct StoredCounts {
  std::uint64_t rows = 0;      ///< rows in the events table, copies included
  std::uint64_t distinct = 0;  ///< distinct event ids
};

/// The service must be stopped (one process per data directory). Failures are test failures.
StoredCounts CountStored(const std::filesystem::path& data_dir);
std::vector<domain::Event> ReadStored(const std::filesystem::path& data_dir);

}  // namespace e2e
