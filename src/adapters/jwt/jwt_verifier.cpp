#include "adapters/jwt/jwt_verifier.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "adapters/jwt/base64_url.hpp"
#include "adapters/jwt/json_members.hpp"
#include "adapters/jwt/json_web_key.hpp"
#include "adapters/jwt/openssl_ptr.hpp"
#include "adapters/jwt/public_key.hpp"
#include "base/log.hpp"

namespace adapters::jwt {
namespace dom = simdjson::dom;
namespace {

constexpr std::size_t kMinSecretBytes = 32;
constexpr std::chrono::seconds kMaxLeeway{300};
constexpr std::chrono::milliseconds kJwksRecheckInterval{1000};
constexpr std::uintmax_t kMaxJwksFileBytes = 1 << 20;
// NumericDate (RFC 7519) beyond 2^53 seconds cannot be told apart from its neighbours once read
// as a double; such values are refused rather than rounded.
constexpr std::int64_t kMaxNumericDate = std::int64_t{1} << 53;
// Deep enough for any claim set; bounds the recursion of the duplicate check.
constexpr std::size_t kMaxJsonDepth = 32;
constexpr std::size_t kInitialParserCapacity = 4096;
constexpr std::size_t kHs256Bytes = 32;
constexpr std::size_t kSecretFileRandomBytes = 32;
constexpr std::size_t kMaxSecretFileBytes = 4096;

enum class Algorithm { kHs256, kRs256, kEs256 };

constexpr std::array<std::pair<std::string_view, Algorithm>, 3> kAlgorithms{{
    {"HS256", Algorithm::kHs256},
    {"RS256", Algorithm::kRs256},
    {"ES256", Algorithm::kEs256},
}};

std::optional<Algorithm> AlgorithmNamed(std::string_view name) {
  for (const auto& [known, algorithm] : kAlgorithms) {
    if (known == name) return algorithm;
  }
  return std::nullopt;
}

std::string_view NameOf(Algorithm algorithm) {
  return kAlgorithms[static_cast<std::size_t>(algorithm)].first;
}

std::unexpected<base::Error> Refuse(std::string_view reason) {
  return base::Fail(base::Error{base::ErrorCode::kUnauthenticated, std::string(reason), {}});
}

std::unexpected<base::Error> BadSetting(std::string message, std::string_view setting) {
  return base::Fail(base::Error::InvalidArgument(std::move(message), std::string(setting)));
}

char ToLowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ToLowerAscii(x) == ToLowerAscii(y);
         });
}

// RFC 7515 section 4.1.9: "typ" is a media type, compared case-insensitively, whose
// "application/" prefix may be left out.
bool IsAcceptedType(std::string_view typ) {
  constexpr std::string_view kPrefix = "application/";
  if (typ.size() > kPrefix.size() && EqualsIgnoringCase(typ.substr(0, kPrefix.size()), kPrefix)) {
    typ.remove_prefix(kPrefix.size());
  }
  return EqualsIgnoringCase(typ, "JWT") || EqualsIgnoringCase(typ, "at+jwt");
}

/// HMAC-SHA-256 under one key. The keyed context is set up once; each message works on a copy,
/// so concurrent calls share nothing mutable.
class HmacSha256 {
 public:
  static std::optional<HmacSha256> Create(std::string_view key) {
    const MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    MacCtxPtr keyed(mac == nullptr ? nullptr : EVP_MAC_CTX_new(mac.get()));
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (keyed == nullptr ||
        EVP_MAC_init(keyed.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     params) != 1) {
      ERR_clear_error();
      return std::nullopt;
    }
    return HmacSha256(std::move(keyed));
  }

  bool Compute(std::string_view message, std::array<unsigned char, kHs256Bytes>& out) const {
    const MacCtxPtr ctx(EVP_MAC_CTX_dup(keyed_.get()));
    std::size_t length = 0;
    const bool ok =
        ctx != nullptr &&
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1 &&
        EVP_MAC_final(ctx.get(), out.data(), &length, out.size()) == 1 && length == out.size();
    if (!ok) ERR_clear_error();
    return ok;
  }

 private:
  explicit HmacSha256(MacCtxPtr keyed) : keyed_(std::move(keyed)) {}
  MacCtxPtr keyed_;
};

struct FileStamp {
  std::filesystem::file_time_type modified;
  std::uintmax_t size = 0;
  bool operator==(const FileStamp&) const = default;
};

base::Result<FileStamp> StampOf(const std::filesystem::path& path) {
  std::error_code error;
  FileStamp stamp;
  stamp.modified = std::filesystem::last_write_time(path, error);
  if (!error) stamp.size = std::filesystem::file_size(path, error);
  if (error) return base::Fail(base::Error::Unavailable("cannot stat: " + error.message()));
  return stamp;
}

base::Result<JwkSet> LoadJwkSet(const std::filesystem::path& path, std::uintmax_t size) {
  if (size > kMaxJwksFileBytes) {
    return base::Fail(base::Error::InvalidArgument("is larger than 1 MiB"));
  }
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<std::size_t>(size) + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad() || !in.eof()) {
    // Either unreadable or grown since it was measured; the next check sees the new size.
    return base::Fail(base::Error::Unavailable("cannot be read"));
  }
  text.resize(static_cast<std::size_t>(in.gcount()));
  return ParseJwkSet(text);
}

/// The key set of a JWKS file, swapped whole when the file's mtime or size changes. Readers get
/// a shared pointer that stays valid across a swap.
class JwksFile {
 public:
  static base::Result<std::unique_ptr<JwksFile>> Open(std::filesystem::path path,
                                                      base::TimePoint now) {
    TRY_ASSIGN(stamp, StampOf(path));
    TRY_ASSIGN(set, LoadJwkSet(path, stamp->size));
    auto file = std::unique_ptr<JwksFile>(new JwksFile(std::move(path)));
    file->set_ = std::make_shared<const JwkSet>(std::move(*set));
    file->loaded_ = *stamp;
    file->next_check_ms_.store(Millis(now) + kJwksRecheckInterval.count());
    return file;
  }

  /// The keys in force, after re-checking the file if a check is due. Only one thread re-checks;
  /// the others carry on with the keys they find.
  std::shared_ptr<const JwkSet> Current(base::TimePoint now) {
    const std::int64_t now_ms = Millis(now);
    if (IsCheckDue(now_ms)) {
      const std::unique_lock reload(reload_mutex_, std::try_to_lock);
      if (reload.owns_lock() && IsCheckDue(now_ms)) {
        next_check_ms_.store(now_ms + kJwksRecheckInterval.count(), std::memory_order_relaxed);
        Recheck();
      }
    }
    const std::shared_lock read(set_mutex_);
    return set_;
  }

 private:
  explicit JwksFile(std::filesystem::path path) : path_(std::move(path)) {}

  static std::int64_t Millis(base::TimePoint t) { return t.time_since_epoch().count(); }

  bool IsCheckDue(std::int64_t now_ms) const {
    const std::int64_t next = next_check_ms_.load(std::memory_order_relaxed);
    // A clock set back must not postpone re-checks by as much as it moved.
    return now_ms >= next || now_ms < next - kJwksRecheckInterval.count();
  }

  // Runs with reload_mutex_ held.
  void Recheck() {
    const auto stamp = StampOf(path_);
    if (stamp && loaded_ && *stamp == *loaded_) return;
    auto set =
        stamp ? LoadJwkSet(path_, stamp->size) : base::Result<JwkSet>(base::Fail(stamp.error()));
    if (!set) {
      const std::optional<FileStamp> failed =
          stamp ? std::optional<FileStamp>(*stamp) : std::nullopt;
      // Once per distinct failure: a broken file stays broken until rewritten.
      if (failed != failed_stamp_ || set.error().message != failed_reason_) {
        base::log::Warn("jwt.jwks_reload_failed",
                        {{"path", path_.string()}, {"reason", set.error().message}});
        failed_stamp_ = failed;
        failed_reason_ = set.error().message;
      }
      return;
    }
    auto next = std::make_shared<const JwkSet>(std::move(*set));
    base::log::Info(
        "jwt.jwks_reloaded",
        {{"path", path_.string()}, {"keys", next->keys.size()}, {"skipped", next->skipped}});
    {
      const std::unique_lock write(set_mutex_);
      set_ = std::move(next);
    }
    loaded_ = *stamp;
    failed_stamp_.reset();
    failed_reason_.clear();
  }

  const std::filesystem::path path_;
  std::atomic<std::int64_t> next_check_ms_{0};
  std::shared_mutex set_mutex_;
  std::shared_ptr<const JwkSet> set_;  // guarded by set_mutex_
  std::mutex reload_mutex_;
  // The rest is guarded by reload_mutex_.
  std::optional<FileStamp> loaded_;
  std::optional<FileStamp> failed_stamp_;
  std::string failed_reason_;
};

/// Per-thread working memory of `Verify`, so that the common path does not allocate.
struct Scratch {
  dom::parser parser;
  std::string json;  // a decoded segment followed by simdjson's padding
  std::string signature;
  std::vector<std::string_view> member_names;

  Scratch() {
    if (parser.allocate(kInitialParserCapacity, kMaxJsonDepth) != simdjson::SUCCESS) {
      throw std::bad_alloc();
    }
  }
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

struct Segments {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // header.payload, what the signature covers
};

bool IsBase64UrlCharacter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Exactly three base64url segments, the first two non-empty. The signature may be empty here so
// that an unsigned token is refused for its algorithm, the more useful reason.
std::optional<Segments> Split(std::string_view token) {
  std::size_t dots[2] = {0, 0};
  std::size_t count = 0;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '.') {
      if (count == 2) return std::nullopt;
      dots[count++] = i;
    } else if (!IsBase64UrlCharacter(token[i])) {
      return std::nullopt;
    }
  }
  if (count != 2 || dots[0] == 0 || dots[1] == dots[0] + 1) return std::nullopt;
  return Segments{
      .header = token.substr(0, dots[0]),
      .payload = token.substr(dots[0] + 1, dots[1] - dots[0] - 1),
      .signature = token.substr(dots[1] + 1),
      .signing_input = token.substr(0, dots[1]),
  };
}

struct SegmentReasons {
  std::string_view malformed;
  std::string_view duplicate;
};
constexpr SegmentReasons kHeaderReasons{"malformed header", "duplicate header member"};
constexpr SegmentReasons kPayloadReasons{"malformed payload", "duplicate claim"};

// The object stays valid until the next parse on this thread's scratch parser.
base::Result<dom::object> ParseObjectSegment(std::string_view segment, Scratch& scratch,
                                             const SegmentReasons& reasons) {
  if (!DecodeBase64Url(segment, scratch.json)) return Refuse("malformed token");
  const std::size_t length = scratch.json.size();
  scratch.json.resize(length + simdjson::SIMDJSON_PADDING);
  dom::element root;
  dom::object object;
  // simdjson validates UTF-8 over the whole document, strings and member names included.
  if (scratch.parser.parse(scratch.json.data(), length, false).get(root) != simdjson::SUCCESS ||
      root.get_object().get(object) != simdjson::SUCCESS) {
    return Refuse(reasons.malformed);
  }
  if (HasDuplicateMembers(root, scratch.member_names)) return Refuse(reasons.duplicate);
  return object;
}

// A NumericDate (RFC 7519 section 2): seconds since the epoch as a JSON number, possibly with a
// fraction; negative, non-numeric and out-of-range values are refused.
std::optional<base::TimePoint> NumericDate(dom::element value) {
  std::int64_t millis = 0;
  switch (value.type()) {
    case dom::element_type::INT64: {
      const std::int64_t seconds = value.get_int64().value_unsafe();
      if (seconds < 0 || seconds > kMaxNumericDate) return std::nullopt;
      millis = seconds * 1000;
      break;
    }
    case dom::element_type::DOUBLE: {
      const double seconds = value.get_double().value_unsafe();
      if (!(seconds >= 0 && seconds <= static_cast<double>(kMaxNumericDate))) return std::nullopt;
      millis = static_cast<std::int64_t>(std::floor(seconds * 1000));
      break;
    }
    default:  // UINT64 only holds values above INT64_MAX
      return std::nullopt;
  }
  return base::TimePoint(std::chrono::milliseconds(millis));
}

}  // namespace

struct JwtVerifier::State {
  explicit State(const base::Clock& c) : clock(c) {}

  base::Status CheckSignature(Algorithm algorithm, std::optional<std::string_view> kid,
                              std::string_view signing_input, std::string_view signature) const;
  base::Result<app::VerifiedToken> CheckClaims(dom::object claims) const;
  base::Status CollectRoles(dom::object claims, std::vector<std::string>& roles) const;

  const base::Clock& clock;
  std::array<bool, kAlgorithms.size()> allowed{};
  std::optional<HmacSha256> hmac;
  std::optional<PublicKey> pem_key;
  std::unique_ptr<JwksFile> jwks;
  std::string issuer;
  std::string audience;
  std::chrono::milliseconds leeway{0};
  std::vector<std::string> role_path;
  std::size_t max_token_bytes = 0;
};

base::Status JwtVerifier::State::CheckSignature(Algorithm algorithm,
                                                std::optional<std::string_view> kid,
                                                std::string_view signing_input,
                                                std::string_view signature) const {
  if (algorithm == Algorithm::kHs256) {
    if (!hmac) return Refuse("no key for algorithm");
    std::array<unsigned char, kHs256Bytes> expected{};
    if (signature.size() != expected.size() || !hmac->Compute(signing_input, expected) ||
        CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) != 0) {
      return Refuse("bad signature");
    }
    return {};
  }
  // The algorithm picks the key family; nothing in the token can make an RSA or EC key act as
  // an HMAC secret, or pick a key that is not configured.
  const KeyKind kind = algorithm == Algorithm::kRs256 ? KeyKind::kRsa : KeyKind::kEcP256;
  const PublicKey* pem = pem_key && pem_key->Kind() == kind ? &*pem_key : nullptr;
  const PublicKey* key = pem;
  std::shared_ptr<const JwkSet> set;  // keeps `key` alive across a concurrent reload
  if (jwks) {
    set = jwks->Current(clock.Now());
    const JsonWebKey* jwk = kid ? set->Find(*kid, kind) : nullptr;
    if (jwk != nullptr) {
      if (!jwk->IsUsableFor(NameOf(algorithm))) return Refuse("key not usable for algorithm");
      key = &jwk->key;
    } else if (pem == nullptr) {
      return Refuse(kid ? "unknown key id" : "missing key id");
    }
  }
  if (key == nullptr) return Refuse("no key for algorithm");
  if (!key->Verify(signing_input, signature)) return Refuse("bad signature");
  return {};
}

base::Result<app::VerifiedToken> JwtVerifier::State::CheckClaims(dom::object claims) const {
  const base::TimePoint now = clock.Now();
  dom::element value;
  if (claims.at_key("exp").get(value) != simdjson::SUCCESS) return Refuse("missing exp");
  const auto expires_at = NumericDate(value);
  if (!expires_at) return Refuse("bad exp");
  if (now >= *expires_at + leeway) return Refuse("token expired");
  if (claims.at_key("nbf").get(value) == simdjson::SUCCESS) {
    const auto not_before = NumericDate(value);
    if (!not_before) return Refuse("bad nbf");
    if (now + leeway < *not_before) return Refuse("token not yet valid");
  }
  if (claims.at_key("iat").get(value) == simdjson::SUCCESS && !NumericDate(value)) {
    return Refuse("bad iat");
  }

  std::string_view text;
  const bool has_issuer = claims.at_key("iss").get(value) == simdjson::SUCCESS;
  if (has_issuer && value.get_string().get(text) != simdjson::SUCCESS) return Refuse("bad issuer");
  if (!issuer.empty() && (!has_issuer || text != issuer)) return Refuse("wrong issuer");

  bool audience_matches = false;
  if (claims.at_key("aud").get(value) == simdjson::SUCCESS) {
    dom::array list;
    if (value.get_string().get(text) == simdjson::SUCCESS) {
      audience_matches = text == audience;
    } else if (value.get_array().get(list) == simdjson::SUCCESS) {
      for (const dom::element item : list) {
        if (item.get_string().get(text) != simdjson::SUCCESS) return Refuse("bad audience");
        audience_matches = audience_matches || text == audience;
      }
    } else {
      return Refuse("bad audience");
    }
  }
  if (!audience.empty() && !audience_matches) return Refuse("wrong audience");

  app::VerifiedToken verified;
  verified.expires_at = *expires_at;
  if (claims.at_key("sub").get(value) == simdjson::SUCCESS) {
    if (value.get_string().get(text) != simdjson::SUCCESS) return Refuse("bad subject");
    verified.subject = text;
  }
  if (auto status = CollectRoles(claims, verified.roles); !status) {
    return base::Fail(status.error());
  }
  return verified;
}

base::Status JwtVerifier::State::CollectRoles(dom::object claims,
                                              std::vector<std::string>& roles) const {
  dom::object scope = claims;
  dom::element value;
  for (std::size_t i = 0; i < role_path.size(); ++i) {
    if (scope.at_key(role_path[i]).get(value) != simdjson::SUCCESS) return {};  // no roles
    if (i + 1 < role_path.size() && value.get_object().get(scope) != simdjson::SUCCESS) {
      return Refuse("bad role claim");
    }
  }
  std::string_view role;
  dom::array list;
  if (value.get_string().get(role) == simdjson::SUCCESS) {
    roles.emplace_back(role);
    return {};
  }
  if (value.get_array().get(list) != simdjson::SUCCESS) return Refuse("bad role claim");
  for (const dom::element item : list) {
    if (item.get_string().get(role) != simdjson::SUCCESS) return Refuse("bad role claim");
    roles.emplace_back(role);
  }
  return {};
}

JwtVerifier::JwtVerifier(std::unique_ptr<State> state) : state_(std::move(state)) {}

JwtVerifier::~JwtVerifier() = default;

base::Result<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(Options options,
                                                               const base::Clock& clock) {
  auto state = std::make_unique<State>(clock);
  if (options.leeway < std::chrono::seconds(0) || options.leeway > kMaxLeeway) {
    return BadSetting(fmt::format("must be between 0 and {} seconds, not {}", kMaxLeeway.count(),
                                  options.leeway.count()),
                      "JWT_LEEWAY_SECONDS");
  }
  state->leeway = options.leeway;
  if (options.algorithms.empty()) {
    return BadSetting("is empty; set one or more of HS256, RS256, ES256", "JWT_ALGORITHMS");
  }
  for (const auto& name : options.algorithms) {
    const auto algorithm = AlgorithmNamed(name);
    if (!algorithm) {
      return BadSetting(
          fmt::format("names unknown algorithm \"{}\"; allowed are HS256, RS256, ES256", name),
          "JWT_ALGORITHMS");
    }
    state->allowed[static_cast<std::size_t>(*algorithm)] = true;
  }
  const auto allows = [&](Algorithm a) { return state->allowed[static_cast<std::size_t>(a)]; };

  std::string_view path = options.role_claim;
  while (true) {
    const auto dot = path.find('.');
    const auto name = path.substr(0, dot);
    if (name.empty()) {
      return BadSetting("must be a claim name or a dotted path of claim names", "JWT_ROLE_CLAIM");
    }
    state->role_path.emplace_back(name);
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }

  if (options.hmac_secret.empty() && options.public_key_pem.empty() && options.jwks_file.empty()) {
    return BadSetting("no key is configured; set JWT_SECRET, JWT_PUBLIC_KEY_FILE or JWKS_FILE",
                      "JWT_SECRET");
  }
  if (!options.hmac_secret.empty()) {
    if (options.hmac_secret.size() < kMinSecretBytes) {
      return BadSetting(fmt::format("must be at least {} bytes", kMinSecretBytes), "JWT_SECRET");
    }
    if (!allows(Algorithm::kHs256)) {
      return BadSetting(
          "does not include HS256 although JWT_SECRET is set; add HS256 or unset JWT_SECRET",
          "JWT_ALGORITHMS");
    }
    state->hmac = HmacSha256::Create(options.hmac_secret);
    if (!state->hmac) return base::Fail(base::Error::Internal("OpenSSL has no HMAC-SHA-256"));
  }
  if (!options.public_key_pem.empty()) {
    auto key = PublicKey::FromPem(options.public_key_pem);
    if (!key) {
      return BadSetting("the key in JWT_PUBLIC_KEY_FILE " + key.error().message,
                        "JWT_PUBLIC_KEY_FILE");
    }
    if (key->Kind() == KeyKind::kRsa && !allows(Algorithm::kRs256)) {
      return BadSetting(
          "does not include RS256 although JWT_PUBLIC_KEY_FILE holds an RSA key; add RS256",
          "JWT_ALGORITHMS");
    }
    if (key->Kind() == KeyKind::kEcP256 && !allows(Algorithm::kEs256)) {
      return BadSetting(
          "does not include ES256 although JWT_PUBLIC_KEY_FILE holds an EC P-256 key; add ES256",
          "JWT_ALGORITHMS");
    }
    state->pem_key = std::move(*key);
  }
  if (!options.jwks_file.empty()) {
    auto file = JwksFile::Open(options.jwks_file, clock.Now());
    if (!file) {
      return BadSetting(fmt::format("{} {}", options.jwks_file, file.error().message), "JWKS_FILE");
    }
    const auto set = (*file)->Current(clock.Now());
    if (set->keys.empty()) {
      return BadSetting(fmt::format("{} holds no RSA or EC P-256 key", options.jwks_file),
                        "JWKS_FILE");
    }
    const bool usable = std::any_of(set->keys.begin(), set->keys.end(), [&](const JsonWebKey& k) {
      return std::any_of(kAlgorithms.begin(), kAlgorithms.end(), [&](const auto& entry) {
        return allows(entry.second) && k.IsUsableFor(entry.first);
      });
    });
    if (!usable) {
      return BadSetting(fmt::format("allows no algorithm that a key in {} can verify; add RS256 "
                                    "for RSA keys or ES256 for EC keys (and check their \"alg\" "
                                    "and \"use\")",
                                    options.jwks_file),
                        "JWT_ALGORITHMS");
    }
    state->jwks = std::move(*file);
  }
  state->issuer = std::move(options.issuer);
  state->audience = std::move(options.audience);
  state->max_token_bytes = options.max_token_bytes;
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(state)));
}

base::Result<app::VerifiedToken> JwtVerifier::Verify(std::string_view token) const {
  const State& state = *state_;
  if (token.size() > state.max_token_bytes) return Refuse("token too large");
  const auto segments = Split(token);
  if (!segments) return Refuse("malformed token");
  Scratch& scratch = ThreadScratch();

  TRY_ASSIGN(header, ParseObjectSegment(segments->header, scratch, kHeaderReasons));
  dom::element value;
  std::string_view text;
  if (header->at_key("alg").get(value) != simdjson::SUCCESS) return Refuse("missing algorithm");
  // Exact and case-sensitive: "none" in any spelling, and any algorithm not pinned, fails here.
  const auto algorithm = value.get_string().get(text) == simdjson::SUCCESS
                             ? AlgorithmNamed(text)
                             : std::optional<Algorithm>();
  if (!algorithm || !state.allowed[static_cast<std::size_t>(*algorithm)]) {
    return Refuse("algorithm not allowed");
  }
  if (header->at_key("typ").get(value) == simdjson::SUCCESS &&
      (value.get_string().get(text) != simdjson::SUCCESS || !IsAcceptedType(text))) {
    return Refuse("unsupported token type");
  }
  // No extension is understood, so any "crit" list names one that must not be ignored.
  if (header->at_key("crit").get(value) == simdjson::SUCCESS) {
    return Refuse("critical header not supported");
  }
  std::optional<std::string_view> kid;
  if (header->at_key("kid").get(value) == simdjson::SUCCESS) {
    if (value.get_string().get(text) != simdjson::SUCCESS) return Refuse("bad key id");
    kid = text;
  }

  if (segments->signature.empty()) return Refuse("missing signature");
  if (!DecodeBase64Url(segments->signature, scratch.signature)) return Refuse("malformed token");
  // `kid` points into the header document, which stays valid until the payload is parsed.
  if (auto status =
          state.CheckSignature(*algorithm, kid, segments->signing_input, scratch.signature);
      !status) {
    return base::Fail(status.error());
  }

  TRY_ASSIGN(claims, ParseObjectSegment(segments->payload, scratch, kPayloadReasons));
  return state.CheckClaims(*claims);
}

std::string MintHs256(std::string_view secret, std::string_view claims_json) {
  std::string token = EncodeBase64Url(R"({"alg":"HS256","typ":"JWT"})");
  token += '.';
  token += EncodeBase64Url(claims_json);
  std::array<unsigned char, kHs256Bytes> mac{};
  std::size_t length = 0;
  // A non-null key pointer: OpenSSL reads a null key as "keep the previous key".
  const char* key = secret.empty() ? "" : secret.data();
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key, secret.size(),
                reinterpret_cast<const unsigned char*>(token.data()), token.size(), mac.data(),
                mac.size(), &length) == nullptr ||
      length != mac.size()) {
    throw std::runtime_error("OpenSSL HMAC-SHA-256 failed");  // a broken OpenSSL only
  }
  token += '.';
  token += EncodeBase64Url(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

namespace {

/// Closes a file descriptor on scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int Get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::unexpected<base::Error> SecretFileError(const std::filesystem::path& path,
                                             std::string_view what, int error_number = 0) {
  std::string message = fmt::format("secret file {} {}", path.string(), what);
  if (error_number != 0) message += fmt::format(": {}", std::strerror(error_number));
  return base::Fail(base::Error::InvalidArgument(std::move(message)));
}

base::Result<std::string> ReadSecretFile(const std::filesystem::path& path, int fd) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return SecretFileError(path, "cannot be examined", errno);
  if (!S_ISREG(info.st_mode)) return SecretFileError(path, "is not a regular file");
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return SecretFileError(path, fmt::format("is open to group or others (mode {:o}); chmod 600 it",
                                             info.st_mode & 07777));
  }
  std::string secret(kMaxSecretFileBytes + 1, '\0');
  std::size_t filled = 0;
  while (filled < secret.size()) {
    const ssize_t n = ::read(fd, secret.data() + filled, secret.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SecretFileError(path, "cannot be read", errno);
    if (n == 0) break;
    filled += static_cast<std::size_t>(n);
  }
  if (filled > kMaxSecretFileBytes) return SecretFileError(path, "is larger than 4096 bytes");
  secret.resize(filled);
  // Files written by hand or by `openssl rand -hex 32 > file` end with a newline.
  while (!secret.empty() && std::string_view(" \t\r\n").find(secret.back()) != std::string::npos) {
    secret.pop_back();
  }
  if (secret.size() < kMinSecretBytes) {
    return SecretFileError(path, fmt::format("holds fewer than {} bytes", kMinSecretBytes));
  }
  return secret;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string Hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * size, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0x0F];
  }
  return out;
}

// The secret is written to a private temporary file in the same directory and linked into
// place: link() refuses to replace an existing file, and readers never see a partial secret.
// Returns nothing when another process created the file first.
base::Result<std::optional<std::string>> CreateSecretFile(const std::filesystem::path& path) {
  std::array<unsigned char, kSecretFileRandomBytes> random{};
  std::array<unsigned char, 8> suffix{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1 ||
      RAND_bytes(suffix.data(), static_cast<int>(suffix.size())) != 1) {
    ERR_clear_error();
    return base::Fail(base::Error::Internal("OpenSSL has no random bytes"));
  }
  const std::string secret = Hex(random.data(), random.size());
  std::filesystem::path temporary = path;
  temporary += ".tmp-" + Hex(suffix.data(), suffix.size());

  FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.Get() < 0) return SecretFileError(path, "cannot be created", errno);
  // The mode given to open() is narrowed by the umask only; fchmod makes it exactly 0600.
  const bool written = ::fchmod(fd.Get(), 0600) == 0 && WriteAll(fd.Get(), secret) &&
                       ::fsync(fd.Get()) == 0 && ::close(fd.Release()) == 0;
  const int write_error = errno;
  if (!written) {
    ::unlink(temporary.c_str());
    return SecretFileError(path, "cannot be written", write_error);
  }
  const int linked = ::link(temporary.c_str(), path.c_str());
  const int link_error = errno;
  ::unlink(temporary.c_str());
  if (linked != 0 && link_error == EEXIST) return std::optional<std::string>();
  if (linked != 0) return SecretFileError(path, "cannot be created", link_error);
  return std::optional<std::string>(secret);
}

}  // namespace

base::Result<std::string> LoadOrCreateSecretFile(const std::filesystem::path& path) {
  // Two rounds: a file that appears between our open and our create is read on the second.
  for (int round = 0; round < 2; ++round) {
    const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.Get() >= 0) return ReadSecretFile(path, fd.Get());
    if (errno != ENOENT) return SecretFileError(path, "cannot be opened", errno);
    TRY_ASSIGN(created, CreateSecretFile(path));
    if (*created) return std::move(**created);
  }
  return SecretFileError(path, "keeps changing while being created");
}

}  // namespace adapters::jwt
