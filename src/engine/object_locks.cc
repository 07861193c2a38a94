#include "engine/object_locks.h"

namespace georep {

ObjectLocks::Guard::Guard(ObjectLocks* owner, std::string key, std::shared_ptr<std::mutex> m)
    : owner_(owner), key_(std::move(key)), m_(std::move(m)) {
  m_->lock();
}

ObjectLocks::Guard::Guard(Guard&& other) noexcept
    : owner_(other.owner_), key_(std::move(other.key_)), m_(std::move(other.m_)) {
  other.owner_ = nullptr;
}

ObjectLocks::Guard::~Guard() {
  if (!owner_) return;
  m_->unlock();
  m_.reset();
  owner_->Release(key_);
}

ObjectLocks::Guard ObjectLocks::Lock(const std::string& key) {
  std::shared_ptr<std::mutex> m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = locks_[key];
    if (!slot) slot = std::make_shared<std::mutex>();
    m = slot;
  }
  return Guard(this, key, std::move(m));
}

void ObjectLocks::Release(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = locks_.find(key);
  // Only the map holds it: no holder and no waiter (waiters hold a copy).
  if (it != locks_.end() && it->second.use_count() == 1) locks_.erase(it);
}

size_t ObjectLocks::LiveCount() {
  std::lock_guard<std::mutex> lock(mu_);
  return locks_.size();
}

std::string SessionLockKey(const std::string& id) {
  return "session:" + id;
}
std::string NewSessionLockKey(const std::string& cluster_id) {
  return "new-session-of-cluster:" + cluster_id;
}

std::string DestinationLockKey(const std::string& id) {
  return "destination:" + id;
}

}  // namespace georep
