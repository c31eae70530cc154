// The typed suite: every case runs over every strategy (tmtest::strategies()).
#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "threadmap/detail/counter.hpp"
#include "threadmap/epoch.hpp"
#include "threadmap/factory.hpp"
#include "threadmap/map.hpp"

using namespace threadmap;

namespace {

std::unique_ptr<concurrent_map> make(const tmtest::strategy_config& cfg) {
  return make_map(cfg.opts);
}

std::string key_of(int i) {
  return "key:" + std::to_string(i);
}

std::string i64_bytes(std::int64_t v) {
  return std::string(reinterpret_cast<char*>(&v), 8);
}

std::map<std::string, std::string> collect(const concurrent_map& m) {
  std::map<std::string, std::string> all;
  for (std::size_t u = 0; u < m.scan_units(); ++u) {
    std::string buf;
    const std::size_t n = m.scan(u, buf);
    scan_reader r(buf);
    scan_record rec;
    std::size_t seen = 0;
    while (r.next(rec)) {
      all.emplace(std::string(rec.key), std::string(rec.value));
      ++seen;
    }
    CHECK_EQ(seen, n);
  }
  return all;
}

}  // namespace

STRATEGY_CASE("get/put/erase basics") {
  auto m = make(cfg);
  std::string out = "untouched";
  CHECK(!m->get("a", &out));
  CHECK_EQ(out, std::string("untouched"));
  CHECK_EQ(m->put("a", "1", nullptr), status::inserted);
  CHECK(m->get("a", &out));
  CHECK_EQ(out, std::string("1"));
  CHECK(m->get("a", nullptr));
  std::string old;
  CHECK_EQ(m->put("a", "2", &old), status::ok);
  CHECK_EQ(old, std::string("1"));
  CHECK_EQ(m->size(), 1u);
  CHECK_EQ(m->erase("a", &old), status::ok);
  CHECK_EQ(old, std::string("2"));
  CHECK_EQ(m->erase("a", &old), status::not_found);
  CHECK(!m->get("a", nullptr));
  CHECK_EQ(m->size(), 0u);
}

STRATEGY_CASE("empty keys and values, binary bytes") {
  auto m = make(cfg);
  CHECK_EQ(m->put("", "", nullptr), status::inserted);
  const std::string bin("\0\x01\xff\0", 4);
  CHECK_EQ(m->put(bin, bin, nullptr), status::inserted);
  std::string out = "x";
  CHECK(m->get("", &out));
  CHECK_EQ(out, std::string());
  CHECK(m->get(bin, &out));
  CHECK_EQ(out, bin);
  CHECK(!m->get(std::string("\0\x01\xff", 3), nullptr));
  CHECK_EQ(m->size(), 2u);
}

STRATEGY_CASE("inline and out-of-line entries switch in place") {
  auto m = make(cfg);
  const std::string long_key(100, 'k'), long_val(5000, 'v');
  CHECK_EQ(m->put("k", "short", nullptr), status::inserted);
  CHECK_EQ(m->put("k", long_val, nullptr), status::ok);  // inline -> blob
  std::string out;
  CHECK(m->get("k", &out));
  CHECK_EQ(out, long_val);
  CHECK_EQ(m->put("k", "s", nullptr), status::ok);  // blob -> inline
  CHECK(m->get("k", &out));
  CHECK_EQ(out, std::string("s"));
  CHECK_EQ(m->put(long_key, "1", nullptr), status::inserted);  // long key, short value
  CHECK(m->get(long_key, &out));
  CHECK_EQ(out, std::string("1"));
  // At the narrow inline limit (22 bytes), the wide ones (23, 24) and past them.
  const std::string k11(11, 'a');
  for (const std::size_t vn : {11, 12, 13, 14, 11}) {
    const std::string v(vn, static_cast<char>('a' + vn));
    CHECK(m->put(k11, v, nullptr) != status::memory_limit);
    CHECK(m->get(k11, &out));
    CHECK_EQ(out, v);
  }
  CHECK_EQ(m->size(), 3u);
}

STRATEGY_CASE("wide inline entries: 23 and 24 bytes, keys that begin with the blob marker") {
  // A flat table keeps key and value of 23 or 24 bytes inline from byte 0
  // of the slot, the lengths above the revision (flat_table.hpp): a key
  // whose first byte is 0x80, the marker of a blob slot, must still be read
  // as a key, on lookups, growth (which rehashes every inline key), scans,
  // overwrites into every other form, erasure and destruction (which frees
  // blobs: a wide slot taken for one would free its key bytes, which ASan
  // reports). Revisions read from a wide slot are the write's, not the
  // lengths above them.
  auto m = make(cfg);
  std::map<std::string, std::string> model;
  auto key_for = [](std::size_t i, std::size_t len) {
    std::string k(len, '\0');
    for (std::size_t j = 0; j < len; ++j) k[j] = static_cast<char>(0x80 + (i >> (j % 4 * 8)) + j);
    if (len) k[0] = '\x80';
    return k;
  };
  std::uint64_t last = m->revision();
  std::size_t i = 0;
  for (std::size_t klen = 0; klen <= 24; ++klen) {
    for (const std::size_t total : {23, 24}) {
      if (klen > total) continue;
      for (int copies = 0; copies < 60; ++copies, ++i) {
        const std::string k = klen ? key_for(i, klen) : std::string();
        if (model.count(k)) continue;
        const std::string v(total - klen, static_cast<char>(i));
        CHECK_EQ(m->put(k, v, nullptr), status::inserted);
        model[k] = v;
        std::uint64_t rev = 0;
        std::string out;
        CHECK(m->get(k, &out, &rev));
        CHECK_EQ(out, v);
        CHECK(rev > last);
        CHECK_EQ(rev, m->revision());
        last = rev;
      }
    }
  }
  // Keys whose length is a byte 0 of another form (128: the blob marker;
  // 192 and up: wide ones) among them, out of line.
  for (std::size_t len = 120; len <= 255; ++len) {
    const std::string k = key_for(len, len), v(len % 7, 'v');
    CHECK_EQ(m->put(k, v, nullptr), status::inserted);
    model[k] = v;
  }
  CHECK(model.size() > 1000);  // grown several times on the way
  CHECK(collect(*m) == model);
  // Every entry read back after growth, then overwritten: the same width,
  // narrow, a blob, and wide again.
  int n = 0;
  for (auto& [k, v] : model) {
    std::string out;
    CHECK(m->get(k, &out));
    CHECK_EQ(out, v);
    const std::size_t widths[] = {v.size(), k.size() <= 22 ? 22 - k.size() : 0, 40, v.size()};
    const std::string next(widths[n % 4], static_cast<char>(n));
    std::string old;
    CHECK_EQ(m->put(k, next, &old), status::ok);
    CHECK_EQ(old, v);
    std::uint64_t rev = 0;
    CHECK(m->get(k, &out, &rev));
    CHECK_EQ(out, next);
    CHECK_EQ(rev, m->revision());
    v = next;
    ++n;
  }
  CHECK(collect(*m) == model);
  n = 0;
  for (auto it = model.begin(); it != model.end(); ++n) {
    if (n % 2) {
      ++it;
      continue;
    }
    std::string old;
    CHECK_EQ(m->erase(it->first, &old), status::ok);
    CHECK_EQ(old, it->second);
    it = model.erase(it);
  }
  CHECK(collect(*m) == model);
  CHECK_EQ(m->size(), model.size());
}

TEST_CASE("wide inline entries cost a flat table no blob; an evicting one keeps them in blobs") {
  // 16-byte keys with 8-byte values: as many bytes as the same keys with
  // 6-byte values (narrow inline: the array alone) in a table that does not
  // evict; in one that does (18 inline bytes beside the handle) they are
  // blobs.
  for (const tmtest::strategy_config& c : tmtest::strategies()) {
    if (!tmtest::flat_table_strategy(c.opts.strategy)) continue;
    tmtest::current() = c.name;
    auto narrow = make_map(c.opts), wide = make_map(c.opts);
    options o = c.opts;
    o.max_entries = 5000;
    auto evicting = make_map(o);
    for (int i = 0; i < 2000; ++i) {
      const std::string v = i64_bytes(i);
      const std::string k16 = i64_bytes(i) + i64_bytes(~i);
      CHECK_EQ(narrow->put(k16, v.substr(0, 6), nullptr), status::inserted);
      CHECK_EQ(wide->put(k16, v, nullptr), status::inserted);
      CHECK_EQ(evicting->put(k16, v, nullptr), status::inserted);
    }
    CHECK_EQ(wide->stats().bytes, narrow->stats().bytes);
    CHECK(evicting->stats().bytes >= narrow->stats().bytes + 2000 * (16 + 8));
    for (int i = 0; i < 2000; ++i) {
      std::string a, b;
      const std::string k16 = i64_bytes(i) + i64_bytes(~i);
      CHECK(wide->get(k16, &a));
      CHECK(evicting->get(k16, &b));
      CHECK_EQ(a, i64_bytes(i));
      CHECK_EQ(b, i64_bytes(i));
    }
  }
}

STRATEGY_CASE("get into a reused buffer: every value width, the same or another") {
  // A get copies a value into a buffer that already holds as many bytes in
  // place (flat_table_probe.hpp, copy_value): every width around the
  // inline limit, inline and behind a long key (out of line), into a
  // buffer of the same width, a shorter one and a longer one.
  auto m = make(cfg);
  const std::string long_key(40, 'k');
  auto value_of = [](std::size_t n, char salt) {
    std::string v(n, '\0');
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<char>(salt + i * 7);
    return v;
  };
  for (std::size_t n = 0; n <= 40; ++n) {
    for (const std::string& k : {key_of(static_cast<int>(n)), long_key + std::to_string(n)}) {
      const std::string v = value_of(n, static_cast<char>(k.size()));
      CHECK_EQ(m->put(k, v, nullptr), status::inserted);
      for (const std::size_t held : {n, n + 1, n / 2}) {
        std::string out(held, '\xee');
        CHECK(m->get(k, &out));
        CHECK_EQ(out, v);
        CHECK_EQ(out.c_str()[out.size()], '\0');
      }
      std::string same(n, '\xee');
      std::uint64_t rev = 0;
      CHECK(m->get(k, &same, &rev));
      // `unless` names the revision held: the buffer is left as it is.
      std::string held(n, '\x55');
      CHECK(m->get(k, &held, nullptr, rev));
      CHECK_EQ(held, std::string(n, '\x55'));
      // A miss leaves a same-width buffer alone too.
      CHECK(!m->get(k + "?", &held));
      CHECK_EQ(held, std::string(n, '\x55'));
    }
  }
}

STRATEGY_CASE("overwrite: every inline width over every other, and over and into blobs") {
  // The writer's inline path (flat_table_probe.hpp, put_inline): a value
  // of the old one's width written over it in place, another inline width
  // repacked, and anything with a blob on either side the general path.
  // Every value read back, `old` handed over, the revision new, the size
  // and (inline to inline) the bytes unchanged.
  auto m = make(cfg);
  auto value_of = [](std::size_t n, char salt) {
    std::string v(n, '\0');
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<char>(salt + i * 5);
    return v;
  };
  const bool flat = tmtest::flat_table_strategy(cfg.opts.strategy);
  for (const std::size_t kn : {std::size_t{1}, std::size_t{8}, std::size_t{13}, std::size_t{21}}) {
    const std::string k = std::string(kn, 'k') + std::to_string(kn);
    const std::string key = k.substr(k.size() - kn);
    for (std::size_t a = 0; a <= 30; ++a) {
      CHECK_EQ(m->put(key, value_of(a, 'a'), nullptr), status::inserted);
      std::uint64_t rev = 0;
      CHECK(m->get(key, nullptr, &rev));
      for (std::size_t b = 0; b <= 30; ++b) {
        const std::string before = value_of(b == 0 ? a : b - 1, b == 0 ? 'a' : 'b');
        const std::string v = value_of(b, 'b');
        const std::size_t size = m->size();
        const std::uint64_t bytes = m->stats().bytes;
        std::string old;
        // Every other one hands the old value over (put_probed's path).
        CHECK_EQ(m->put(key, v, b % 2 ? &old : nullptr), status::ok);
        if (b % 2) CHECK_EQ(old, before);
        std::string out(b, '\xee');
        std::uint64_t next = 0;
        CHECK(m->get(key, &out, &next));
        CHECK_EQ(out, v);
        CHECK(next > rev);
        rev = next;
        CHECK_EQ(m->size(), size);
        // Inline to inline (narrow or wide, up to 24 bytes): no blob charged.
        if (flat && kn + (b == 0 ? a : b - 1) <= 24 && kn + b <= 24)
          CHECK_EQ(m->stats().bytes, bytes);
      }
      CHECK_EQ(m->erase(key, nullptr), status::ok);
    }
  }
  CHECK_EQ(m->size(), 0u);
}

TEST_CASE("overwrite keeps an evicting entry's handle, of every inline width") {
  // An evicting table keeps the policy's handle in the slot beside an
  // inline entry: an overwrite in place (same width) must leave it and a
  // repacked one (another width) must carry it over, or the policy's
  // victims would not be found and the map would outgrow its bound.
  for (const tmtest::strategy_config& c : tmtest::strategies()) {
    if (!supports_eviction(c.opts.strategy)) continue;
    for (eviction_kind k : all_eviction_kinds) {
      tmtest::current() = std::string("overwrite handles [") + c.name + "/" + to_string(k) + "]";
      options o = c.opts;
      o.max_entries = 64;
      o.evict = k;
      auto m = make_map(o);
      std::map<std::string, std::string> latest;
      for (int round = 0; round < 6; ++round) {
        for (int i = 0; i < 300; ++i) {
          const std::string key = i64_bytes(i);
          // Widths 2 to 10: with the 8-byte key, inline (18 bytes when evicting).
          const std::string v = std::to_string(round) + std::string(1 + (i + round) % 9, 'x');
          const status st = m->put(key, v, nullptr);
          CHECK(st == status::ok || st == status::inserted);
          latest[key] = v;
          // The same width again: in place.
          const std::string w = std::to_string(round + 1) + v.substr(1);
          CHECK_EQ(m->put(key, w, nullptr), status::ok);
          latest[key] = w;
          CHECK(m->size() <= 64);
        }
      }
      CHECK(m->stats().evictions > 0);
      std::size_t held = 0;
      for (const auto& [key, v] : latest) {
        std::string got;
        if (!m->get(key, &got)) continue;
        CHECK_EQ(got, v);
        ++held;
      }
      CHECK_EQ(held, m->size());
      CHECK(held <= 64);
    }
  }
}

STRATEGY_CASE("get_many agrees with get, in input order") {
  auto m = make(cfg);
  for (int i = 0; i < 5000; i += 2) m->put(key_of(i), std::string(i % 40, 'v'), nullptr);
  std::vector<std::string> key_storage;
  for (int i = 0; i < 3000; ++i) key_storage.push_back(key_of((i * 7919) % 5000));
  key_storage.push_back(std::string(max_key_bytes + 1, 'k'));  // too long: not found
  key_storage.push_back(key_of(4));                            // a duplicate
  std::vector<bytes> keys(key_storage.begin(), key_storage.end());
  std::vector<std::string> out(keys.size(), "stale");
  std::unique_ptr<bool[]> found(new bool[keys.size()]);
  m->get_many(keys.data(), keys.size(), out.data(), found.get());
  int bad = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::string one;
    const bool present = m->get(keys[i], &one);
    if (found[i] != present || (present && out[i] != one)) ++bad;
  }
  CHECK_EQ(bad, 0);
  CHECK(!found[keys.size() - 2]);
  // peek_many (not a use) answers the same.
  std::vector<std::string> peeked(keys.size(), "stale");
  std::unique_ptr<bool[]> peek_found(new bool[keys.size()]);
  m->peek_many(keys.data(), keys.size(), peeked.data(), peek_found.get());
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (peek_found[i] != found[i] || (found[i] && peeked[i] != out[i])) ++bad;
  CHECK_EQ(bad, 0);
  // Without outputs, and for tiny batches shorter than the pipeline.
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{3}, keys.size()}) {
    std::unique_ptr<bool[]> f(new bool[n + 1]);
    m->get_many(keys.data(), n, nullptr, f.get());
    for (std::size_t i = 0; i < n; ++i)
      if (f[i] != m->get(keys[i], nullptr)) ++bad;
  }
  CHECK_EQ(bad, 0);
}

STRATEGY_CASE("keys of every inline length differ from their one-byte variants") {
  // Inline keys are compared with overlapping word loads; a difference in any
  // byte of any length must still be seen.
  auto m = make(cfg);
  for (std::size_t n = 1; n <= 22; ++n) {
    std::string k(n, 'a');
    for (std::size_t i = 0; i < n; ++i) k[i] = static_cast<char>('a' + (i * 7 + n) % 26);
    CHECK(m->put(k, "", nullptr) == status::inserted);
    for (std::size_t p = 0; p < n; ++p) {
      std::string other = k;
      other[p] ^= 0x40;
      std::string out;
      CHECK(!m->get(other, &out));
    }
    std::string out;
    CHECK(m->get(k, &out));
  }
}

STRATEGY_CASE("inline entries of every key and value length read back exactly") {
  // Every (key length, value length) pair that fits a 22-byte inline slot,
  // with a key that is a prefix of another key and a value whose bytes
  // continue that key: a lookup must compare the length and the key bytes
  // only, and copy the value from wherever it starts in the slot (8-byte
  // values at every offset too).
  auto m = make(cfg);
  auto key = [](std::size_t klen) {
    std::string k(klen, '\0');
    for (std::size_t i = 0; i < klen; ++i) k[i] = static_cast<char>('a' + i);
    return k;
  };
  auto value = [](std::size_t klen, std::size_t vlen) {
    std::string v(vlen, '\0');
    for (std::size_t i = 0; i < vlen; ++i) v[i] = static_cast<char>('a' + klen + i);
    if (vlen > 0) v[0] = static_cast<char>(0x80 | klen);  // a high bit, and unique per key
    return v;
  };
  int bad = 0;
  for (std::size_t vlen = 0; vlen <= 22; ++vlen) {
    m->clear();
    for (std::size_t klen = 0; klen + vlen <= 22; ++klen) {
      if (m->put(key(klen), value(klen, vlen), nullptr) != status::inserted) ++bad;
    }
    for (std::size_t klen = 0; klen + vlen <= 22; ++klen) {
      std::string out = "stale";
      if (!m->get(key(klen), &out) || out != value(klen, vlen)) ++bad;
      // The key extended by its value's first byte is another key.
      if (vlen > 0 && klen + vlen < 22 && m->get(key(klen) + value(klen, vlen).substr(0, 1), &out))
        ++bad;
    }
  }
  CHECK_EQ(bad, 0);
  // An 8-byte value at every offset: each double-like bit pattern survives.
  m->clear();
  for (std::size_t klen = 0; klen <= 14; ++klen) {
    std::uint64_t bits = 0x0123456789ABCDEFull ^ (klen * 0x1111111111111111ull);
    std::string v(8, '\0');
    std::memcpy(v.data(), &bits, 8);
    CHECK_EQ(m->put(std::string(klen, 'z'), v, nullptr), status::inserted);
    std::string out;
    CHECK(m->get(std::string(klen, 'z'), &out));
    CHECK_EQ(out, v);
  }
}

STRATEGY_CASE("put_if_absent") {
  auto m = make(cfg);
  std::string existing;
  CHECK_EQ(m->put_if_absent("a", "1", &existing), status::inserted);
  CHECK_EQ(m->put_if_absent("a", "2", &existing), status::exists);
  CHECK_EQ(existing, std::string("1"));
  std::string out;
  CHECK(m->get("a", &out));
  CHECK_EQ(out, std::string("1"));
}

STRATEGY_CASE("compare_and_set covers every state transition") {
  auto m = make(cfg);
  std::string cur = "untouched";
  const bytes one = "1", two = "2", three = "3";
  // absent -> present
  CHECK_EQ(m->compare_and_set("a", nullptr, &one, &cur), status::inserted);
  // absent expected but present
  CHECK_EQ(m->compare_and_set("a", nullptr, &two, &cur), status::mismatch);
  CHECK_EQ(cur, std::string("1"));
  // wrong expected value
  CHECK_EQ(m->compare_and_set("a", &two, &three, &cur), status::mismatch);
  CHECK_EQ(cur, std::string("1"));
  // right expected value
  CHECK_EQ(m->compare_and_set("a", &one, &two, &cur), status::ok);
  std::string out;
  CHECK(m->get("a", &out));
  CHECK_EQ(out, std::string("2"));
  // present -> absent
  CHECK_EQ(m->compare_and_set("a", &two, nullptr, &cur), status::ok);
  CHECK(!m->get("a", nullptr));
  // expected value on an absent key
  CHECK_EQ(m->compare_and_set("a", &two, &three, &cur), status::not_found);
  // absent -> absent is a successful no-op
  CHECK_EQ(m->compare_and_set("a", nullptr, nullptr, &cur), status::ok);
  CHECK_EQ(m->size(), 0u);
}

STRATEGY_CASE("add on int64 and double counters, with and without prefix") {
  auto m = make(cfg);
  counter r{}, d{};
  d.i = 5;
  CHECK_EQ(m->add("n", counter_kind::i64, d, "", &r), status::inserted);
  CHECK_EQ(r.i, 5);
  d.i = -7;
  CHECK_EQ(m->add("n", counter_kind::i64, d, "", &r), status::ok);
  CHECK_EQ(r.i, -2);
  std::string out;
  CHECK(m->get("n", &out));
  CHECK_EQ(out, i64_bytes(-2));
  // overflow leaves the value alone
  CHECK_EQ(m->put("big", i64_bytes(INT64_MAX), nullptr), status::inserted);
  d.i = 1;
  CHECK_EQ(m->add("big", counter_kind::i64, d, "", &r), status::overflow);
  CHECK(m->get("big", &out));
  CHECK_EQ(out, i64_bytes(INT64_MAX));
  // a value that is not a counter
  CHECK_EQ(m->put("s", "text", nullptr), status::inserted);
  CHECK_EQ(m->add("s", counter_kind::i64, d, "", &r), status::mismatch);
  CHECK(m->get("s", &out));
  CHECK_EQ(out, std::string("text"));
  // double with a one-byte prefix (the `any` codec's number tag)
  d.f = 0.5;
  CHECK_EQ(m->add("f", counter_kind::f64, d, "\x04", &r), status::inserted);
  CHECK_EQ(m->add("f", counter_kind::f64, d, "\x04", &r), status::ok);
  CHECK_EQ(r.f, 1.0);
  CHECK_EQ(m->add("f", counter_kind::f64, d, "\x05", &r), status::mismatch);
  CHECK(m->get("f", &out));
  CHECK_EQ(out.size(), 9u);
  CHECK_EQ(out[0], '\x04');
  // a missing key counts as +0: adding -0 stores +0, as 0 + -0 does in JS
  d.f = -0.0;
  CHECK_EQ(m->add("z", counter_kind::f64, d, "", &r), status::inserted);
  CHECK(!std::signbit(r.f));
  // a long key makes the counter live out of line; add still works there
  const std::string long_key(40, 'L');
  d.i = 3;
  CHECK_EQ(m->add(long_key, counter_kind::i64, d, "", &r), status::inserted);
  CHECK_EQ(m->add(long_key, counter_kind::i64, d, "", &r), status::ok);
  CHECK_EQ(r.i, 6);
}

STRATEGY_CASE("growth from empty keeps every entry, with erasures between") {
  auto m = make(cfg);
  const int n = 200000;
  for (int i = 0; i < n; ++i)
    CHECK_EQ(m->put(key_of(i), std::to_string(i * 3), nullptr), status::inserted);
  CHECK_EQ(m->size(), std::size_t(n));
  for (int i = 0; i < n; i += 2) CHECK_EQ(m->erase(key_of(i), nullptr), status::ok);
  CHECK_EQ(m->size(), std::size_t(n / 2));
  std::string out;
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    const bool present = m->get(key_of(i), &out);
    if (present != (i % 2 == 1) || (present && out != std::to_string(i * 3))) ++bad;
  }
  CHECK_EQ(bad, 0);
  const map_stats st = m->stats();
  CHECK_EQ(st.size, std::size_t(n / 2));
  // ordered has no table: it grows node by node and never resizes.
  if (cfg.opts.strategy != strategy_kind::ordered) CHECK(st.resizes > 0);
  CHECK(st.capacity >= st.size);
}

STRATEGY_CASE("tombstone churn does not grow the table without bound") {
  auto m = make(cfg);
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 1000; ++i) m->put(key_of(round * 1000 + i), "v", nullptr);
    for (int i = 0; i < 1000; ++i) m->erase(key_of(round * 1000 + i), nullptr);
  }
  CHECK_EQ(m->size(), 0u);
  // 1,000 live entries at most at any time: capacity stays near that, not 50,000.
  CHECK(m->stats().capacity <= 16384);
}

STRATEGY_CASE("clear empties, frees and the map stays usable") {
  auto m = make(cfg);
  for (int i = 0; i < 5000; ++i) m->put(key_of(i), std::string(30, 'x'), nullptr);
  CHECK(m->stats().bytes > 5000 * 30);
  m->clear();
  CHECK_EQ(m->size(), 0u);
  CHECK(!m->get(key_of(1), nullptr));
  CHECK(m->stats().bytes < 100000);
  CHECK_EQ(m->put("after", "1", nullptr), status::inserted);
  CHECK_EQ(m->size(), 1u);
}

STRATEGY_CASE("scan sees every entry once") {
  auto m = make(cfg);
  for (int i = 0; i < 3000; ++i) m->put(key_of(i), std::string(i % 50, 'v'), nullptr);
  const auto all = collect(*m);
  CHECK_EQ(all.size(), 3000u);
  int bad = 0;
  for (int i = 0; i < 3000; ++i) {
    auto it = all.find(key_of(i));
    if (it == all.end() || it->second != std::string(i % 50, 'v')) ++bad;
  }
  CHECK_EQ(bad, 0);
  std::string past_end;
  CHECK_EQ(m->scan(m->scan_units(), past_end), 0u);
  CHECK(past_end.empty());
}

STRATEGY_CASE("size limits: too_large changes nothing") {
  auto m = make(cfg);
  const std::string huge_key(max_key_bytes + 1, 'k');
  CHECK_EQ(m->put(huge_key, "v", nullptr), status::too_large);
  CHECK_EQ(m->put_if_absent(huge_key, "v", nullptr), status::too_large);
  CHECK(!m->get(huge_key, nullptr));
  const std::string max_key(max_key_bytes, 'k');
  CHECK_EQ(m->put(max_key, "v", nullptr), status::inserted);
  CHECK_EQ(m->size(), 1u);
}

STRATEGY_CASE("max_memory: memory_limit changes nothing and keeps what is stored") {
  options o = cfg.opts;
  o.max_memory = 64 * 1024;
  auto m = make_map(o);
  int stored = 0;
  status st = status::ok;
  for (int i = 0; i < 100000; ++i) {
    st = m->put(key_of(i), std::string(40, 'v'), nullptr);
    if (st != status::inserted) break;
    ++stored;
  }
  CHECK_EQ(st, status::memory_limit);
  CHECK(stored > 100);
  CHECK_EQ(m->size(), std::size_t(stored));
  CHECK(m->stats().bytes <= o.max_memory + 64 * 1024);  // fixed per-map overhead aside
  int bad = 0;
  std::string out;
  for (int i = 0; i < stored; ++i) {
    if (!m->get(key_of(i), &out) || out != std::string(40, 'v')) ++bad;
  }
  CHECK_EQ(bad, 0);
  // Replacing with a longer value that does not fit fails and keeps the old one.
  CHECK_EQ(m->put(key_of(0), std::string(100000, 'w'), nullptr), status::memory_limit);
  CHECK(m->get(key_of(0), &out));
  CHECK_EQ(out, std::string(40, 'v'));
  // Freeing makes room again.
  for (int i = 0; i < stored; ++i) m->erase(key_of(i), nullptr);
  CHECK_EQ(m->put("again", std::string(40, 'v'), nullptr), status::inserted);
}

STRATEGY_CASE("capacity presizes; more than max_memory throws") {
  options o = cfg.opts;
  o.capacity = 100000;
  auto m = make_map(o);
  // readmostly sizes its dirty table, which exists from the first insert on;
  // ordered has no table (its capacity is its size) and only checks the
  // option against max_memory, below.
  const bool tables = cfg.opts.strategy != strategy_kind::ordered;
  if (cfg.opts.strategy != strategy_kind::readmostly && tables)
    CHECK(m->stats().capacity >= 100000);
  const std::uint64_t resizes = m->stats().resizes;
  for (int i = 0; i < 100000; ++i) m->put(key_of(i), "v", nullptr);
  // readmostly rebuilds its read table on every promotion by design; the
  // others must not have grown.
  if (cfg.opts.strategy != strategy_kind::readmostly) CHECK_EQ(m->stats().resizes, resizes);
  CHECK(m->stats().capacity >= 100000);  // ordered: 100,000 entries
  o.max_memory = 4096;
  bool threw = false;
  try {
    make_map(o);
  } catch (const std::length_error&) {
    threw = true;
  }
  CHECK(threw);
}

STRATEGY_CASE("random operations agree with std::map") {
  auto m = make(cfg);
  std::map<std::string, std::string> model;
  std::mt19937_64 rng(42);
  std::string out;
  int bad = 0;
  for (int step = 0; step < 200000; ++step) {
    const std::string k = "k" + std::to_string(rng() % 2000);
    const std::string v = std::string(rng() % 40, char('a' + rng() % 26));
    switch (rng() % 6) {
      case 0: {
        const bool had = model.count(k);
        const status st = m->put(k, v, &out);
        if (st != (had ? status::ok : status::inserted) || (had && out != model[k])) ++bad;
        model[k] = v;
        break;
      }
      case 1: {
        const bool had = model.count(k);
        if ((m->erase(k, &out) == status::ok) != had) ++bad;
        if (had && out != model[k]) ++bad;
        model.erase(k);
        break;
      }
      case 2: {
        const bool had = model.count(k);
        const status st = m->put_if_absent(k, v, &out);
        if (st != (had ? status::exists : status::inserted)) ++bad;
        if (!had) model[k] = v;
        break;
      }
      case 3: {
        auto it = model.find(k);
        const bool present = it != model.end();
        const bool wrong = rng() % 4 == 0;  // sometimes expect a value that is not there
        const bool erase = rng() % 4 == 0;
        const std::string exp_value = present ? (wrong ? it->second + "?" : it->second) : "x";
        const bytes expected = exp_value;
        const bytes desired = v;
        const bool expect_absent = !present && !wrong;
        const status st = m->compare_and_set(k, expect_absent ? nullptr : &expected,
                                             erase ? nullptr : &desired, &out);
        if (expect_absent) {
          if (st != (erase ? status::ok : status::inserted)) ++bad;
          if (!erase) model[k] = v;
        } else if (!present) {
          if (st != status::not_found) ++bad;
        } else if (wrong) {
          if (st != status::mismatch || out != it->second) ++bad;
        } else {
          if (st != status::ok) ++bad;
          if (erase)
            model.erase(it);
          else
            it->second = v;
        }
        break;
      }
      default: {
        auto it = model.find(k);
        const bool present = m->get(k, &out);
        if (present != (it != model.end()) || (present && out != it->second)) ++bad;
      }
    }
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(m->size(), model.size());
  CHECK(collect(*m) == model);
}

TEST_CASE("epoch: retired objects are freed once no guard can hold them") {
  static std::atomic<int> freed{0};
  freed = 0;
  const std::size_t before = epoch::pending();
  {
    epoch::guard g;
    for (int i = 0; i < 10; ++i)
      epoch::retire(new int(i), [](void* p) {
        delete static_cast<int*>(p);
        ++freed;
      });
    CHECK(epoch::in_critical_section());
    epoch::synchronize();  // inside a guard: must return without waiting for itself
  }
  CHECK(!epoch::in_critical_section());
  epoch::synchronize();
  CHECK_EQ(freed.load(), 10);
  CHECK(epoch::pending() <= before);
}

TEST_CASE("epoch: a thread holding eager_bytes of garbage frees it on leaving guards") {
  static std::atomic<int> freed{0};
  auto count_free = [](void* p) {
    delete static_cast<int*>(p);
    ++freed;
  };
  auto two_calls = [] {
    for (int i = 0; i < 2; ++i) epoch::guard g;
  };
  epoch::synchronize();  // start with an empty bag (this test runs alone)
  freed = 0;
  {
    epoch::guard g;
    epoch::retire(new int(1), count_free);  // small: waits for collect_every retirements
  }
  two_calls();
  CHECK_EQ(freed.load(), 0);
  {
    epoch::guard g;
    epoch::retire(new int(2), count_free, epoch::eager_bytes);
  }
  // Leaving that guard advanced the epoch past the retirement; leaving the
  // next one frees both (nothing else holds the epoch back).
  two_calls();
  CHECK_EQ(freed.load(), 2);

  // A map grown from empty frees its replaced arrays without synchronize():
  // only the live arrays remain pending-free.
  const std::size_t before = epoch::pending();
  auto m = make_map(options{});
  for (int i = 0; i < 200000; ++i) m->put(key_of(i), i64_bytes(i), nullptr);
  CHECK(m->stats().resizes > 8);
  two_calls();
  CHECK_EQ(epoch::pending(), before);
}

TEST_CASE("epoch: a thread that exits hands its garbage to the others, and its record on") {
  static std::atomic<int> freed{0};
  freed = 0;
  epoch::synchronize();
  const std::size_t before = epoch::pending();
  // Each thread retires one object inside a guard and exits before it could
  // be freed: the object must reach the orphans and be freed from there.
  for (int t = 0; t < 50; ++t) {
    std::thread([] {
      epoch::guard g;
      epoch::retire(new int(7), [](void* p) {
        delete static_cast<int*>(p);
        ++freed;
      });
      CHECK(epoch::in_critical_section());
    }).join();
  }
  CHECK_EQ(epoch::pending(), before + 50);
  epoch::synchronize();
  CHECK_EQ(freed.load(), 50);
  CHECK_EQ(epoch::pending(), before);
}

namespace {
// Destroyed after the epoch's own thread-exit owner when constructed before
// the thread's first guard (thread_local objects die in reverse order).
struct late_guard_user {
  bool* ran;
  ~late_guard_user() {
    epoch::guard g;  // after the thread gave its record back: takes another
    *ran = epoch::in_critical_section();
  }
};
}  // namespace

TEST_CASE("epoch: a guard in a thread-exit destructor that runs after the epoch's owner works") {
  bool ran = false;
  std::thread([&ran] {
    thread_local late_guard_user user{&ran};
    (void)user;
    { epoch::guard g; }  // the epoch's owner is constructed after `user`
  }).join();
  CHECK(ran);
  // The record that destructor took is never handed to another thread, so a
  // guard here and in new threads still works (each has its own record).
  std::thread([] {
    epoch::guard g;
    CHECK(epoch::in_critical_section());
  }).join();
  epoch::synchronize();
}

TEST_CASE("thread_ordinal: stable within a thread, distinct for successive threads") {
  const unsigned mine = thread_ordinal();
  CHECK_EQ(thread_ordinal(), mine);
  std::set<unsigned> seen{mine};
  for (int t = 0; t < 8; ++t) {
    unsigned got = 0, again = 1;
    std::thread([&] {
      got = thread_ordinal();
      again = thread_ordinal();
    }).join();
    CHECK_EQ(got, again);
    CHECK(seen.insert(got).second);
  }
}

TEST_MAIN
