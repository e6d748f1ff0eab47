#pragma once

// Starts the real analytics-service binary on a free loopback port with its own data
// directory, for black-box tests.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "loadgen/http_sender.hpp"

namespace e2e {

class ServiceProcess {
 public:
  /// `env` adds or overrides environment variables of the service.
  explicit ServiceProcess(std::filesystem::path data_dir, std::map<std::string, std::string> env = {});
  ~ServiceProcess();

  /// Starts the binary and waits until /ready answers 200 (false after 60 s or if it exits).
  bool Start();
  /// SIGTERM, then waits for the exit; returns the exit status (-1 if it had to be killed).
  int Stop();
  /// SIGKILL, no clean-up.
  void Kill();
  bool Running();

  std::uint16_t port() const { return port_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::string Log() const;
  loadgen::HttpClient& client();

 private:
  std::filesystem::path data_dir_;
  std::map<std::string, std::string> env_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<loadgen::HttpClient> client_;
};

/// A fresh directory under the system temp dir, removed by the caller.
std::filesystem::path FreshDir(const std::string& name);

}  // namespace e2e
