#pragma once

// Starts the real analytics-service binary on a free loopback port with its own data
// directory, for black-box tests.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "loadgen/http_sender.hpp"

namespace e2e {

/// The HS256 secret the services under test are started with (JWT_SECRET), unless a test sets
/// its own.
inline constexpr std::string_view kTestJwtSecret = "e2e-test-jwt-secret-0123456789abcdef0123";
/// The subject of `ServiceProcess::AdminToken`; its rate limits are lifted, so tests that make
/// many requests are not throttled (the rate-limit tests use other subjects).
inline constexpr std::string_view kTestAdminSubject = "e2e-admin";

/// A token signed with kTestJwtSecret: `sub`, the `role` claim (omitted when empty), and an
/// expiry `ttl` from now.
std::string TestToken(std::string_view subject, std::string_view role,
                      std::chrono::seconds ttl = std::chrono::hours(1));

class ServiceProcess {
 public:
  /// `env` adds or overrides environment variables of the service. By default the service
  /// verifies tokens with kTestJwtSecret and lifts the rate limits of kTestAdminSubject.
  explicit ServiceProcess(std::filesystem::path data_dir,
                          std::map<std::string, std::string> env = {});
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
  /// A client that sends `AdminToken()` with every request.
  loadgen::HttpClient& client();
  /// A new client of this service sending `AdminToken()`, e.g. one per thread.
  std::unique_ptr<loadgen::HttpClient> NewClient() const;
  /// An admin token (subject kTestAdminSubject) for the test secret.
  std::string AdminToken() const;
  /// `Authorization: Bearer <AdminToken()>`, for loadgen::SendBatches.
  loadgen::HeaderList Credentials() const;
  pid_t pid() const { return pid_; }

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
