#pragma once

// The contract every app::EventStore implementation must pass. An implementation's test file
// instantiates it with a factory:
//   INSTANTIATE_TEST_SUITE_P(Chdb, EventStoreContract, testing::Values(StoreFactory{...}));

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "app/ports/event_store.hpp"
#include "base/clock.hpp"

namespace contract {

struct StoreFactory {
  std::string name;
  /// Opens a store whose state lives under `dir` (a fresh directory per test, reused by a
  /// reopen within a test), reading time from `clock`.
  std::function<base::Result<std::unique_ptr<app::EventStore>>(const std::filesystem::path& dir,
                                                               const base::Clock& clock)>
      open;
};

inline std::string PrintToString(const StoreFactory& f) { return f.name; }

class EventStoreContract : public testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  /// Closes the store and opens it again on the same state.
  void Reopen();

  std::filesystem::path dir_;
  base::FixedClock clock_{base::TimePoint(std::chrono::milliseconds(1'760'000'000'000))};
  std::unique_ptr<app::EventStore> store_;
};

}  // namespace contract
