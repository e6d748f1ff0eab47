#include "adapters/jwt/json_web_key.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "adapters/jwt/base64_url.hpp"
#include "adapters/jwt/json_members.hpp"

namespace adapters::jwt {
namespace dom = simdjson::dom;
namespace {

// Deep enough for any key set; bounds the recursion of the duplicate check.
constexpr std::size_t kMaxJsonDepth = 32;

std::unexpected<base::Error> Invalid(std::string message) {
  return base::Fail(base::Error::InvalidArgument(std::move(message)));
}

// An absent member leaves `out` empty; a present one must be a string.
bool ReadOptionalString(dom::object object, std::string_view name, std::string& out) {
  dom::element value;
  if (object.at_key(name).get(value) != simdjson::SUCCESS) return true;
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return false;
  out.assign(text);
  return true;
}

std::optional<std::string> ReadBase64UrlMember(dom::object object, std::string_view name) {
  std::string_view text;
  if (object.at_key(name).get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  return DecodeBase64Url(text);
}

base::Result<PublicKey> ParseRsaKey(dom::object object) {
  const auto n = ReadBase64UrlMember(object, "n");
  const auto e = ReadBase64UrlMember(object, "e");
  if (!n || !e) return Invalid("\"n\" and \"e\" must be base64url strings");
  return PublicKey::FromRsaComponents(*n, *e);
}

base::Result<PublicKey> ParseEcP256Key(dom::object object) {
  const auto x = ReadBase64UrlMember(object, "x");
  const auto y = ReadBase64UrlMember(object, "y");
  if (!x || !y) return Invalid("\"x\" and \"y\" must be base64url strings");
  return PublicKey::FromEcP256Coordinates(*x, *y);
}

base::Status ParseKey(dom::element item, std::size_t index, JwkSet& set) {
  const auto fail = [index](std::string_view what) {
    return Invalid(fmt::format("key {}: {}", index, what));
  };
  dom::object object;
  if (item.get_object().get(object) != simdjson::SUCCESS) return fail("is not a JSON object");
  std::string_view kty;
  if (object.at_key("kty").get_string().get(kty) != simdjson::SUCCESS) {
    return fail("\"kty\" must be a string");
  }
  std::string_view crv;
  const bool is_rsa = kty == "RSA";
  if (kty == "EC" && object.at_key("crv").get_string().get(crv) != simdjson::SUCCESS) {
    return fail("\"crv\" must be a string");
  }
  if (!is_rsa && !(kty == "EC" && crv == "P-256")) {
    ++set.skipped;
    return {};
  }
  std::string kid;
  std::string alg;
  std::string use;
  if (!ReadOptionalString(object, "kid", kid)) return fail("\"kid\" must be a string");
  if (!ReadOptionalString(object, "alg", alg)) return fail("\"alg\" must be a string");
  if (!ReadOptionalString(object, "use", use)) return fail("\"use\" must be a string");

  auto key = is_rsa ? ParseRsaKey(object) : ParseEcP256Key(object);
  if (!key) return fail(key.error().message);
  set.keys.push_back(JsonWebKey{std::move(kid), std::move(alg), std::move(use), std::move(*key)});
  return {};
}

}  // namespace

bool JsonWebKey::IsUsableFor(std::string_view token_alg) const {
  const std::string_view kind_alg = key.Kind() == KeyKind::kRsa ? "RS256" : "ES256";
  return token_alg == kind_alg && (alg.empty() || alg == token_alg) &&
         (use.empty() || use == "sig");
}

const JsonWebKey* JwkSet::Find(std::string_view kid, KeyKind kind) const {
  const auto it = std::find_if(keys.begin(), keys.end(), [&](const JsonWebKey& k) {
    return k.kid == kid && k.key.Kind() == kind;
  });
  return it == keys.end() ? nullptr : &*it;
}

base::Result<JwkSet> ParseJwkSet(std::string_view json) {
  dom::parser parser;
  dom::element root;
  if (parser.allocate(std::max<std::size_t>(json.size(), 1), kMaxJsonDepth) != simdjson::SUCCESS ||
      parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return Invalid("is not valid JSON (or nests deeper than 32 levels)");
  }
  std::vector<std::string_view> scratch;
  if (HasDuplicateMembers(root, scratch)) return Invalid("has a duplicate member name");
  dom::array keys;
  if (!root.is_object() || root.at_key("keys").get_array().get(keys) != simdjson::SUCCESS) {
    return Invalid("must be a JSON object with a \"keys\" array");
  }
  JwkSet set;
  std::size_t index = 0;
  for (const dom::element item : keys) {
    if (auto status = ParseKey(item, index++, set); !status) return base::Fail(status.error());
  }
  return set;
}

}  // namespace adapters::jwt
