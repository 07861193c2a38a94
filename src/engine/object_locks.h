// ObjectLocks: one mutex per named object ("session:<id>", "destination:<id>"), created on
// demand and dropped when nobody holds or waits for it. Operations and the monitor take the
// same locks, so a start never races a status update of the same session.
//
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace georep {

class ObjectLocks {
 public:
  class Guard {
   public:
    Guard(ObjectLocks* owner, std::string key, std::shared_ptr<std::mutex> m);
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&&) = delete;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard();

   private:
    ObjectLocks* owner_;
    std::string key_;
    std::shared_ptr<std::mutex> m_;
  };

  // Blocks until the object's lock is held; released when the Guard goes.
  Guard Lock(const std::string& key);

  // Number of objects with a live lock (for tests).
  size_t LiveCount();

 private:
  void Release(const std::string& key);

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;  // GUARDED_BY(mu_)
};

std::string SessionLockKey(const std::string& id);
std::string DestinationLockKey(const std::string& id);
// Held while a session of the cluster comes into being (created by georep, or discovered by
// the monitor), so the two never record the same gluster session twice.
std::string NewSessionLockKey(const std::string& cluster_id);

}  // namespace georep
