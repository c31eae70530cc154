#include "threadmap/registry.hpp"

#include <mutex>
#include <unordered_map>

#include "threadmap/epoch.hpp"
#include "threadmap/factory.hpp"

namespace threadmap {
namespace {

struct registry_state {
  std::mutex lock;
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<shared_map>> maps;
};

// Never destroyed: wrappers in exiting threads may release maps while static
// destructors run.
registry_state& state() {
  static registry_state* s = new registry_state;
  return *s;
}

void delete_map(void* p) noexcept {
  delete static_cast<concurrent_map*>(p);
}

}  // namespace

shared_map::shared_map(std::uint64_t id, std::unique_ptr<concurrent_map> impl, options opts,
                       std::string key_type, std::string value_type)
    : id_(id),
      impl_(impl.get()),
      raw_(impl.release()),
      opts_(opts),
      key_type_(std::move(key_type)),
      value_type_(std::move(value_type)) {}

shared_map::~shared_map() {
  {
    registry_state& s = state();
    std::lock_guard lock(s.lock);
    auto it = s.maps.find(id_);
    // Only erase our own entry (it is ours: ids are never reused).
    if (it != s.maps.end()) s.maps.erase(it);
  }
  if (std::shared_ptr<change_log> l = watch_log_if_made()) l->close();
  // No wrapper is left, so no thread can be inside a call: free at once.
  if (impl_.exchange(nullptr, std::memory_order_acq_rel)) delete raw_;
}

std::shared_ptr<change_log> shared_map::watch_log() {
  std::lock_guard lock(watch_lock_);
  if (!log_) {
    // Installs or removes the wrapper unless the map was closed meanwhile.
    auto publish = [this](concurrent_map* next) {
      concurrent_map* cur = impl_.load(std::memory_order_acquire);
      while (cur != nullptr)
        if (impl_.compare_exchange_weak(cur, next, std::memory_order_acq_rel)) return true;
      return false;
    };
    log_ = std::make_shared<change_log>(raw_, publish);
    if (impl_.load(std::memory_order_acquire) == nullptr) log_->close();
  }
  return log_;
}

std::shared_ptr<change_log> shared_map::watch_log_if_made() const {
  std::lock_guard lock(watch_lock_);
  return log_;
}

structure_list::snapshot structure_list::read() const {
  std::lock_guard lock(lock_);
  return {version_, bytes_, closed_};
}

structure_list::append_result structure_list::compare_and_append(std::uint64_t expected,
                                                                 std::string_view tail) {
  std::lock_guard lock(lock_);
  if (closed_) return append_result::closed;
  if (expected != version_) return append_result::stale;
  if (tail.size() > max_bytes - bytes_.size()) return append_result::too_large;
  bytes_.append(tail);  // strong guarantee: on bad_alloc nothing changed
  ++version_;
  return append_result::appended;
}

void structure_list::close() noexcept {
  std::string gone;
  {
    std::lock_guard lock(lock_);
    closed_ = true;
    gone.swap(bytes_);
  }
}

std::size_t structure_list::size_bytes() const {
  std::lock_guard lock(lock_);
  return bytes_.size();
}

bool shared_map::close() {
  // The log first: it ends its subscriptions and stops swapping pointers
  // (its mutex orders this against an activation in progress).
  if (std::shared_ptr<change_log> l = watch_log_if_made()) l->close();
  if (!impl_.exchange(nullptr, std::memory_order_acq_rel)) return false;
  concurrent_map* m = raw_;
  structures_.close();
  loads_.close();
  if (epoch::in_critical_section()) {
    epoch::retire(m, &delete_map);
  } else {
    // Every call that could still hold `m` runs inside a guard that began
    // before the exchange; wait for those guards, then free.
    epoch::synchronize();
    delete m;
  }
  return true;
}

namespace registry {

std::shared_ptr<shared_map> create(const options& opts, std::string key_type,
                                   std::string value_type) {
  std::unique_ptr<concurrent_map> impl = make_map(opts);
  registry_state& s = state();
  std::lock_guard lock(s.lock);
  const std::uint64_t id = s.next_id++;
  auto m = std::make_shared<shared_map>(id, std::move(impl), opts, std::move(key_type),
                                        std::move(value_type));
  s.maps.emplace(id, m);
  return m;
}

std::shared_ptr<shared_map> find(std::uint64_t id) {
  registry_state& s = state();
  std::shared_ptr<shared_map> m;
  {
    std::lock_guard lock(s.lock);
    auto it = s.maps.find(id);
    if (it != s.maps.end()) m = it->second.lock();
  }
  return m;
}

std::size_t live() noexcept {
  registry_state& s = state();
  std::lock_guard lock(s.lock);
  return s.maps.size();
}

}  // namespace registry
}  // namespace threadmap
