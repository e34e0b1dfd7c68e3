#ifndef PASSGATE_TESTS_UNIT_FAKES_H_
#define PASSGATE_TESTS_UNIT_FAKES_H_

// Fakes for the seams of server/: fast, deterministic, observable. Real implementations of
// everything else (store, key ring, token issuer) are used directly by the tests.

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "server/audit_log.h"
#include "server/clock.h"
#include "server/password_hasher.h"

namespace passgate::testing {

// FakeClock returns a time the test sets. Starts at 2023-11-14T22:13:20Z (1700000000).
// Thread-safe.
class FakeClock final : public server::Clock {
 public:
  static constexpr std::chrono::seconds kStart{1700000000};

  FakeClock() = default;
  explicit FakeClock(server::TimePoint start) : now_(start) {}

  server::TimePoint Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Set(server::TimePoint now) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = now;
  }
  void Advance(server::TimePoint::duration by) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += by;
  }

 private:
  mutable std::mutex mu_;
  server::TimePoint now_ ABSL_GUARDED_BY(mu_){kStart};
};

// FakeHasher hashes instantly: Hash returns "fake$" + password and Verify compares with that.
// Hashes starting with "$2" (bcrypt) need a rehash; one such foreign hash can be made to
// verify with AcceptLegacy. Every call is counted so tests can tell which path ran (Verify
// or DummyVerify). Thread-safe.
class FakeHasher final : public server::PasswordHasher {
 public:
  static constexpr std::string_view kPrefix = "fake$";

  absl::StatusOr<std::string> Hash(std::string_view password) const override {
    ++hash_calls_;
    return std::string(kPrefix) + std::string(password);
  }

  bool Verify(std::string_view password, std::string_view stored_hash) const override {
    ++verify_calls_;
    if (stored_hash == std::string(kPrefix) + std::string(password)) return true;
    std::lock_guard<std::mutex> lock(mu_);
    return !legacy_hash_.empty() && stored_hash == legacy_hash_ && password == legacy_password_;
  }

  bool NeedsRehash(std::string_view stored_hash) const override {
    return stored_hash.starts_with("$2");
  }

  void DummyVerify(std::string_view /*password*/) const override { ++dummy_verify_calls_; }

  // AcceptLegacy makes Verify(password, hash) succeed for one foreign (e.g. bcrypt) hash, so
  // tests can exercise the rehash-on-login path without real bcrypt.
  void AcceptLegacy(std::string hash, std::string password) {
    std::lock_guard<std::mutex> lock(mu_);
    legacy_hash_ = std::move(hash);
    legacy_password_ = std::move(password);
  }

  int hash_calls() const { return hash_calls_.load(); }
  int verify_calls() const { return verify_calls_.load(); }
  int dummy_verify_calls() const { return dummy_verify_calls_.load(); }

 private:
  mutable std::atomic<int> hash_calls_{0};
  mutable std::atomic<int> verify_calls_{0};
  mutable std::atomic<int> dummy_verify_calls_{0};
  mutable std::mutex mu_;
  std::string legacy_hash_ ABSL_GUARDED_BY(mu_);
  std::string legacy_password_ ABSL_GUARDED_BY(mu_);
};

// RecordingAuditLog keeps every event for assertions.
class RecordingAuditLog final : public server::AuditLog {
 public:
  void Record(const server::AuditEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(event);
  }
  std::vector<server::AuditEvent> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<server::AuditEvent> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace passgate::testing

#endif  // PASSGATE_TESTS_UNIT_FAKES_H_
