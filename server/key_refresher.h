#ifndef PASSGATE_SERVER_KEY_REFRESHER_H_
#define PASSGATE_SERVER_KEY_REFRESHER_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/key_ring.h"

namespace passgate::server {

// KeyRefresher calls KeyRing::Refresh every `interval` on its own thread, so keys another
// replica (or `passgate jwk rotate`) added are published and verified here within one
// interval, without a restart. Failures and keys no secret decrypts are logged (never the
// key material); the ring keeps its keys meanwhile. Stops (and joins) on destruction.
class KeyRefresher {
 public:
  // REQUIRES: interval > 0; `ring` outlives the refresher.
  KeyRefresher(KeyRing& ring, std::chrono::milliseconds interval);
  ~KeyRefresher();
  KeyRefresher(const KeyRefresher&) = delete;
  KeyRefresher& operator=(const KeyRefresher&) = delete;

 private:
  void Run();

  KeyRing& ring_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable stop_requested_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_KEY_REFRESHER_H_
