// bench/native/adapters.hpp — the one contract every contender is driven by.
//
// A contender is a class template over the key type K (int_key or str_key)
// with four operations on 64-bit values, all thread-safe:
//
//   bool read(const K&, std::uint64_t& out)   true and the value if present
//   void insert(const K&, std::uint64_t)      insert or overwrite
//   bool erase(const K&)                      true if it was present
//   void update(const K&, std::uint64_t)      overwrite a present key
//
// plus `static const char* name()` and a constructor taking the strategy and
// the NUMA policy (or nothing, for peers, which allocate for themselves). The driver loop is a
// template over the contender, so no extra virtual call is added to anyone: threadmap strategies
// pay the one virtual call of threadmap::concurrent_map, which is their public interface.
//
// Peers (tbb::concurrent_hash_map, libcuckoo, boost::concurrent_flat_map,
// ParlayHash) are compiled in only when CMake found them
// (THREADMAP_BENCH_HAVE_TBB / _CUCKOO / _BOOST / _PARLAY). They hash keys with
// the same threadmap::hash_bytes as the strategies, so the figures compare
// table and locking designs, not hash functions. Boost is told that hash is
// avalanching (key_hash::is_avalanching), so it uses the 64 bits as they come,
// as the strategies do, instead of mixing them once more.
#pragma once

#include <threadmap/detail/hash.hpp>
#include <threadmap/factory.hpp>
#include <threadmap/map.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "workload.hpp"

#if THREADMAP_BENCH_HAVE_TBB
#include <tbb/concurrent_hash_map.h>
#endif
#if THREADMAP_BENCH_HAVE_CUCKOO
#include <libcuckoo/cuckoohash_map.hh>
#endif
#if THREADMAP_BENCH_HAVE_BOOST
#include <boost/unordered/concurrent_flat_map.hpp>
#endif
#if THREADMAP_BENCH_HAVE_PARLAY
#include <parlay_hash/unordered_map.h>

#include <optional>
#endif

namespace tmbench {

template <class K>
struct key_hash {
  // Boost.Unordered's marker for a hash whose every bit depends on every key
  // bit: without it Boost would mix the result once more.
  using is_avalanching = std::true_type;
  std::size_t operator()(const K& k) const noexcept {
    const auto b = k.bytes();
    return static_cast<std::size_t>(threadmap::hash_bytes(b.data(), b.size()));
  }
};

/// A threadmap strategy through threadmap::make_map and concurrent_map.
template <class K>
class threadmap_adapter {
 public:
  /// `base`: the bench's map options (numa_policy, revisions); the strategy is `s`.
  threadmap_adapter(threadmap::strategy_kind s, const threadmap::options& base) {
    threadmap::options o = base;
    o.strategy = s;
    map_ = threadmap::make_map(o);
  }

  bool read(const K& k, std::uint64_t& out) {
    // One reused buffer per thread: get assigns into it, so after the first
    // call no operation allocates.
    thread_local std::string buf;
    if (!map_->get(k.bytes(), &buf) || buf.size() != sizeof out) return false;
    std::memcpy(&out, buf.data(), sizeof out);
    return true;
  }
  void insert(const K& k, std::uint64_t v) {
    map_->put(k.bytes(), {reinterpret_cast<const char*>(&v), sizeof v}, nullptr);
  }
  bool erase(const K& k) { return map_->erase(k.bytes(), nullptr) == threadmap::status::ok; }
  void update(const K& k, std::uint64_t v) { insert(k, v); }
  std::size_t size() const { return map_->size(); }
  /// Per table, where its memory is (empty: this strategy does not place it).
  std::vector<threadmap::numa::table_report> placement() const { return map_->placement(); }

 private:
  std::unique_ptr<threadmap::concurrent_map> map_;
};

#if THREADMAP_BENCH_HAVE_TBB
/// tbb::concurrent_hash_map: per-bucket reader-writer locks, held through an
/// accessor (write) or const_accessor (read) for the length of the operation.
template <class K>
class tbb_adapter {
  struct compare {
    static std::size_t hash(const K& k) { return key_hash<K>{}(k); }
    static bool equal(const K& a, const K& b) { return a == b; }
  };
  using table = tbb::concurrent_hash_map<K, std::uint64_t, compare>;

 public:
  bool read(const K& k, std::uint64_t& out) {
    typename table::const_accessor a;
    if (!map_.find(a, k)) return false;
    out = a->second;
    return true;
  }
  void insert(const K& k, std::uint64_t v) {
    typename table::accessor a;
    map_.insert(a, k);
    a->second = v;
  }
  bool erase(const K& k) { return map_.erase(k); }
  void update(const K& k, std::uint64_t v) { insert(k, v); }
  std::size_t size() const { return map_.size(); }

 private:
  table map_;
};
#endif

#if THREADMAP_BENCH_HAVE_CUCKOO
/// libcuckoo: bucketized cuckoo hashing with fine-grained striped spinlocks.
template <class K>
class cuckoo_adapter {
 public:
  bool read(const K& k, std::uint64_t& out) { return map_.find(k, out); }
  void insert(const K& k, std::uint64_t v) { map_.insert_or_assign(k, v); }
  bool erase(const K& k) { return map_.erase(k); }
  void update(const K& k, std::uint64_t v) { map_.insert_or_assign(k, v); }
  std::size_t size() const { return map_.size(); }

 private:
  libcuckoo::cuckoohash_map<K, std::uint64_t, key_hash<K>> map_;
};
#endif

#if THREADMAP_BENCH_HAVE_BOOST
/// boost::concurrent_flat_map (Boost.Unordered 1.83+): open addressing with
/// SIMD-matched groups of 15 slots, one spinlock-based reader-writer lock per
/// group, and visitation instead of iterators; lookups read under the
/// group's shared lock.
template <class K>
class boost_adapter {
 public:
  bool read(const K& k, std::uint64_t& out) {
    return map_.cvisit(k, [&](const auto& x) { out = x.second; }) != 0;
  }
  void insert(const K& k, std::uint64_t v) { map_.insert_or_assign(k, v); }
  bool erase(const K& k) { return map_.erase(k) != 0; }
  void update(const K& k, std::uint64_t v) { map_.insert_or_assign(k, v); }
  std::size_t size() const { return map_.size(); }

 private:
  boost::concurrent_flat_map<K, std::uint64_t, key_hash<K>> map_;
};
#endif

#if THREADMAP_BENCH_HAVE_PARLAY
/// ParlayHash (cmuparlay/parlayhash): buckets whose state (a few inline
/// entries, then an overflow list) is one versioned "big atomic" read under a
/// per-bucket seqlock and replaced whole by compare-and-swap; epoch-based
/// reclamation; growth copied over incrementally by the updates.
template <class K>
class parlay_adapter {
 public:
  bool read(const K& k, std::uint64_t& out) {
    const std::optional<std::uint64_t> v = map_.Find(k);
    if (!v) return false;
    out = *v;
    return true;
  }
  void insert(const K& k, std::uint64_t v) {
    map_.Upsert(k, [v](const std::optional<std::uint64_t>&) { return v; });
  }
  bool erase(const K& k) { return map_.Remove(k).has_value(); }
  void update(const K& k, std::uint64_t v) { insert(k, v); }
  std::size_t size() { return static_cast<std::size_t>(map_.size()); }

 private:
  parlay::parlay_unordered_map<K, std::uint64_t, key_hash<K>> map_;
};
#endif

}  // namespace tmbench
