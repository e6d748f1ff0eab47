#pragma once

#include <memory>

#include "base/log.hpp"

namespace adapters::logging {

/// A base::log sink writing to stderr through spdlog (thread-safe, timestamps, levels).
/// JSON format gives one JSON object per line: {"ts", "level", "event", fields...}.
std::shared_ptr<base::log::Sink> MakeSpdlogSink(base::log::Format format);

}  // namespace adapters::logging
