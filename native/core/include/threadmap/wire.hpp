// threadmap/wire.hpp — the byte-level halves of the JavaScript codecs, kept
// free of Node so they can be unit-tested and fuzzed alone
// (test/fuzz/wire.fuzz.cpp). The addon's codecs (native/addon/codec.cpp) do
// the Node-API half: reading and creating the JS values.
//
// Strings are stored as UTF-8 when they are well formed; a JS string may also
// hold lone surrogates, which UTF-8 cannot express, and those are stored as
// WTF-8 (generalized UTF-8: a lone surrogate as its own 3-byte sequence, ED
// A0..BF xx). Every UTF-16 sequence then has exactly one byte form, so two
// different JS strings never become the same key.
//
// Bigints are 8 little-endian bytes of int64 when they fit; otherwise a sign
// byte (0 or 1) followed by the magnitude as little-endian 64-bit words with
// no zero high word (9, 17, 25 ... bytes). Both forms are canonical, so the
// encoding is a bijection.
//
// The decoders accept any bytes: malformed input decodes to something (U+FFFD
// for a broken sequence) or is reported, but is never read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace threadmap::wire {

inline bool is_high_surrogate(char16_t c) noexcept {
  return c >= 0xD800 && c <= 0xDBFF;
}
inline bool is_low_surrogate(char16_t c) noexcept {
  return c >= 0xDC00 && c <= 0xDFFF;
}

/// Appends the (generalized) UTF-8 form of one code point, up to 0x10FFFF.
/// `Out` has append(const char*, std::size_t).
template <class Out>
void append_code_point(Out& out, std::uint32_t cp) {
  char p[4];
  std::size_t n;
  if (cp < 0x80) {
    p[0] = static_cast<char>(cp);
    n = 1;
  } else if (cp < 0x800) {
    p[0] = static_cast<char>(0xC0 | (cp >> 6));
    p[1] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    p[0] = static_cast<char>(0xE0 | (cp >> 12));
    p[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    p[2] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    p[0] = static_cast<char>(0xF0 | (cp >> 18));
    p[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    p[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    p[3] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 4;
  }
  out.append(p, n);
}

/// True when the UTF-16 sequence holds a surrogate that is not half of a pair.
inline bool has_lone_surrogate(const char16_t* u, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (is_high_surrogate(u[i]) && i + 1 < n && is_low_surrogate(u[i + 1])) {
      ++i;
    } else if (is_high_surrogate(u[i]) || is_low_surrogate(u[i])) {
      return true;
    }
  }
  return false;
}

/// Appends the WTF-8 form of a UTF-16 sequence (UTF-8 when it is well formed).
template <class Out>
void append_wtf8(Out& out, const char16_t* u, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t c = u[i];
    if (is_high_surrogate(u[i]) && i + 1 < n && is_low_surrogate(u[i + 1])) {
      c = 0x10000 + ((c - 0xD800) << 10) + (u[i + 1] - 0xDC00);
      ++i;
    }
    append_code_point(out, c);
  }
}

/// True when the bytes hold an encoded surrogate (ED A0..ED BF), which
/// well-formed UTF-8 never does: they must be decoded as WTF-8.
inline bool has_encoded_surrogate(std::string_view b) noexcept {
  for (std::size_t i = b.find('\xED'); i != std::string_view::npos; i = b.find('\xED', i + 1)) {
    if (i + 1 < b.size() && static_cast<unsigned char>(b[i + 1]) >= 0xA0) return true;
  }
  return false;
}

/// Decodes WTF-8 (or UTF-8) to UTF-16. A truncated or malformed sequence
/// becomes U+FFFD; nothing past the input is read.
inline std::u16string wtf8_to_utf16(std::string_view b) {
  std::u16string u;
  u.reserve(b.size());
  const auto* s = reinterpret_cast<const unsigned char*>(b.data());
  const std::size_t n = b.size();
  for (std::size_t i = 0; i < n;) {
    std::uint32_t c = s[i];
    const std::size_t len = c < 0x80   ? 1
                            : c < 0xC0 ? 0
                            : c < 0xE0 ? 2
                            : c < 0xF0 ? 3
                            : c < 0xF8 ? 4
                                       : 0;
    bool ok = len != 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) ok = (s[i + k] & 0xC0) == 0x80;
    if (!ok) {
      u.push_back(0xFFFD);
      ++i;
      continue;
    }
    if (len == 2) c = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
    if (len == 3) c = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    if (len == 4) {
      c = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) |
          (s[i + 3] & 0x3F);
    }
    if (c > 0x10FFFF) {
      u.push_back(0xFFFD);
    } else if (c >= 0x10000) {
      c -= 0x10000;
      u.push_back(static_cast<char16_t>(0xD800 + (c >> 10)));
      u.push_back(static_cast<char16_t>(0xDC00 + (c & 0x3FF)));
    } else {
      u.push_back(static_cast<char16_t>(c));
    }
    i += len;
  }
  return u;
}

inline std::uint64_t read_le64(const char* p) noexcept {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x);
#endif
  return x;
}

template <class Out>
void append_le64(Out& out, std::uint64_t x) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x);
#endif
  out.append(reinterpret_cast<const char*>(&x), 8);
}

/// Appends the long bigint form: sign byte, then the magnitude words without
/// zero high words. Used only when the value does not fit int64.
template <class Out>
void append_bigint_words(Out& out, bool negative, const std::uint64_t* words, std::size_t n) {
  while (n > 0 && words[n - 1] == 0) --n;
  const char sign = negative ? 1 : 0;
  out.append(&sign, 1);
  for (std::size_t k = 0; k < n; ++k) append_le64(out, words[k]);
}

/// A stored bigint: either `small` (the int64 form) or `negative` + `words`.
struct bigint_value {
  bool is_small = true;
  std::int64_t small = 0;
  bool negative = false;
  std::vector<std::uint64_t> words;
};

/// Parses a stored bigint. False for bytes no encoder produces (wrong length,
/// sign byte other than 0 or 1).
inline bool parse_bigint(std::string_view b, bigint_value& v) {
  if (b.size() == 8) {
    v.is_small = true;
    v.small = static_cast<std::int64_t>(read_le64(b.data()));
    return true;
  }
  if (b.size() < 9 || (b.size() - 1) % 8 != 0) return false;
  if (b[0] != 0 && b[0] != 1) return false;
  v.is_small = false;
  v.negative = b[0] == 1;
  v.words.resize((b.size() - 1) / 8);
  for (std::size_t k = 0; k < v.words.size(); ++k) v.words[k] = read_le64(b.data() + 1 + 8 * k);
  return true;
}

}  // namespace threadmap::wire
