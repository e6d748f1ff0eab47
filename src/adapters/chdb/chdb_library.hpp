#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace adapters::chdb {

/// The C API of libchdb.so that this project uses, declared here (the library ships no header)
/// and resolved with dlopen, so the binary runs in server mode without the library present.
/// Loaded once per process: the engine is a process-wide singleton. Thread-safe.
class ChdbLibrary {
 public:
  /// Loads the library at `path` (first call) or returns the one already loaded.
  static base::Result<std::shared_ptr<ChdbLibrary>> Load(const std::string& path);

  struct Api;
  const Api& api() const { return *api_; }
  std::string Version() const;

  ~ChdbLibrary();

 private:
  ChdbLibrary(void* handle, std::unique_ptr<Api> api);
  void* handle_;
  std::unique_ptr<Api> api_;
};

/// One connection to the embedded engine on one data directory. Statements on one connection
/// run one at a time (a mutex serialises them); open two for parallel reads and writes.
/// Every query result is copied out and freed before returning.
class ChdbConnection {
 public:
  static base::Result<std::unique_ptr<ChdbConnection>> Open(std::shared_ptr<ChdbLibrary> library,
                                                            const std::string& data_dir);
  ~ChdbConnection();
  ChdbConnection(const ChdbConnection&) = delete;
  ChdbConnection& operator=(const ChdbConnection&) = delete;

  /// Runs `sql` and returns its output in `format`. `sql` must not carry inline data.
  base::Result<std::string> Query(std::string_view sql, std::string_view format);
  /// Streams `data` (already in `format`) into `insert_sql` (an INSERT without FORMAT or data),
  /// in chunks; returns once the rows are committed.
  base::Status StreamInsert(std::string_view insert_sql, std::string_view format,
                            std::string_view data);
  void Close();

 private:
  ChdbConnection(std::shared_ptr<ChdbLibrary> library, void* conn);
  std::shared_ptr<ChdbLibrary> library_;
  std::mutex mutex_;
  void* conn_;  // chdb_connection*, null once closed
};

/// Stops the engine's threads; call once at process exit after every connection is closed.
/// The library cannot be used afterwards.
void ShutdownEngine();

}  // namespace adapters::chdb
