#include "storage/memory_store.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/base/thread_annotations.h"
#include "storage/records.h"
#include "storage/store.h"
#include "storage/user_page_sql.h"

namespace passgate::storage {
namespace {

// Truncate drops sub-microsecond precision, as the SQLite store does by storing microseconds,
// so code tested against this fake sees the same timestamps it will see in production.
TimePoint Truncate(TimePoint time) {
  return TimePoint(std::chrono::floor<std::chrono::microseconds>(time.time_since_epoch()));
}

// EmailKey folds ASCII case only, matching SQLite's NOCASE collation on emails.address.
std::string EmailKey(std::string_view address) {
  std::string key(address);
  absl::AsciiStrToLower(&key);
  return key;
}

// SortEmails puts the primary address first, then orders by address as SQLite's
// `ORDER BY is_primary DESC, address COLLATE NOCASE` does.
void SortEmails(std::vector<Email>& emails) {
  std::sort(emails.begin(), emails.end(), [](const Email& a, const Email& b) {
    if (a.is_primary != b.is_primary) return a.is_primary;
    return EmailKey(a.address) < EmailKey(b.address);
  });
}


class MemoryStore final : public Store {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  absl::Status CreateUser(const User& user,
                          const std::optional<PasswordCredential>& password) override {
    if (absl::Status owner = CheckPasswordOwner("CreateUser", user, password); !owner.ok()) {
      return owner;
    }
    std::lock_guard<std::mutex> lock(mu_);
    return CreateUserLocked(user, password);
  }

  absl::StatusOr<std::vector<absl::Status>> CreateUsers(std::span<const NewUser> users) override {
    std::vector<absl::Status> results;
    results.reserve(users.size());
    std::lock_guard<std::mutex> lock(mu_);
    for (const NewUser& entry : users) {
      if (absl::Status owner = CheckPasswordOwner("CreateUsers", entry.user, entry.password);
          !owner.ok()) {
        results.push_back(std::move(owner));
        continue;
      }
      results.push_back(CreateUserLocked(entry.user, entry.password));
    }
    return results;
  }

 private:
  absl::Status CreateUserLocked(const User& user, const std::optional<PasswordCredential>& password)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // Every check runs before the first write, so a failure leaves nothing behind.
    if (users_.contains(user.id)) {
      return absl::AlreadyExistsError("CreateUser: user id already exists");
    }
    if (user.username.has_value() && usernames_.contains(*user.username)) {
      return absl::AlreadyExistsError("CreateUser: username already exists");
    }
    std::set<std::string> new_keys;
    for (const Email& email : user.emails) {
      std::string key = EmailKey(email.address);
      if (email_owners_.contains(key) || !new_keys.insert(std::move(key)).second) {
        return absl::AlreadyExistsError("CreateUser: email address already exists");
      }
    }

    User stored = user;
    stored.created_at = Truncate(user.created_at);
    stored.updated_at = Truncate(user.updated_at);
    SortEmails(stored.emails);
    for (const std::string& key : new_keys) email_owners_.emplace(key, user.id);
    if (user.username.has_value()) usernames_.insert(*user.username);
    users_.emplace(user.id, std::move(stored));
    if (password.has_value()) {
      PasswordCredential credential = *password;
      credential.user_id = user.id;
      credential.created_at = Truncate(password->created_at);
      credential.updated_at = Truncate(password->updated_at);
      passwords_.emplace(user.id, std::move(credential));
    }
    return absl::OkStatus();
  }

 public:

  absl::StatusOr<std::optional<User>> FindUser(std::string_view user_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = users_.find(user_id);
    if (it == users_.end()) return std::optional<User>();
    return std::optional<User>(it->second);
  }

  absl::StatusOr<std::vector<User>> ListUsers() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<User> users;
    users.reserve(users_.size());
    for (const User* user : Matching(UserQuery{})) users.push_back(*user);
    return users;
  }

  absl::StatusOr<std::vector<UserListEntry>> ListUsersPage(const UserQuery& query) override {
    if (absl::Status valid = CheckUserQuery(query); !valid.ok()) return valid;
    std::lock_guard<std::mutex> lock(mu_);
    // The offset applies after the cursor, as the SQL stores' OFFSET does.
    std::size_t skipped = 0;
    std::vector<UserListEntry> out;
    for (const User* user : Matching(query)) {
      if (query.after.has_value() && !Beyond(*user, *query.after, query.descending)) continue;
      if (skipped < query.offset) {
        ++skipped;
        continue;
      }
      if (out.size() == query.limit) break;
      UserListEntry entry{*user, std::nullopt};
      if (query.with_passwords) {
        if (auto it = passwords_.find(user->id); it != passwords_.end()) entry.password = it->second;
      }
      out.push_back(std::move(entry));
    }
    return out;
  }

  absl::StatusOr<std::size_t> CountUsers(const UserQuery& query) override {
    if (absl::Status valid = CheckUserQuery(query); !valid.ok()) return valid;
    std::lock_guard<std::mutex> lock(mu_);
    return Matching(query).size();
  }

  absl::StatusOr<bool> DeleteUser(std::string_view user_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = users_.find(user_id);
    if (it == users_.end()) return false;
    for (const Email& email : it->second.emails) email_owners_.erase(EmailKey(email.address));
    if (it->second.username.has_value()) usernames_.erase(*it->second.username);
    passwords_.erase(it->second.id);
    std::erase_if(sessions_, [&](const auto& entry) { return entry.second.user_id == user_id; });
    users_.erase(it);
    return true;
  }

  absl::StatusOr<std::optional<PasswordCredential>> FindPassword(
      std::string_view user_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = passwords_.find(user_id);
    if (it == passwords_.end()) return std::optional<PasswordCredential>();
    return std::optional<PasswordCredential>(it->second);
  }

  absl::StatusOr<bool> SetPassword(std::string_view user_id, std::string_view hash,
                                   TimePoint now) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!users_.contains(user_id)) return absl::NotFoundError("SetPassword: no such user");
    now = Truncate(now);
    auto it = passwords_.find(user_id);
    if (it != passwords_.end()) {
      it->second.hash = std::string(hash);
      it->second.updated_at = now;
      return false;
    }
    PasswordCredential credential;
    credential.user_id = std::string(user_id);
    credential.hash = std::string(hash);
    credential.created_at = now;
    credential.updated_at = now;
    passwords_.emplace(credential.user_id, std::move(credential));
    return true;
  }

  absl::StatusOr<bool> DeletePassword(std::string_view user_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = passwords_.find(user_id);
    if (it == passwords_.end()) return false;
    passwords_.erase(it);
    return true;
  }

  absl::StatusOr<bool> ReplacePasswordIfUnchanged(std::string_view user_id,
                                                  std::string_view expected_hash,
                                                  std::string_view new_hash,
                                                  TimePoint now) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = passwords_.find(user_id);
    if (it == passwords_.end() || it->second.hash != expected_hash) return false;
    it->second.hash = std::string(new_hash);
    it->second.updated_at = Truncate(now);
    return true;
  }

  absl::Status CreateSession(const Session& session, std::size_t limit, TimePoint now) override {
    if (limit == 0) return absl::InvalidArgumentError("CreateSession: limit must be >= 1");
    std::lock_guard<std::mutex> lock(mu_);
    if (!users_.contains(session.user_id)) {
      return absl::NotFoundError("CreateSession: no such user");
    }
    if (sessions_.contains(session.id)) {
      return absl::AlreadyExistsError("CreateSession: session id already exists");
    }
    Session stored = session;
    stored.created_at = Truncate(session.created_at);
    stored.expires_at = Truncate(session.expires_at);
    session_order_[stored.id] = next_session_order_++;
    sessions_.emplace(stored.id, std::move(stored));

    now = Truncate(now);
    std::erase_if(sessions_, [&](const auto& entry) {
      return entry.second.user_id == session.user_id && entry.second.expires_at <= now;
    });
    std::vector<Session> live = SessionsOf(session.user_id);
    for (std::size_t i = limit; i < live.size(); ++i) sessions_.erase(live[i].id);
    std::erase_if(session_order_,
                  [&](const auto& entry) { return !sessions_.contains(entry.first); });
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<Session>> FindSession(std::string_view session_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return std::optional<Session>();
    return std::optional<Session>(it->second);
  }

  absl::StatusOr<std::vector<Session>> ListSessions(std::string_view user_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return SessionsOf(user_id);
  }

  absl::StatusOr<bool> DeleteSession(std::string_view session_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return false;
    sessions_.erase(it);
    return true;
  }

  absl::StatusOr<std::size_t> DeleteUserSessions(std::string_view user_id,
                                                 std::string_view keep_session_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::erase_if(sessions_, [&](const auto& entry) {
      return entry.second.user_id == user_id && entry.first != keep_session_id;
    });
  }

  absl::Status AddKey(const StoredKey& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    return AddKeyLocked(key);
  }

  absl::StatusOr<bool> AddKeyIfFewer(const StoredKey& key, std::size_t count) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (keys_.size() >= count) return false;
    if (absl::Status status = AddKeyLocked(key); !status.ok()) return status;
    return true;
  }

  absl::StatusOr<std::vector<StoredKey>> ListKeys() override {
    std::lock_guard<std::mutex> lock(mu_);
    // keys_ is in insertion order; a stable sort keeps it among keys created at the same time.
    std::vector<StoredKey> keys = keys_;
    std::stable_sort(keys.begin(), keys.end(), [](const StoredKey& a, const StoredKey& b) {
      return a.created_at < b.created_at;
    });
    return keys;
  }

 private:
  absl::Status AddKeyLocked(const StoredKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const StoredKey& existing : keys_) {
      if (existing.id == key.id) return absl::AlreadyExistsError("AddKey: key id already exists");
    }
    StoredKey stored = key;
    stored.created_at = Truncate(key.created_at);
    stored.activates_at = Truncate(key.activates_at);
    keys_.push_back(std::move(stored));
    return absl::OkStatus();
  }

  // Matching lists the users passing query's filters in listing order (created_at, id;
  // reversed when descending).
  std::vector<const User*> Matching(const UserQuery& query) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<const User*> users;
    std::optional<std::string> email_owner;
    if (query.email.has_value()) {
      auto owner = email_owners_.find(EmailKey(*query.email));
      if (owner == email_owners_.end()) return users;
      email_owner = owner->second;
    }
    for (const auto& [id, user] : users_) {
      if (email_owner.has_value() && id != *email_owner) continue;
      if (!query.ids.empty() &&
          std::find(query.ids.begin(), query.ids.end(), id) == query.ids.end()) {
        continue;
      }
      users.push_back(&user);
    }
    const auto key = [](const User* user) { return std::tie(user->created_at, user->id); };
    std::sort(users.begin(), users.end(), [&](const User* a, const User* b) {
      return query.descending ? key(b) < key(a) : key(a) < key(b);
    });
    return users;
  }

  // Beyond: `user` comes strictly after `cursor` in the listing direction.
  static bool Beyond(const User& user, const UserCursor& cursor, bool descending) {
    const TimePoint at = Truncate(cursor.created_at);
    if (user.created_at != at) return descending ? user.created_at < at : user.created_at > at;
    return descending ? user.id < cursor.id : user.id > cursor.id;
  }

  std::vector<Session> SessionsOf(std::string_view user_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<Session> sessions;
    for (const auto& [id, session] : sessions_) {
      if (session.user_id == user_id) sessions.push_back(session);
    }
    // Newest first: by created_at, then by insertion order (as SQLite's rowid does).
    std::sort(sessions.begin(), sessions.end(), [&](const Session& a, const Session& b) {
      if (a.created_at != b.created_at) return a.created_at > b.created_at;
      return session_order_.at(a.id) > session_order_.at(b.id);
    });
    return sessions;
  }

  std::mutex mu_;  // std::mutex: visible to ThreadSanitizer (Debian's Abseil is not)
  // std::less<> allows lookups by string_view without building a std::string.
  std::map<std::string, User, std::less<>> users_ ABSL_GUARDED_BY(mu_);  // emails kept sorted
  std::map<std::string, std::string, std::less<>> email_owners_ ABSL_GUARDED_BY(mu_);
  std::set<std::string, std::less<>> usernames_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PasswordCredential, std::less<>> passwords_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Session, std::less<>> sessions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::uint64_t, std::less<>> session_order_ ABSL_GUARDED_BY(mu_);
  std::uint64_t next_session_order_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<StoredKey> keys_ ABSL_GUARDED_BY(mu_);  // insertion order
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace passgate::storage
