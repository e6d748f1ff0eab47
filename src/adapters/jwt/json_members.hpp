#pragma once

#include <simdjson.h>

#include <algorithm>
#include <string_view>
#include <vector>

namespace adapters::jwt {

/// Whether any object inside `element` (itself included) names a member twice. simdjson's DOM
/// keeps every duplicate, and lookups return the first while other JSON readers return the last,
/// so a document with duplicates could mean different things to different readers (RFC 7515
/// section 5.2 lets a JWS reader refuse it). Member names compare after unescaping. `scratch` is
/// working space, empty on return; passing one per thread avoids allocating on each call.
inline bool HasDuplicateMembers(simdjson::dom::element element,
                                std::vector<std::string_view>& scratch) {
  simdjson::dom::object object;
  simdjson::dom::array array;
  if (element.get_object().get(object) == simdjson::SUCCESS) {
    const auto start = static_cast<std::ptrdiff_t>(scratch.size());
    for (const auto field : object) scratch.push_back(field.key);
    std::sort(scratch.begin() + start, scratch.end());
    const bool duplicate =
        std::adjacent_find(scratch.begin() + start, scratch.end()) != scratch.end();
    scratch.resize(static_cast<std::size_t>(start));
    if (duplicate) return true;
    for (const auto field : object) {
      if (HasDuplicateMembers(field.value, scratch)) return true;
    }
  } else if (element.get_array().get(array) == simdjson::SUCCESS) {
    for (const simdjson::dom::element child : array) {
      if (HasDuplicateMembers(child, scratch)) return true;
    }
  }
  return false;
}

}  // namespace adapters::jwt
