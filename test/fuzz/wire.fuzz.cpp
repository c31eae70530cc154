// libFuzzer target: arbitrary bytes into the byte-level decoders the addon
// uses for stored keys and values (threadmap/wire.hpp) and into the scan
// record reader. Byte 0 picks the mode:
//   0  bytes -> UTF-16 (must stay in bounds; decoding is stable under re-encoding)
//   1  the rest as UTF-16 -> WTF-8 -> UTF-16 must give it back exactly
//   2  bytes -> bigint parse; a parsed value re-encodes to bytes that parse equal
//   3  bytes -> scan records (lengths must never reach past the buffer)
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "threadmap/map.hpp"
#include "threadmap/wire.hpp"

using namespace threadmap;

namespace {
[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "wire property broken: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: {
      const std::u16string u = wire::wtf8_to_utf16(rest);
      std::string again;
      wire::append_wtf8(again, u.data(), u.size());
      if (wire::wtf8_to_utf16(again) != u) fail("decode(encode(decode(b))) != decode(b)");
      break;
    }
    case 1: {
      std::u16string u(rest.size() / 2, u'\0');
      if (!u.empty()) std::memcpy(u.data(), rest.data(), u.size() * 2);
      std::string b;
      wire::append_wtf8(b, u.data(), u.size());
      if (wire::wtf8_to_utf16(b) != u) fail("UTF-16 did not round-trip through WTF-8");
      if (wire::has_encoded_surrogate(b) != wire::has_lone_surrogate(u.data(), u.size()))
        fail("encoded surrogates disagree with lone surrogates");
      break;
    }
    case 2: {
      wire::bigint_value v;
      if (!wire::parse_bigint(rest, v)) break;
      std::string b;
      if (v.is_small) {
        wire::append_le64(b, static_cast<std::uint64_t>(v.small));
      } else {
        wire::append_bigint_words(b, v.negative, v.words.data(), v.words.size());
      }
      wire::bigint_value w;
      const bool zero_long = !v.is_small && b.size() == 1;  // all-zero words: no long form
      if (!zero_long && (!wire::parse_bigint(b, w) || w.is_small != v.is_small ||
                         w.small != v.small || w.negative != v.negative)) {
        fail("bigint did not re-encode to an equal value");
      }
      break;
    }
    default: {
      scan_reader r(rest);
      scan_record rec;
      std::size_t total = 0;
      while (r.next(rec)) {
        if (rec.key.data() < rest.data() ||
            rec.value.data() + rec.value.size() > rest.data() + rest.size())
          fail("scan record outside the buffer");
        total += 8 + rec.key.size() + rec.value.size();
      }
      if (total > rest.size()) fail("scan records longer than the buffer");
    }
  }
  return 0;
}
