#include "adapters/chdb/chdb_library.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <filesystem>
#include <vector>

namespace adapters::chdb {

// The subset of chdb.h (chDB 26.7) used here. Handles are opaque pointers.
extern "C" {
struct chdb_result_ {
  void* internal_data;
};
struct chdb_connection_ {
  void* internal_data;
};
struct chdb_insert_stream_ {
  void* internal_data;
};
}
using chdb_result = chdb_result_;
using chdb_connection = chdb_connection_*;
using chdb_insert_stream = chdb_insert_stream_*;

struct ChdbLibrary::Api {
  chdb_connection* (*connect)(int, char**);
  void (*close_conn)(chdb_connection*);
  chdb_result* (*query_n)(chdb_connection, const char*, size_t, const char*, size_t);
  char* (*result_buffer)(chdb_result*);
  size_t (*result_length)(chdb_result*);
  const char* (*result_error)(chdb_result*);
  void (*destroy_query_result)(chdb_result*);
  void (*set_signal_handlers_enabled)(int);
  chdb_insert_stream (*stream_insert_n)(chdb_connection, const char*, size_t, const char*, size_t);
  int (*stream_append)(chdb_insert_stream, const void*, size_t);
  chdb_result* (*stream_done)(chdb_insert_stream);
  const char* (*stream_insert_error)(chdb_insert_stream);
  void (*destroy_insert_stream)(chdb_insert_stream);
  const char* (*version)();
  int (*shutdown)();
};

namespace {

std::mutex g_load_mutex;
std::weak_ptr<ChdbLibrary> g_library;
std::shared_ptr<ChdbLibrary> g_keep_alive;  // dlclose of this library is not safe; keep it

template <typename F>
bool Resolve(void* handle, const char* name, F& out) {
  out = reinterpret_cast<F>(dlsym(handle, name));
  return out != nullptr;
}

}  // namespace

ChdbLibrary::ChdbLibrary(void* handle, std::unique_ptr<Api> api)
    : handle_(handle), api_(std::move(api)) {}

ChdbLibrary::~ChdbLibrary() = default;  // never dlclose'd: the engine's threads outlive it

base::Result<std::shared_ptr<ChdbLibrary>> ChdbLibrary::Load(const std::string& path) {
  std::lock_guard lock(g_load_mutex);
  if (auto existing = g_library.lock()) return existing;
  if (!std::filesystem::exists(path)) {
    return base::Fail(base::Error{base::ErrorCode::kFailedPrecondition,
                                  fmt::format("libchdb.so not found at '{}'; run scripts/setup "
                                              "or set CHDB_LIB_PATH",
                                              path),
                                  "CHDB_LIB_PATH"});
  }
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return base::Fail(base::Error{base::ErrorCode::kFailedPrecondition,
                                  fmt::format("cannot load '{}': {}", path, dlerror()),
                                  "CHDB_LIB_PATH"});
  }
  auto api = std::make_unique<Api>();
  const bool ok =
      Resolve(handle, "chdb_connect", api->connect) &&
      Resolve(handle, "chdb_close_conn", api->close_conn) &&
      Resolve(handle, "chdb_query_n", api->query_n) &&
      Resolve(handle, "chdb_result_buffer", api->result_buffer) &&
      Resolve(handle, "chdb_result_length", api->result_length) &&
      Resolve(handle, "chdb_result_error", api->result_error) &&
      Resolve(handle, "chdb_destroy_query_result", api->destroy_query_result) &&
      Resolve(handle, "chdb_set_signal_handlers_enabled", api->set_signal_handlers_enabled) &&
      Resolve(handle, "chdb_stream_insert_n", api->stream_insert_n) &&
      Resolve(handle, "chdb_stream_append", api->stream_append) &&
      Resolve(handle, "chdb_stream_done", api->stream_done) &&
      Resolve(handle, "chdb_stream_insert_error", api->stream_insert_error) &&
      Resolve(handle, "chdb_destroy_insert_stream", api->destroy_insert_stream) &&
      Resolve(handle, "chdb_version", api->version) &&
      Resolve(handle, "chdb_shutdown", api->shutdown);
  if (!ok) {
    return base::Fail(base::Error{base::ErrorCode::kFailedPrecondition,
                                  fmt::format("'{}' lacks the chDB 26.7 C API (streaming insert); "
                                              "run scripts/setup for the pinned version",
                                              path),
                                  "CHDB_LIB_PATH"});
  }
  // Its handlers would turn a crash of ours into a silent hang.
  api->set_signal_handlers_enabled(0);
  auto library = std::shared_ptr<ChdbLibrary>(new ChdbLibrary(handle, std::move(api)));
  g_library = library;
  g_keep_alive = library;
  return library;
}

std::string ChdbLibrary::Version() const { return api_->version(); }

ChdbConnection::ChdbConnection(std::shared_ptr<ChdbLibrary> library, void* conn)
    : library_(std::move(library)), conn_(conn) {}

ChdbConnection::~ChdbConnection() { Close(); }

base::Result<std::unique_ptr<ChdbConnection>> ChdbConnection::Open(
    std::shared_ptr<ChdbLibrary> library, const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    return base::Fail(base::Error::Unavailable(
        fmt::format("cannot create data directory '{}': {}", data_dir, ec.message())));
  }
  std::string arg0 = "analytics-service";
  std::string path_arg = "--path=" + std::filesystem::absolute(data_dir).string();
  std::vector<char*> argv = {arg0.data(), path_arg.data()};
  chdb_connection* conn = library->api().connect(static_cast<int>(argv.size()), argv.data());
  if (conn == nullptr || *conn == nullptr) {
    return base::Fail(base::Error::Unavailable(fmt::format(
        "cannot open embedded storage at '{}' (is another process using it?)", data_dir)));
  }
  return std::unique_ptr<ChdbConnection>(new ChdbConnection(std::move(library), conn));
}

base::Result<std::string> ChdbConnection::Query(std::string_view sql, std::string_view format) {
  std::lock_guard lock(mutex_);
  if (conn_ == nullptr) return base::Fail(base::Error::Unavailable("storage is closed"));
  const auto& api = library_->api();
  chdb_result* r = api.query_n(*static_cast<chdb_connection*>(conn_), sql.data(), sql.size(),
                               format.data(), format.size());
  if (r == nullptr) return base::Fail(base::Error::Unavailable("storage returned no result"));
  base::Result<std::string> out;
  if (const char* err = api.result_error(r); err != nullptr) {
    out = base::Fail(base::Error::Unavailable(std::string(err)));
  } else {
    const char* buf = api.result_buffer(r);
    out = std::string(buf == nullptr ? "" : buf, buf == nullptr ? 0 : api.result_length(r));
  }
  api.destroy_query_result(r);
  return out;
}

base::Status ChdbConnection::StreamInsert(std::string_view insert_sql, std::string_view format,
                                          std::string_view data) {
  std::lock_guard lock(mutex_);
  if (conn_ == nullptr) return base::Fail(base::Error::Unavailable("storage is closed"));
  const auto& api = library_->api();
  chdb_insert_stream stream = api.stream_insert_n(*static_cast<chdb_connection*>(conn_),
                                                  insert_sql.data(), insert_sql.size(),
                                                  format.data(), format.size());
  auto fail = [&](const char* what) {
    const char* err = api.stream_insert_error(stream);
    std::string message = fmt::format("{}: {}", what, err ? err : "unknown error");
    api.destroy_insert_stream(stream);
    return base::Fail(base::Error::Unavailable(std::move(message)));
  };
  if (api.stream_insert_error(stream) != nullptr) return fail("insert failed to start");
  constexpr std::size_t kChunk = 1 << 20;
  for (std::size_t off = 0; off < data.size(); off += kChunk) {
    if (api.stream_append(stream, data.data() + off, std::min(kChunk, data.size() - off)) != 0) {
      return fail("insert failed");
    }
  }
  chdb_result* r = api.stream_done(stream);
  base::Status status;
  if (r == nullptr) {
    status = base::Fail(base::Error::Unavailable("insert returned no result"));
  } else {
    if (const char* err = api.result_error(r); err != nullptr) {
      status = base::Fail(base::Error::Unavailable(fmt::format("insert failed: {}", err)));
    }
    api.destroy_query_result(r);
  }
  api.destroy_insert_stream(stream);
  return status;
}

void ChdbConnection::Close() {
  std::lock_guard lock(mutex_);
  if (conn_ == nullptr) return;
  library_->api().close_conn(static_cast<chdb_connection*>(conn_));
  conn_ = nullptr;
}

void ShutdownEngine() {
  std::lock_guard lock(g_load_mutex);
  if (g_keep_alive) g_keep_alive->api().shutdown();
}

}  // namespace adapters::chdb
