#include "server/key_refresher.h"

#include <string>

#include "absl/strings/str_join.h"
#include "server/log.h"

namespace passgate::server {

KeyRefresher::KeyRefresher(KeyRing& ring, std::chrono::milliseconds interval)
    : ring_(ring), interval_(interval), thread_([this] { Run(); }) {}

KeyRefresher::~KeyRefresher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_requested_.notify_all();
  thread_.join();
}

void KeyRefresher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_requested_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    absl::StatusOr<KeyRefreshReport> report = ring_.Refresh();
    if (!report.ok()) {
      Log(LogLevel::kWarning, "signing keys not refreshed",
          {{"error", std::string(report.status().message())}});
    } else {
      if (report->added > 0) Log(LogLevel::kInfo, "signing keys refreshed", {{"added", report->added}});
      if (!report->skipped.empty()) {
        Log(LogLevel::kError,
            "stored signing keys no secret of secrets.keys decrypts; tokens they sign will not "
            "verify on this replica",
            {{"kids", absl::StrJoin(report->skipped, ",")}});
      }
    }
    lock.lock();
  }
}

}  // namespace passgate::server
