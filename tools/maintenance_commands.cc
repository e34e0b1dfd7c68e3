#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/session_tokens.h"
#include "server/uuid.h"
#include "server/runtime.h"
#include "tools/command_support.h"
#include "tools/commands.h"

namespace passgate::tools {

int Migrate(const std::string& config_path) {
  std::optional<server::Config> config = LoadConfig(config_path);
  if (!config) return 1;
  absl::StatusOr<std::string> migrated = server::MigrateStore(*config);
  if (!migrated.ok()) return Fail(migrated.status());
  std::cout << *migrated << "\n";
  return 0;
}

int ListKeys(const std::string& config_path) {
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = false, .keys = true});
  if (runtime == nullptr) return 1;
  std::cout << "KID                                   ALG    CREATED               "
               "SIGNS FROM            SIGNING\n";
  const auto format = [](storage::TimePoint time) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromChrono(time), absl::UTCTimeZone());
  };
  for (const server::KeyInfo& key : runtime->keys->Keys()) {
    std::cout << key.kid << "  " << absl::StrCat(key.algorithm, "      ").substr(0, 6) << " "
              << format(key.created_at) << "  " << format(key.activates_at) << "  "
              << (key.signing ? "yes" : "no") << "\n";
  }
  return 0;
}

int RotateKey(const std::string& config_path, bool now) {
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = false, .keys = true});
  if (runtime == nullptr) return 1;
  const std::chrono::seconds delay =
      now ? std::chrono::seconds(0) : runtime->config.secrets.key_activation_delay;
  absl::StatusOr<std::string> kid = runtime->keys->Rotate(delay);
  if (!kid.ok()) return Fail(kid.status());
  std::cout << *kid << "\n";
  std::cerr << "passgate: new key " << *kid << " is published by running servers within "
            << runtime->config.secrets.key_refresh_interval.count() << " s and signs "
            << (now ? "at once" : absl::StrCat("in ", delay.count(), " s")) << "\n";
  return 0;
}

int RevokeSession(const std::string& config_path, const std::string& session_id) {
  if (!server::IsCanonicalUuid(session_id)) return Fail("session id is not a canonical UUID");
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = false, .keys = false});
  if (runtime == nullptr) return 1;
  absl::StatusOr<bool> deleted = runtime->store->DeleteSession(session_id);
  if (!deleted.ok()) return Fail(deleted.status());
  if (!*deleted) return Fail("no such session");
  std::cout << "revoked " << session_id << "\n";
  return 0;
}

int IssueSession(const std::string& config_path, const std::string& user_id) {
  if (!server::IsCanonicalUuid(user_id)) return Fail("user id is not a canonical UUID");
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = false, .keys = true});
  if (runtime == nullptr) return 1;
  absl::StatusOr<std::optional<storage::User>> user = runtime->store->FindUser(user_id);
  if (!user.ok()) return Fail(user.status());
  if (!user->has_value()) return Fail("no such user");
  const server::SessionTokens tokens(*runtime->store, *runtime->keys, runtime->clock,
                                     server::SessionPolicyFrom(runtime->config));
  absl::StatusOr<server::IssuedSession> session =
      tokens.Issue(**user, server::ClientInfo{"", "passgate-cli", ""});
  if (!session.ok()) return Fail(session.status());
  std::cout << session->token << "\n";
  std::cerr << "passgate: session " << session->claims.session_id << " for " << user_id << "\n";
  return 0;
}

int ListSessions(const std::string& config_path, const std::string& user_id) {
  if (!server::IsCanonicalUuid(user_id)) return Fail("user id is not a canonical UUID");
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = false, .keys = false});
  if (runtime == nullptr) return 1;
  absl::StatusOr<std::vector<storage::Session>> sessions = runtime->store->ListSessions(user_id);
  if (!sessions.ok()) return Fail(sessions.status());
  const auto format = [](storage::TimePoint t) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromChrono(t), absl::UTCTimeZone());
  };
  for (const storage::Session& session : *sessions) {
    std::cout << session.id << "\t" << format(session.created_at) << "\t"
              << format(session.expires_at) << "\t" << session.ip << "\t" << session.user_agent
              << "\n";
  }
  return 0;
}

}  // namespace passgate::tools
