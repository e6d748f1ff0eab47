#include "adapters/logging/spdlog_sink.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace adapters::logging {
namespace {

class SpdlogSink final : public base::log::Sink {
 public:
  explicit SpdlogSink(base::log::Format format)
      : logger_(std::make_shared<spdlog::logger>(
            "analytics", std::make_shared<spdlog::sinks::stderr_sink_mt>())) {
    logger_->set_level(spdlog::level::trace);
    if (format == base::log::Format::kJson) {
      logger_->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})", spdlog::pattern_time_type::utc);
    } else {
      logger_->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
    }
  }

  void Write(base::log::Level level, std::string_view body) override {
    logger_->log(ToSpdlog(level), "{}", body);
  }

 private:
  static spdlog::level::level_enum ToSpdlog(base::log::Level level) {
    switch (level) {
      case base::log::Level::kDebug: return spdlog::level::debug;
      case base::log::Level::kInfo: return spdlog::level::info;
      case base::log::Level::kWarn: return spdlog::level::warn;
      case base::log::Level::kError: return spdlog::level::err;
    }
    return spdlog::level::info;
  }
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

std::shared_ptr<base::log::Sink> MakeSpdlogSink(base::log::Format format) {
  return std::make_shared<SpdlogSink>(format);
}

}  // namespace adapters::logging
