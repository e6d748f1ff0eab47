#include "e2e/service_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "adapters/jwt/jwt_verifier.hpp"

namespace e2e {
namespace {

std::uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

std::filesystem::path FreshDir(const std::string& name) {
  static std::atomic<int> counter{0};
  auto dir =
      std::filesystem::temp_directory_path() /
      ("analytics-e2e-" + name + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

ServiceProcess::ServiceProcess(std::filesystem::path data_dir,
                               std::map<std::string, std::string> env)
    : data_dir_(std::move(data_dir)), env_(std::move(env)) {}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0) Kill();
}

std::string TestToken(std::string_view subject, std::string_view role, std::chrono::seconds ttl) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::string claims = "{\"sub\":\"" + std::string(subject) + "\"";
  if (!role.empty()) claims += ",\"role\":\"" + std::string(role) + "\"";
  claims +=
      ",\"iat\":" + std::to_string(now) + ",\"exp\":" + std::to_string(now + ttl.count()) + "}";
  return adapters::jwt::MintHs256(kTestJwtSecret, claims);
}

loadgen::HttpClient& ServiceProcess::client() {
  if (!client_) client_ = NewClient();
  return *client_;
}

std::unique_ptr<loadgen::HttpClient> ServiceProcess::NewClient() const {
  auto c = std::make_unique<loadgen::HttpClient>("127.0.0.1", port_);
  c->SetHeader("Authorization", "Bearer " + AdminToken());
  return c;
}

std::string ServiceProcess::AdminToken() const { return TestToken(kTestAdminSubject, "admin"); }

loadgen::HeaderList ServiceProcess::Credentials() const {
  return {{"Authorization", "Bearer " + AdminToken()}};
}

bool ServiceProcess::Start() {
  port_ = FreePort();
  client_.reset();
  std::map<std::string, std::string> env = {
      {"HOST", "127.0.0.1"},
      {"PORT", std::to_string(port_)},
      {"DATA_DIR", data_dir_.string()},
      {"PSEUDONYMIZATION_KEY", "e2e-test-key-0123456789"},
      {"LOG_LEVEL", "info"},
      {"JWT_SECRET", std::string(kTestJwtSecret)},
      {"RATE_LIMIT_OVERRIDES", "*/" + std::string(kTestAdminSubject) + "=0"},
  };
  for (const auto& [k, v] : env_) env[k] = v;
  const auto log_path = data_dir_ / "service.log";
  pid_ = fork();
  if (pid_ == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execl(ANALYTICS_SERVICE_BINARY, ANALYTICS_SERVICE_BINARY, "serve", static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!Running()) return false;
    loadgen::HttpClient probe("127.0.0.1", port_);
    auto r = probe.Send("GET", "/ready");
    if (r && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool ServiceProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int ServiceProcess::Stop() {
  if (pid_ <= 0) return -1;
  client_.reset();
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return -1;
}

void ServiceProcess::Kill() {
  if (pid_ <= 0) return;
  client_.reset();
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string ServiceProcess::Log() const {
  std::ifstream in(data_dir_ / "service.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace e2e
