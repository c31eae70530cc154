// threadmap/registry.hpp — the process-wide registry of shared maps.
//
// The addon's .node file is loaded once per process, so this registry is the
// one place where a map used by several threads (each with its own napi_env)
// can live. A map is named by a 64-bit id that is never reused in a process;
// handles carry that id, never a pointer, so a stale or forged handle can only
// fail to find a map, never reach freed memory.
//
// Lifetime protocol:
//   - Each JS wrapper owns a std::shared_ptr<shared_map>. The registry keeps only
//     a weak reference, so the map's memory is freed when the last wrapper in
//     any thread lets go (GC finalizer or environment cleanup hook).
//   - close() detaches the concurrent_map from the shared_map at once, waits
//     until every thread that may be inside a call on it has left its epoch
//     guard, and frees it. Later calls see get() == nullptr and report an error.
//   - A caller uses `get()` only inside an epoch_guard and only for the length
//     of that guard.
//
// The structure list (structure_list below) is codec state that the map's
// stored values depend on: the binding's object codec (msgpackr record
// structures) writes a structure's position in this list instead of its field
// names. Invariant: the list only grows, so a position, once appended, names
// the same bytes for the life of the map, and a value encoded against the
// first n structures decodes against any later version of the list. Protocol:
// a writer reads (version, bytes), encodes, and appends its new structures
// with compare_and_append(version read, tail); if another thread appended in
// between, the version moved, the append fails and changes nothing, and the
// writer reloads and encodes again. A value is stored only after the
// append that holds its structures succeeded, so no interleaving lets a value
// name a structure the list does not hold. One mutex guards the list: it is
// touched when a thread loads its codec or meets a new shape, never per get.
// close() frees the bytes with the map; later reads and appends report
// `closed`.
//
// Watch (watch.hpp): the change log is made on the first watch, lives with
// the shared_map, and is closed by close() before the map goes. While it is
// active, get() answers its wrapper instead of the strategy (watch.hpp,
// WHERE IT SITS); `raw_` is always the strategy, which close() frees.
//
// The load table (loads.hpp) is the map's loads in flight, shared the same
// way, so `fetch` runs one loader per missing key in whichever thread
// claims it first; close() closes it after the core map, waking every
// waiter `closed`.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "threadmap/loads.hpp"
#include "threadmap/map.hpp"
#include "threadmap/watch.hpp"

namespace threadmap {

class structure_list {
 public:
  // Generous for codec state (the binding keeps a few dozen short field
  // lists): a bound, so a runaway writer is a clear error, not a leak.
  static constexpr std::size_t max_bytes = std::size_t{1} << 20;

  struct snapshot {
    std::uint64_t version = 0;  // successful appends so far
    std::string bytes;          // every append's bytes, in order
    bool closed = false;
  };
  enum class append_result { appended, stale, closed, too_large };

  snapshot read() const;
  // Appends `tail` when the list is still at `expected`; throws only
  // std::bad_alloc, and then changes nothing.
  append_result compare_and_append(std::uint64_t expected, std::string_view tail);
  // Frees the bytes; every later call reports closed.
  void close() noexcept;
  std::size_t size_bytes() const;

 private:
  mutable std::mutex lock_;
  std::string bytes_;
  std::uint64_t version_ = 0;
  bool closed_ = false;
};

class shared_map {
 public:
  shared_map(std::uint64_t id, std::unique_ptr<concurrent_map> impl, options opts,
             std::string key_type, std::string value_type);
  ~shared_map();
  shared_map(const shared_map&) = delete;
  shared_map& operator=(const shared_map&) = delete;

  std::uint64_t id() const noexcept { return id_; }
  const options& opts() const noexcept { return opts_; }
  // Opaque to the core: the binding's names of the key and value codecs.
  const std::string& key_type() const noexcept { return key_type_; }
  const std::string& value_type() const noexcept { return value_type_; }

  /// The live map, or nullptr once closed. Valid only inside an epoch_guard.
  concurrent_map* get() const noexcept { return impl_.load(std::memory_order_acquire); }

  /// Frees the map once no thread can be inside a call on it. Returns false
  /// when it was already closed. Must not be called inside an epoch_guard.
  bool close();

  /// The codec's structure list (see above); it lives and dies with the map.
  structure_list& structures() noexcept { return structures_; }

  /// The loads in flight (loads.hpp); closed by close().
  load_table& loads() noexcept { return loads_; }

  /// The change log (watch.hpp), made on first use; throws std::bad_alloc.
  /// A closed map's log answers every subscription `closed`.
  std::shared_ptr<change_log> watch_log();
  /// The log if one was made, else null (stats).
  std::shared_ptr<change_log> watch_log_if_made() const;

 private:
  const std::uint64_t id_;
  std::atomic<concurrent_map*> impl_;  // what get() answers: raw_, its wrapper or null
  concurrent_map* const raw_;          // the strategy, freed by close() or the destructor
  mutable std::mutex watch_lock_;      // makes log_ once
  std::shared_ptr<change_log> log_;
  const options opts_;
  const std::string key_type_;
  const std::string value_type_;
  structure_list structures_;
  load_table loads_;
};

namespace registry {

/// Creates and registers a map. Throws what make_map throws.
std::shared_ptr<shared_map> create(const options& opts, std::string key_type,
                                   std::string value_type);

/// The map with this id, or nullptr when no thread holds it any more.
std::shared_ptr<shared_map> find(std::uint64_t id);

/// Maps registered and not yet freed (closed ones count until freed).
std::size_t live() noexcept;

}  // namespace registry
}  // namespace threadmap
