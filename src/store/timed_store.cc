#include "store/timed_store.h"

#include <chrono>

namespace georep {

Status TimedStore::Transaction(const std::function<Status(StoreTx&)>& fn) {
  const auto start = std::chrono::steady_clock::now();
  Status st = inner_.Transaction(fn);
  durations_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return st;
}

}  // namespace georep
