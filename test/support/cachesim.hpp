// cachesim.hpp — replays a trace of key reads through the eviction policies
// (threadmap/detail/eviction/), driving them as a flat-table strategy will:
// the hit-ratio bench (through the lab addon, native/lab/cachesim_wrap.cpp)
// and the native policy test run the map's own policy code this way. Test
// support: not part of the core, and the package does not ship it.
//
// The table here is a hash map from key to handle, split into `stripes`
// parts by the key's hash as the striped strategy splits its stripes (the
// top 32 bits scaled to the stripe count), each part with its own policy
// instance holding its share of the capacity. An access is a cache's usual
// get-then-set: look the key up; record the read (a hit with the entry's
// handle, a miss with no_handle); on a miss, drain and insert it with the
// plan on_insert returns (victim removed first, then the moved entry's
// handle rewritten, then the new entry). A read whose record fills its
// buffer is drained at once: this replays one thread whose try_lock always
// succeeds, so no record is dropped and the figures do not depend on timing.
//
// The replay checks the protocol as it goes: a victim or a moved entry must
// be found under the hash and handle the policy named (the map will probe
// with exactly those), and no part may hold more than its capacity. A
// violation stops the replay and is returned as `error`.
//
// Keys are hashed with a fixed bijective mix, not the process-seeded
// hash_bytes, so a trace gives the same figures in every run.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "threadmap/detail/eviction/policy.hpp"
#include "threadmap/detail/hash.hpp"

namespace threadmap::cachesim {

namespace ev = threadmap::detail::eviction;

/// splitmix64's finaliser of the key: the replay's stand-in for the map's hash.
inline std::uint64_t key_hash(std::uint32_t key) noexcept {
  return threadmap::detail::mix64(key + 0x9e3779b97f4a7c15ull);
}

struct result {
  std::uint64_t hits = 0, misses = 0, evictions = 0;
  ev::policy_stats stats;  // summed over the parts
  ev::memory_use memory;   // summed over the parts
  std::string error;       // empty unless the protocol was broken
};

namespace sim_detail {
struct part {
  std::unique_ptr<ev::policy> policy;
  std::unordered_map<std::uint32_t, ev::handle> table;
  std::vector<std::uint32_t> key_at;  // by handle
};

inline std::string check_named(part& p, std::uint64_t hash, ev::handle h, const char* what) {
  if (h >= p.key_at.size()) return std::string(what) + ": handle out of range";
  const std::uint32_t key = p.key_at[h];
  auto it = p.table.find(key);
  if (it == p.table.end() || it->second != h)
    return std::string(what) + ": no entry has its handle";
  if ((key_hash(key) & ev::hash_bits) != hash) return std::string(what) + ": hash does not match";
  return {};
}
}  // namespace sim_detail

/// Replays `n` reads of `trace` through `stripes` instances of `k` sharing
/// `capacity` entries.
inline result replay(ev::kind k, std::size_t capacity, const std::uint32_t* trace, std::size_t n,
                     unsigned stripes = 1, unsigned lanes = ev::default_lanes) {
  result r;
  if (stripes == 0 || capacity < stripes) {
    r.error = "capacity must be at least the stripe count";
    return r;
  }
  std::vector<sim_detail::part> parts(stripes);
  for (unsigned i = 0; i < stripes; ++i) {
    const std::size_t cap = capacity / stripes + (i < capacity % stripes ? 1 : 0);
    parts[i].policy = ev::make_policy(k, cap, lanes);
    if (!parts[i].policy) {
      r.error = "make_policy refused the capacity or lanes";
      return r;
    }
    parts[i].key_at.assign(cap, 0);
    parts[i].table.reserve(cap);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t key = trace[i];
    const std::uint64_t hash = key_hash(key);
    sim_detail::part& p = parts[((hash >> 32) * stripes) >> 32];
    auto it = p.table.find(key);
    const bool hit = it != p.table.end();
    if (hit)
      ++r.hits;
    else
      ++r.misses;
    // As the maps' readers do (striped.cpp): a full lane drains itself.
    if (p.policy->record_read(hit ? it->second : ev::no_handle, hash) == ev::offer::drain)
      p.policy->drain_own();
    if (hit) continue;
    p.policy->drain();
    const ev::insert_plan plan = p.policy->on_insert(hash);
    if (plan.victim) {
      r.error = sim_detail::check_named(p, plan.victim->hash, plan.victim->h, "victim");
      if (!r.error.empty()) return r;
      p.table.erase(p.key_at[plan.victim->h]);
      ++r.evictions;
    }
    if (plan.moved) {
      r.error = sim_detail::check_named(p, plan.moved->hash, plan.moved->from, "moved entry");
      if (!r.error.empty()) return r;
      if (plan.moved->to >= p.key_at.size()) {
        r.error = "moved entry: target handle out of range";
        return r;
      }
      const std::uint32_t moved = p.key_at[plan.moved->from];
      p.table[moved] = plan.moved->to;
      p.key_at[plan.moved->to] = moved;
    }
    if (plan.h >= p.key_at.size()) {
      r.error = "new entry: handle out of range";
      return r;
    }
    p.table[key] = plan.h;
    p.key_at[plan.h] = key;
    if (p.table.size() > p.policy->capacity() || p.table.size() != p.policy->size()) {
      r.error = "the table and the policy disagree on the entry count";
      return r;
    }
  }
  for (sim_detail::part& p : parts) {
    r.stats += p.policy->stats();
    r.memory += p.policy->memory();
  }
  return r;
}

}  // namespace threadmap::cachesim
