#include "tools/passgate_bench/store_cost.h"

#include <algorithm>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/config.h"
#include "server/runtime.h"
#include "server/uuid.h"
#include "storage/database_url.h"
#include "storage/store.h"

namespace passgate::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// Percentile of sorted samples (nearest rank).
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const std::size_t rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[rank];
}

// TimeLoop runs `op` until `duration` has passed; returns each call's µs (sorted), or the
// first error.
template <typename Op>
absl::StatusOr<std::vector<double>> TimeLoop(std::chrono::milliseconds duration, Op op) {
  std::vector<double> samples;
  const auto deadline = Clock::now() + duration;
  do {
    const auto start = Clock::now();
    if (absl::Status status = op(); !status.ok()) return status;
    samples.push_back(Micros(Clock::now() - start));
  } while (Clock::now() < deadline);
  std::sort(samples.begin(), samples.end());
  return samples;
}

}  // namespace

absl::StatusOr<nlohmann::json> MeasureStoreCost(const StoreCostOptions& options) {
  server::Config config;  // passgate's defaults: synchronous=full, pool size workers + 2
  config.database.url = options.url;
  absl::StatusOr<std::unique_ptr<storage::Store>> store = server::OpenStore(config);
  if (!store.ok()) return store.status();
  absl::StatusOr<storage::DatabaseBackend> backend = storage::DatabaseBackendFromUrl(options.url);
  if (!backend.ok()) return backend.status();

  const auto now = std::chrono::system_clock::now();
  storage::User user;
  user.id = server::NewUuidV4();
  user.emails.push_back({absl::StrCat("bench-", user.id, "@example.com"), true, true});
  user.created_at = user.updated_at = now;
  const storage::PasswordCredential password{user.id, "$argon2id$v=19$m=19456,t=2,p=1$bench",
                                             now, now};
  if (absl::Status status = (*store)->CreateUser(user, password); !status.ok()) return status;

  std::string last_session;
  absl::StatusOr<std::vector<double>> login = TimeLoop(options.duration, [&]() -> absl::Status {
    absl::StatusOr<std::optional<storage::User>> found = (*store)->FindUser(user.id);
    if (!found.ok()) return found.status();
    absl::StatusOr<std::optional<storage::PasswordCredential>> hash =
        (*store)->FindPassword(user.id);
    if (!hash.ok()) return hash.status();
    const auto created = std::chrono::system_clock::now();
    storage::Session session{server::NewUuidV4(), user.id, created, created + std::chrono::hours(12),
                             "127.0.0.1", "passgate_bench"};
    last_session = session.id;
    return (*store)->CreateSession(session, /*limit=*/5, created);
  });
  if (!login.ok()) return login.status();
  absl::StatusOr<std::vector<double>> validate =
      TimeLoop(options.duration, [&]() -> absl::Status {
        absl::StatusOr<std::optional<storage::Session>> found =
            (*store)->FindSession(last_session);
        if (!found.ok()) return found.status();
        if (!found->has_value()) return absl::InternalError("store cost: session vanished");
        return absl::OkStatus();
      });
  if (!validate.ok()) return validate.status();

  const double login_total = std::accumulate(login->begin(), login->end(), 0.0);
  return nlohmann::json{
      {"backend", *backend == storage::DatabaseBackend::kPostgres ? "postgres" : "sqlite"},
      {"login_p50_us", Percentile(*login, 0.5)},
      {"login_p99_us", Percentile(*login, 0.99)},
      {"login_mean_us", login_total / static_cast<double>(login->size())},
      {"logins", login->size()},
      {"validate_p50_us", Percentile(*validate, 0.5)},
      {"validate_p99_us", Percentile(*validate, 0.99)},
      {"validates", validate->size()},
  };
}

}  // namespace passgate::bench
