#include "server/user_transfer.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/request_checks.h"
#include "server/uuid.h"

namespace passgate::server {
namespace {

using nlohmann::json;

// Formats a time as RFC 3339 with fractional seconds, as Go's time.Time marshals.
std::string FormatTime(TimePoint t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", absl::FromChrono(t), absl::UTCTimeZone());
}

// ReadTime parses an optional RFC 3339 member; a missing member gives `fallback`.
absl::StatusOr<TimePoint> ReadTime(const json& entry, const char* key, TimePoint fallback) {
  const auto it = entry.find(key);
  if (it == entry.end() || it->is_null()) return fallback;
  if (!it->is_string()) return absl::InvalidArgumentError(absl::StrCat(key, " must be a string"));
  absl::Time parsed;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, it->get<std::string>(), &parsed, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(key, " is not an RFC 3339 time"));
  }
  // RFC 3339 (and Go's time.Time, e.g. its zero value 0001-01-01T00:00:00Z) spans years 1 to
  // 9999, TimePoint (int64 nanoseconds since 1970) only about 1678 to 2262: refuse what does
  // not fit instead of letting ToChronoTime saturate (the stores' microsecond rounding of a
  // saturated value overflows, and the user would export with different times).
  static const absl::Time kEarliest = absl::FromChrono(TimePoint::min()) + absl::Hours(24);
  static const absl::Time kLatest = absl::FromChrono(TimePoint::max()) - absl::Hours(24);
  if (parsed < kEarliest || parsed > kLatest) {
    return absl::InvalidArgumentError(absl::StrCat(key, " is out of range"));
  }
  return absl::ToChronoTime(parsed);
}

// Printable clips untrusted text for an operator's terminal and masks control bytes, so an
// import file cannot inject escape sequences into the report.
std::string Printable(std::string_view text) {
  std::string out(text.substr(0, 64));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (text.size() > 64) out += "...";
  return out;
}

bool SupportedHash(std::string_view hash) {
  return hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") ||
         hash.starts_with("$argon2id$");
}

struct ParsedEntry {
  storage::User user;
  std::optional<storage::PasswordCredential> password;
  std::vector<std::string> ignored;
};

absl::StatusOr<ParsedEntry> ParseEntry(const json& entry, TimePoint now) {
  if (!entry.is_object()) return absl::InvalidArgumentError("entry is not a JSON object");
  static const std::set<std::string> kKnown = {"user_id",  "emails",     "username",
                                               "password", "created_at", "updated_at"};
  ParsedEntry parsed;
  for (const auto& [key, value] : entry.items()) {
    // The names are untrusted too: they end up in the operator's report.
    if (!kKnown.contains(key) && !value.is_null()) parsed.ignored.push_back(Printable(key));
  }
  storage::User& user = parsed.user;

  const auto id = entry.find("user_id");
  if (id == entry.end() || id->is_null()) {
    user.id = NewUuidV4();
  } else if (!id->is_string() || !IsCanonicalUuid(id->get<std::string>())) {
    return absl::InvalidArgumentError("user_id must be a canonical lowercase UUID");
  } else {
    user.id = id->get<std::string>();
  }

  const auto emails = entry.find("emails");
  if (emails == entry.end() || !emails->is_array() || emails->empty()) {
    return absl::InvalidArgumentError("emails must be a non-empty array");
  }
  int primaries = 0;
  std::set<std::string> seen;
  for (const json& email : *emails) {
    if (!email.is_object() || !email.contains("address") || !email["address"].is_string()) {
      return absl::InvalidArgumentError("every email needs a string address");
    }
    storage::Email out;
    out.address = email["address"].get<std::string>();
    if (!IsPlausibleEmail(out.address)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid email address \"", Printable(out.address), "\""));
    }
    if (!seen.insert(absl::AsciiStrToLower(out.address)).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate email address \"", Printable(out.address), "\""));
    }
    for (const char* flag : {"is_primary", "is_verified"}) {
      if (email.contains(flag) && !email[flag].is_boolean()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, " must be true or false"));
      }
    }
    out.is_primary = email.value("is_primary", false);
    out.is_verified = email.value("is_verified", false);
    primaries += out.is_primary ? 1 : 0;
    user.emails.push_back(std::move(out));
  }
  if (primaries != 1) {
    return absl::InvalidArgumentError("exactly one email must have is_primary: true");
  }

  if (const auto username = entry.find("username"); username != entry.end() && !username->is_null()) {
    if (!username->is_string() || username->get<std::string>().empty()) {
      return absl::InvalidArgumentError("username must be a non-empty string");
    }
    user.username = username->get<std::string>();
  }

  absl::StatusOr<TimePoint> created = ReadTime(entry, "created_at", now);
  if (!created.ok()) return created.status();
  absl::StatusOr<TimePoint> updated = ReadTime(entry, "updated_at", *created);
  if (!updated.ok()) return updated.status();
  user.created_at = *created;
  user.updated_at = *updated;

  if (const auto password = entry.find("password"); password != entry.end() && !password->is_null()) {
    if (!password->is_object() || !password->contains("password") ||
        !(*password)["password"].is_string()) {
      return absl::InvalidArgumentError("password.password must be a string hash");
    }
    const std::string hash = (*password)["password"].get<std::string>();
    if (!SupportedHash(hash)) {
      return absl::InvalidArgumentError(
          "password.password is not a bcrypt ($2a$/$2b$/$2y$) or Argon2id hash");
    }
    absl::StatusOr<TimePoint> pw_created = ReadTime(*password, "created_at", user.created_at);
    if (!pw_created.ok()) return pw_created.status();
    absl::StatusOr<TimePoint> pw_updated = ReadTime(*password, "updated_at", *pw_created);
    if (!pw_updated.ok()) return pw_updated.status();
    parsed.password = storage::PasswordCredential{user.id, hash, *pw_created, *pw_updated};
  }
  return parsed;
}

std::string EntryName(std::size_t index, const json& entry) {
  std::string name = absl::StrCat("entry ", index);
  if (entry.is_object()) {
    if (const auto id = entry.find("user_id"); id != entry.end() && id->is_string()) {
      // Clip: the id is untrusted input echoed to an operator's terminal.
      absl::StrAppend(&name, " (user_id ", Printable(id->get<std::string>()), ")");
    }
  }
  return name;
}

}  // namespace

absl::StatusOr<ImportReport> ImportUsers(storage::Store& store, std::string_view text,
                                         const Clock& clock) {
  const json document = json::parse(text, nullptr, false);
  if (document.is_discarded()) return absl::InvalidArgumentError("import file is not valid JSON");
  if (!document.is_array()) {
    return absl::InvalidArgumentError("import file must be a JSON array of users");
  }
  ImportReport report;
  const TimePoint now = clock.Now();
  for (std::size_t i = 0; i < document.size(); ++i) {
    const std::string name = EntryName(i, document[i]);
    absl::StatusOr<ParsedEntry> entry = ParseEntry(document[i], now);
    if (!entry.ok()) {
      report.skipped.push_back(absl::StrCat(name, ": ", entry.status().message()));
      continue;
    }
    absl::Status created = store.CreateUser(entry->user, entry->password);
    if (absl::IsAlreadyExists(created)) {
      report.skipped.push_back(absl::StrCat(name, ": user id, email or username already exists"));
      continue;
    }
    if (!created.ok()) return created;
    ++report.imported;
    if (!entry->ignored.empty()) {
      report.ignored.push_back(
          absl::StrCat(name, ": ignored ", absl::StrJoin(entry->ignored, ", ")));
    }
  }
  return report;
}

absl::StatusOr<std::string> ExportUsers(storage::Store& store) {
  absl::StatusOr<std::vector<storage::User>> users = store.ListUsers();
  if (!users.ok()) return users.status();
  json out = json::array();
  for (const storage::User& user : *users) {
    json entry = json::object();
    entry["user_id"] = user.id;
    json emails = json::array();
    for (const storage::Email& email : user.emails) {
      emails.push_back({{"address", email.address},
                        {"is_primary", email.is_primary},
                        {"is_verified", email.is_verified}});
    }
    entry["emails"] = std::move(emails);
    if (user.username) entry["username"] = *user.username;
    absl::StatusOr<std::optional<storage::PasswordCredential>> password =
        store.FindPassword(user.id);
    if (!password.ok()) return password.status();
    if (password->has_value()) {
      entry["password"] = {{"password", (*password)->hash},
                           {"created_at", FormatTime((*password)->created_at)},
                           {"updated_at", FormatTime((*password)->updated_at)}};
    }
    entry["created_at"] = FormatTime(user.created_at);
    entry["updated_at"] = FormatTime(user.updated_at);
    out.push_back(std::move(entry));
  }
  return out.dump(2) + "\n";
}

}  // namespace passgate::server
