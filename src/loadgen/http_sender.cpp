#include "loadgen/http_sender.hpp"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <mutex>
#include <thread>

namespace loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

struct HttpClient::Impl {
  std::string host;
  std::string port;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  HeaderList headers;

  base::Status Connect() {
    try {
      asio::ip::tcp::resolver resolver(ioc);
      stream.emplace(ioc);
      stream->connect(resolver.resolve(host, port));
      stream->socket().set_option(asio::ip::tcp::no_delay(true));
      return {};
    } catch (const std::exception& e) {
      stream.reset();
      return base::Fail(
          base::Error::Unavailable(fmt::format("connect {}:{}: {}", host, port, e.what())));
    }
  }
};

HttpClient::HttpClient(std::string host, std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = std::to_string(port);
}

HttpClient::~HttpClient() = default;

std::string HttpReply::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return {};
}

void HttpClient::SetHeader(const std::string& name, const std::string& value) {
  std::erase_if(impl_->headers, [&](const auto& h) { return beast::iequals(h.first, name); });
  if (!value.empty()) impl_->headers.emplace_back(name, value);
}

base::Result<HttpReply> HttpClient::Send(const std::string& method, const std::string& target,
                                         const std::string& body, const std::string& content_type,
                                         const HeaderList& extra_headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->stream) {
      if (auto s = impl_->Connect(); !s) return base::Fail(s.error());
    }
    try {
      bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
      req.set(bhttp::field::host, impl_->host);
      req.keep_alive(true);
      for (const auto& [k, v] : impl_->headers) req.set(k, v);
      for (const auto& [k, v] : extra_headers) req.set(k, v);
      if (!body.empty() || method == "POST") {
        req.set(bhttp::field::content_type, content_type);
        req.body() = body;
      }
      req.prepare_payload();
      bhttp::write(*impl_->stream, req);
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(1ULL << 30);
      bhttp::read(*impl_->stream, impl_->buffer, parser);
      auto res = parser.release();
      HttpReply reply{static_cast<int>(res.result_int()), std::move(res.body()), {}};
      for (const auto& f : res)
        reply.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      if (!res.keep_alive()) impl_->stream.reset();
      return reply;
    } catch (const std::exception& e) {
      impl_->stream.reset();
      impl_->buffer.clear();
      if (attempt == 1) {
        return base::Fail(
            base::Error::Unavailable(fmt::format("{} {}: {}", method, target, e.what())));
      }
    }
  }
  return base::Fail(base::Error::Unavailable("unreachable"));
}

base::Result<std::pair<std::string, std::uint16_t>> ParseHttpUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  std::string_view rest = url;
  if (rest.starts_with(kScheme)) rest.remove_prefix(kScheme.size());
  if (auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  const auto colon = rest.rfind(':');
  std::uint16_t port = 80;
  std::string host(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    const auto p = rest.substr(colon + 1);
    if (std::from_chars(p.data(), p.data() + p.size(), port).ec != std::errc()) {
      return base::Fail(base::Error::InvalidArgument("bad port in " + url, "url"));
    }
  }
  if (host.empty()) return base::Fail(base::Error::InvalidArgument("no host in " + url, "url"));
  return std::make_pair(host, port);
}

namespace {

std::uint64_t ReadCount(const std::string& body, std::string_view key) {
  const auto needle = fmt::format("\"{}\":", key);
  const auto pos = body.find(needle);
  if (pos == std::string::npos) return 0;
  std::uint64_t n = 0;
  const char* begin = body.data() + pos + needle.size();
  std::from_chars(begin, body.data() + body.size(), n);
  return n;
}

}  // namespace

base::Result<SendStats> SendBatches(const std::string& host, std::uint16_t port,
                                    const std::vector<std::string>& bodies, int connections,
                                    const std::function<void(std::uint64_t)>& on_progress,
                                    const HeaderList& headers) {
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> done{0};
  std::mutex mutex;
  SendStats total;
  std::optional<base::Error> failure;
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < std::max(1, connections); ++c) {
    threads.emplace_back([&] {
      HttpClient client(host, port);
      for (const auto& [k, v] : headers) client.SetHeader(k, v);
      SendStats mine;
      for (;;) {
        const std::size_t i = next.fetch_add(1);
        if (i >= bodies.size()) break;
        std::chrono::milliseconds backoff{50};
        for (;;) {
          auto reply = client.Send("POST", "/api/events", bodies[i], "application/x-ndjson");
          ++mine.requests;
          if (reply && (reply->status == 200 || reply->status == 400)) {
            mine.stored += ReadCount(reply->body, "stored");
            mine.duplicates += ReadCount(reply->body, "duplicates");
            mine.rejected += ReadCount(reply->body, "rejected");
            break;
          }
          const bool retry = !reply || reply->status == 429 || reply->status == 503;
          // A rate limit says when the next request is accepted: wait that long, however
          // often, instead of giving up after the backoff's cap.
          int retry_after = 0;
          if (reply && reply->status == 429) {
            const auto text = reply->Header("Retry-After");
            std::from_chars(text.data(), text.data() + text.size(), retry_after);
          }
          if (retry_after > 0 && retry_after <= 120) {
            ++mine.retries;
            std::this_thread::sleep_for(std::chrono::seconds(retry_after));
            continue;
          }
          if (!retry || backoff > std::chrono::seconds(30)) {
            std::lock_guard lock(mutex);
            failure = reply ? base::Error::Unavailable(fmt::format("HTTP {}: {}", reply->status,
                                                                   reply->body.substr(0, 300)))
                            : reply.error();
            next = bodies.size();
            break;
          }
          ++mine.retries;
          std::this_thread::sleep_for(backoff);
          backoff *= 2;
        }
        const auto d = ++done;
        if (on_progress) on_progress(d);
      }
      std::lock_guard lock(mutex);
      total.requests += mine.requests;
      total.retries += mine.retries;
      total.stored += mine.stored;
      total.duplicates += mine.duplicates;
      total.rejected += mine.rejected;
    });
  }
  for (auto& t : threads) t.join();
  if (failure) return base::Fail(*failure);
  total.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return total;
}

}  // namespace loadgen
