#include "e2e/broker_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <system_error>

#ifndef ANALYTICS_SERVICES_SCRIPT
#define ANALYTICS_SERVICES_SCRIPT "scripts/services"
#endif

extern char** environ;

namespace e2e {
namespace {

constexpr const char* kServicesScript = ANALYTICS_SERVICES_SCRIPT;
// scripts/services puts a broker's Erlang distribution port at its AMQP port + 20000.
constexpr int kDistPortOffset = 20000;
constexpr int kLowestPort = 10000;
// The script gives up on a start after 60 s and on a stop after about 45 s; these only guard
// against a hang of the script itself.
constexpr auto kScriptDeadline = std::chrono::seconds(180);
constexpr auto kCtlDeadline = std::chrono::seconds(90);
constexpr std::size_t kMaxNameLength = 32;

struct RunResult {
  int exit_code = -1;  // -1 when the program could not run or was killed at the deadline
  std::string out;
  std::string err;
};

// Runs argv[0] without a shell, stdin from /dev/null, collecting stdout and stderr.
RunResult Run(const std::vector<std::string>& argv, std::chrono::seconds deadline) {
  RunResult result;
  std::array<int, 2> out_pipe{};
  std::array<int, 2> err_pipe{};
  if (pipe2(out_pipe.data(), O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  if (pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  // A started broker outlives the script; holding a descriptor of this process (a pipe of
  // another Run on another thread, a listening socket) would keep it open for the broker's life.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so that a hung script is killed with everything it started in it
  // (timeout, rabbitmqctl); the broker puts itself in a session of its own and is not touched.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = -1;
  const int spawn_error = posix_spawn(&pid, cargv[0], &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawn_error != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = "cannot run " + argv[0] + ": " + std::strerror(spawn_error);
    return result;
  }

  std::array<pollfd, 2> fds{{{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  const auto end = std::chrono::steady_clock::now() + deadline;
  bool timed_out = false;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          end - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    if (poll(fds.data(), fds.size(), static_cast<int>(left)) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      std::array<char, 4096> buf;
      const ssize_t n = read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        sinks[i]->append(buf.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores negative descriptors
      }
    }
  }
  for (const auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    result.err += "\nkilled after " + std::to_string(deadline.count()) + " s: " + argv[0];
    return result;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool CanBind(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // As the broker does: a port left in TIME_WAIT by an earlier test is usable, a listened one is
  // not.
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

int EphemeralPortLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  if (in >> low && low > 0) return low;
  return 32768;
}

// A port P with P and P + 20000 free on loopback, both below the ephemeral range when it allows
// (10000-12767 on a default Linux), and never one handed out before by this process.
std::uint16_t PickPort() {
  static std::mutex mutex;
  static std::set<int> handed_out;
  int high = EphemeralPortLow() - 1 - kDistPortOffset;
  if (high < kLowestPort + 500) high = 65535 - kDistPortOffset;
  std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  std::uniform_int_distribution<int> pick(kLowestPort, high);
  std::lock_guard lock(mutex);
  for (int attempt = 0; attempt < 500; ++attempt) {
    const int port = pick(rng);
    if (handed_out.contains(port)) continue;
    if (CanBind(port) && CanBind(port + kDistPortOffset)) {
      handed_out.insert(port);
      return static_cast<std::uint16_t>(port);
    }
  }
  return 0;
}

std::string UniqueName(std::string name) {
  static std::atomic<int> counter{0};
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) c = '-';
  }
  if (name.size() > kMaxNameLength) name.resize(kMaxNameLength);
  if (name.empty()) name = "broker";
  return name + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

bool MentionsTakenPort(const std::string& output) {
  return output.find("already taken") != std::string::npos ||
         output.find("eaddrinuse") != std::string::npos;
}

}  // namespace

BrokerProcess::BrokerProcess(std::string name)
    : name_(UniqueName(std::move(name))),
      node_("analytics-" + name_ + "@localhost"),
      dir_(std::filesystem::temp_directory_path() / ("analytics-broker-" + name_)),
      port_(PickPort()) {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

BrokerProcess::~BrokerProcess() {
  if (started_) Stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool BrokerProcess::Start() {
  if (port_ == 0) {
    last_output_ = "no free port pair (P, P + 20000) found on 127.0.0.1";
    return false;
  }
  for (int attempt = 1;; ++attempt) {
    started_ = true;
    const auto result =
        Run({kServicesScript, "start", "rabbitmq", "--port", std::to_string(port_), "--dir",
             dir_.string(), "--name", name_, "--owner", std::to_string(getpid())},
            kScriptDeadline);
    last_output_ = result.out + result.err;
    if (result.exit_code == 0) {
      ready_once_ = true;
      return true;
    }
    // Another process can take the port between PickPort's probe and the broker's bind. Until
    // the broker has run once, nothing depends on the port yet and another one will do.
    if (ready_once_ || attempt == 3 || !MentionsTakenPort(last_output_)) return false;
    port_ = PickPort();
    if (port_ == 0) return false;
  }
}

bool BrokerProcess::Stop() {
  const auto result =
      Run({kServicesScript, "stop", "rabbitmq", "--name", name_, "--dir", dir_.string()},
          kScriptDeadline);
  last_output_ = result.out + result.err;
  return result.exit_code == 0;
}

std::string BrokerProcess::Url() const {
  return "amqp://guest:guest@127.0.0.1:" + std::to_string(port_) + "/";
}

std::string BrokerProcess::Ctl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kServicesScript, "ctl", "rabbitmq", "--name", name_};
  argv.insert(argv.end(), {"--dir", dir_.string(), "--"});
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = Run(argv, kCtlDeadline);
  if (result.exit_code == 0) return std::move(result.out);
  // The contract returns stdout only; what went wrong goes to the test's log.
  std::cerr << "[broker " << name_ << "] rabbitmqctl";
  for (const auto& a : args) std::cerr << ' ' << a;
  std::cerr << " failed (exit " << result.exit_code << "):\n" << result.out << result.err << '\n';
  return {};
}

long BrokerProcess::QueueReady(const std::string& queue) const {
  std::istringstream lines(
      Ctl({"--quiet", "list_queues", "--no-table-headers", "name", "messages_ready"}));
  std::string line;
  while (std::getline(lines, line)) {
    const auto tab = line.rfind('\t');
    if (tab != queue.size() || line.compare(0, tab, queue) != 0) continue;
    long ready = -1;
    const char* first = line.data() + tab + 1;
    const char* last = line.data() + line.size();
    const auto [end, error] = std::from_chars(first, last, ready);
    return error == std::errc() && end == last ? ready : -1;
  }
  return -1;
}

}  // namespace e2e
