// The byte-level codec halves (threadmap/wire.hpp) on known cases; the fuzz
// target test/fuzz/wire.fuzz.cpp checks the same properties on random input.
#include <string>

#include "check.hpp"
#include "threadmap/wire.hpp"

using namespace threadmap;

namespace {
std::string wtf8(const std::u16string& u) {
  std::string b;
  wire::append_wtf8(b, u.data(), u.size());
  return b;
}
}  // namespace

TEST_CASE("wire: well-formed strings are plain UTF-8") {
  CHECK_EQ(wtf8(u"abc"), std::string("abc"));
  CHECK_EQ(wtf8(u"\u00e9\u20ac"), std::string("\xc3\xa9\xe2\x82\xac"));
  CHECK_EQ(wtf8(u"\U0001D11E"), std::string("\xf0\x9d\x84\x9e"));  // a surrogate pair
  CHECK(!wire::has_encoded_surrogate(wtf8(u"\U0001D11E")));
}

TEST_CASE("wire: lone surrogates get their own bytes and round-trip") {
  const std::u16string lone_high = u"a\xD800", lone_low = u"a\xDFFF", replacement = u"a\xFFFD";
  CHECK(wtf8(lone_high) != wtf8(replacement));
  CHECK(wtf8(lone_low) != wtf8(replacement));
  CHECK(wtf8(lone_high) != wtf8(lone_low));
  CHECK(wire::has_encoded_surrogate(wtf8(lone_high)));
  CHECK(wire::wtf8_to_utf16(wtf8(lone_high)) == lone_high);
  CHECK(wire::wtf8_to_utf16(wtf8(lone_low)) == lone_low);
  // low then high is two lone surrogates, not a pair
  const std::u16string swapped = u"\xDC00\xD800";
  CHECK(wire::wtf8_to_utf16(wtf8(swapped)) == swapped);
}

TEST_CASE("wire: malformed bytes decode to U+FFFD within bounds") {
  CHECK(wire::wtf8_to_utf16("\xe2\x82") == std::u16string(u"\xFFFD\xFFFD"));
  CHECK(wire::wtf8_to_utf16("\x80x") == std::u16string(u"\xFFFDx"));
  CHECK(wire::wtf8_to_utf16("\xf8") == std::u16string(u"\xFFFD"));
}

TEST_CASE("wire: bigint forms parse and reject what no encoder writes") {
  wire::bigint_value v;
  std::string b;
  wire::append_le64(b, static_cast<std::uint64_t>(-5));
  REQUIRE(wire::parse_bigint(b, v));
  CHECK(v.is_small);
  CHECK_EQ(v.small, -5);
  const std::uint64_t words[] = {7, 1, 0};
  b.clear();
  wire::append_bigint_words(b, true, words, 3);
  CHECK_EQ(b.size(), 17u);  // the zero high word is dropped
  REQUIRE(wire::parse_bigint(b, v));
  CHECK(!v.is_small);
  CHECK(v.negative);
  CHECK_EQ(v.words.size(), 2u);
  CHECK(!wire::parse_bigint("", v));
  CHECK(!wire::parse_bigint(std::string(10, '\0'), v));
  CHECK(!wire::parse_bigint(std::string("\x02") + std::string(8, '\0'), v));
}

TEST_MAIN
