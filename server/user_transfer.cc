#include "server/user_transfer.h"

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

struct ParsedEntry {
  bool id_given = true;  // false: the entry had no user_id and got a new one
  storage::User user;
  std::optional<storage::PasswordCredential> password;
  std::vector<std::string> ignored;
};

absl::StatusOr<ParsedEntry> ParseEntry(const json& entry, TimePoint now,
                                       const HashLimits& limits) {
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
    parsed.id_given = false;
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
    std::string hash = (*password)["password"].get<std::string>();
    if (absl::Status usable = CheckImportableHash(hash, limits); !usable.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("password.password: ", usable.message()));
    }
    absl::StatusOr<TimePoint> pw_created = ReadTime(*password, "created_at", user.created_at);
    if (!pw_created.ok()) return pw_created.status();
    absl::StatusOr<TimePoint> pw_updated = ReadTime(*password, "updated_at", *pw_created);
    if (!pw_updated.ok()) return pw_updated.status();
    parsed.password =
        storage::PasswordCredential{user.id, std::move(hash), *pw_created, *pw_updated};
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


// Users per ListUsersPage call of an export: one statement per page, about 1 MB of output.
constexpr std::size_t kExportPageSize = 1000;

// ElementSax is a SAX handler for nlohmann::json::sax_parse that reads a top-level array and
// builds one element at a time, handing each to `on_element` as soon as it is complete; only
// that element is ever held in memory.
class ElementSax {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  // on_element returns false to stop parsing (an error it has recorded).
  explicit ElementSax(std::function<bool(json&&)> on_element)
      : on_element_(std::move(on_element)) {}

  bool null() { return Value(nullptr); }
  bool boolean(bool value) { return Value(value); }
  bool number_integer(number_integer_t value) { return Value(value); }
  bool number_unsigned(number_unsigned_t value) { return Value(value); }
  bool number_float(number_float_t value, const string_t& /*text*/) { return Value(value); }
  bool string(string_t& value) { return Value(std::move(value)); }
  bool binary(binary_t& value) { return Value(json::binary(std::move(value))); }

  bool start_object(std::size_t /*size*/) { return Open(json::object()); }
  bool start_array(std::size_t /*size*/) {
    if (!in_array_) {
      in_array_ = true;
      return true;
    }
    return Open(json::array());
  }
  bool key(string_t& key) {
    key_ = std::move(key);
    return true;
  }
  bool end_object() { return Close(); }
  bool end_array() {
    if (stack_.empty()) {
      finished_ = true;  // the top-level array
      return true;
    }
    return Close();
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& /*error*/) {
    // The parser's own text quotes the input there, which may be a password hash.
    error_ = absl::InvalidArgumentError(
        in_array_ ? absl::StrCat("import file is not valid JSON (at byte ", position, ")")
                  : "import file is not valid JSON");
    return false;
  }

  // not_array is true when the document turned out not to be an array.
  bool not_array() const { return not_array_; }
  bool finished() const { return finished_; }
  const absl::Status& error() const { return error_; }

 private:
  bool Value(json value) {
    if (!in_array_) {
      not_array_ = true;
      return false;
    }
    if (stack_.empty()) return on_element_(std::move(value));
    Place(std::move(value));
    return true;
  }

  bool Open(json container) {
    if (!in_array_) {
      not_array_ = true;
      return false;
    }
    if (stack_.empty()) {
      element_ = std::move(container);
      stack_.push_back(&element_);
    } else {
      stack_.push_back(Place(std::move(container)));
    }
    return true;
  }

  bool Close() {
    stack_.pop_back();
    if (!stack_.empty()) return true;
    json element = std::move(element_);
    element_ = nullptr;
    return on_element_(std::move(element));
  }

  // Place adds `value` to the innermost open container (under key_ in an object; a repeated
  // key keeps the last value, as json::parse does) and returns where it now lives.
  json* Place(json value) {
    json& parent = *stack_.back();
    if (parent.is_object()) {
      json& slot = parent[key_];
      slot = std::move(value);
      return &slot;
    }
    parent.push_back(std::move(value));
    return &parent.back();
  }

  std::function<bool(json&&)> on_element_;
  bool in_array_ = false;
  bool not_array_ = false;
  bool finished_ = false;
  json element_;
  std::vector<json*> stack_;
  string_t key_;
  absl::Status error_;
};

// SameUser tells whether `stored` (with `stored_password`) is what `entry` would create, up
// to timestamps (an entry without them gets the import's time).
bool SameUser(const storage::User& stored,
              const std::optional<storage::PasswordCredential>& stored_password,
              const ParsedEntry& entry) {
  if (stored.username != entry.user.username) return false;
  auto sorted = [](std::vector<storage::Email> emails) {
    std::sort(emails.begin(), emails.end(), [](const storage::Email& a, const storage::Email& b) {
      return a.address < b.address;
    });
    return emails;
  };
  if (sorted(stored.emails) != sorted(entry.user.emails)) return false;
  if (stored_password.has_value() != entry.password.has_value()) return false;
  return !stored_password.has_value() || stored_password->hash == entry.password->hash;
}

// BackgroundJob runs one job at a time on a thread of its own: the import parses and checks
// the next batch while the store writes this one (2 cores: parsing is ~40 % of the CPU, and
// the writer also waits for fsync).
class BackgroundJob {
 public:
  BackgroundJob() : thread_([this] { Loop(); }) {}
  ~BackgroundJob() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();  // after the job in progress, if any
  }

  BackgroundJob(const BackgroundJob&) = delete;
  BackgroundJob& operator=(const BackgroundJob&) = delete;

  // Start hands `job` to the thread. REQUIRES: no job in progress (Wait returned).
  void Start(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = std::move(job);
    }
    changed_.notify_all();
  }

  // Wait returns once the job last started has finished (at once when there is none).
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return job_ == nullptr; });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      changed_.wait(lock, [this] { return job_ != nullptr || stop_; });
      if (job_ == nullptr) return;  // stop_
      std::function<void()> job = job_;
      lock.unlock();
      job();
      lock.lock();
      job_ = nullptr;
      changed_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::function<void()> job_;  // the job in progress; null when idle
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

// Importer turns the elements ElementSax hands over into batches for Store::CreateUsers and
// keeps the report.
class Importer {
 public:
  Importer(storage::Store& store, const Clock& clock, const ImportOptions& options)
      : store_(store),
        options_(options),
        now_(clock.Now()),
        batch_size_(std::max<std::size_t>(options.batch_size, 1)) {
    pending_.reserve(batch_size_);
    in_flight_.reserve(batch_size_);
    batch_.reserve(batch_size_);
  }

  // Add takes one array element; false when the import must stop (report().error).
  bool Add(const json& element) {
    const std::size_t index = report_.entries++;
    std::string name = EntryName(index, element);
    absl::StatusOr<ParsedEntry> entry = ParseEntry(element, now_, options_.hash_limits);
    if (entry.ok()) {
      pending_.push_back(Pending{std::move(name), *std::move(entry), absl::OkStatus()});
    } else {
      // Reported with its batch, so the report stays in the file's order.
      pending_.push_back(Pending{std::move(name), ParsedEntry{}, entry.status()});
    }
    if (pending_.size() >= batch_size_) return Submit();
    return true;
  }

  // Flush writes the pending entries and reports every batch; false on a store failure
  // (report().error).
  bool Flush() { return Submit() && Finish(); }

  bool Stop(absl::Status error) {
    report_.error = std::move(error);
    return false;
  }

  ImportReport& report() { return report_; }

 private:
  struct Pending {
    std::string name;
    ParsedEntry entry;
    absl::Status invalid;  // why ParseEntry refused the entry (then `entry` is empty)
  };

  // Submit reports the batch in flight (waiting for its write), then starts writing the
  // pending entries in the background. False on a store failure (report().error).
  bool Submit() {
    if (!Finish()) return false;
    if (pending_.empty()) return true;
    std::swap(in_flight_, pending_);
    batch_.clear();
    for (Pending& pending : in_flight_) {
      if (!pending.invalid.ok()) continue;
      batch_.push_back(storage::Store::NewUser{std::move(pending.entry.user),
                                               std::move(pending.entry.password)});
    }
    if (batch_.empty()) {
      results_ = std::vector<absl::Status>();
    } else {
      writer_.Start([this] { results_ = store_.CreateUsers(batch_); });
    }
    return true;
  }

  // Finish waits for the batch in flight, if any, and reports it. False on a store failure
  // (report().error).
  bool Finish() {
    if (in_flight_.empty()) return true;
    writer_.Wait();
    if (!results_.ok()) return Stop(results_.status());
    if (results_->size() != batch_.size()) {
      return Stop(absl::InternalError("CreateUsers answered for a different number of users"));
    }
    std::size_t next = 0;
    for (Pending& pending : in_flight_) {
      if (!pending.invalid.ok()) {
        Line(ImportLineKind::kSkipped, absl::StrCat(pending.name, ": ", pending.invalid.message()));
        continue;
      }
      // Give the entry its user back (moved into the batch) for the comparison below.
      const std::size_t i = next++;
      pending.entry.user = std::move(batch_[i].user);
      pending.entry.password = std::move(batch_[i].password);
      const absl::Status& result = (*results_)[i];
      if (result.ok()) {
        ++report_.imported;
        if (!pending.entry.ignored.empty()) {
          Line(ImportLineKind::kIgnored, absl::StrCat(pending.name, ": ignored ",
                                                      absl::StrJoin(pending.entry.ignored, ", ")));
        }
      } else if (absl::IsAlreadyExists(result)) {
        if (!Conflict(pending)) return false;
      } else {
        Line(ImportLineKind::kSkipped, absl::StrCat(pending.name, ": ", result.message()));
      }
    }
    in_flight_.clear();
    if (options_.on_batch) options_.on_batch(report_);
    return true;
  }

  // Conflict reports an entry the store refused as taken: already present when its user_id
  // is stored with the same data, else a skip. False on a store failure.
  bool Conflict(const Pending& pending) {
    if (pending.entry.id_given) {
      absl::StatusOr<std::optional<storage::User>> stored = store_.FindUser(pending.entry.user.id);
      if (!stored.ok()) return Stop(stored.status());
      if (stored->has_value()) {
        absl::StatusOr<std::optional<storage::PasswordCredential>> password =
            store_.FindPassword(pending.entry.user.id);
        if (!password.ok()) return Stop(password.status());
        if (SameUser(**stored, *password, pending.entry)) {
          Line(ImportLineKind::kAlreadyPresent,
               absl::StrCat(pending.name, ": already imported (same user id, emails, username "
                                          "and password)"));
        } else {
          Line(ImportLineKind::kSkipped,
               absl::StrCat(pending.name, ": user id already exists with other data"));
        }
        return true;
      }
    }
    Line(ImportLineKind::kSkipped,
         absl::StrCat(pending.name, ": email or username already belongs to another user"));
    return true;
  }

  void Line(ImportLineKind kind, std::string line) {
    std::vector<std::string>* collected = nullptr;
    switch (kind) {
      case ImportLineKind::kSkipped:
        ++report_.skipped_count;
        collected = &report_.skipped;
        break;
      case ImportLineKind::kAlreadyPresent:
        ++report_.already_present_count;
        collected = &report_.already_present;
        break;
      case ImportLineKind::kIgnored:
        ++report_.ignored_count;
        collected = &report_.ignored;
        break;
    }
    if (options_.on_line) {
      options_.on_line(kind, line);
    } else {
      collected->push_back(std::move(line));
    }
  }

  storage::Store& store_;
  const ImportOptions& options_;
  const TimePoint now_;
  const std::size_t batch_size_;
  std::vector<Pending> pending_;    // being parsed
  std::vector<Pending> in_flight_;  // being written (their users moved to batch_)
  std::vector<storage::Store::NewUser> batch_;
  absl::StatusOr<std::vector<absl::Status>> results_;  // of CreateUsers(batch_)
  ImportReport report_;
  // Last: destroyed first, so a write in progress finishes before the batch it reads goes.
  BackgroundJob writer_;
};

template <typename Input>
ImportReport ImportEntries(storage::Store& store, Input&& input, const Clock& clock,
                           const ImportOptions& options) {
  Importer importer(store, clock, options);
  ElementSax sax([&importer](json&& element) { return importer.Add(element); });
  const bool parsed = json::sax_parse(std::forward<Input>(input), &sax);
  ImportReport& report = importer.report();
  if (!report.error.ok()) return std::move(report);  // a store failure stopped the parse
  // Entries complete before a syntax error are imported too: the contract is "everything
  // before the fault", whatever the batch boundaries.
  const bool flushed = importer.Flush();
  if (!flushed) return std::move(report);
  if (sax.not_array()) {
    report.error = absl::InvalidArgumentError("import file must be a JSON array of users");
  } else if (!sax.error().ok()) {
    report.error = sax.error();
  } else if (!parsed || !sax.finished()) {
    report.error = absl::InvalidArgumentError("import file is not valid JSON");
  }
  return std::move(report);
}

template <typename Input>
ImportReport Import(storage::Store& store, Input&& input, const Clock& clock,
                    const ImportOptions& options) {
  if (absl::Status begun = store.BeginBulkLoad(); !begun.ok()) {
    ImportReport report;
    report.error = std::move(begun);
    return report;
  }
  ImportReport report = ImportEntries(store, std::forward<Input>(input), clock, options);
  if (absl::Status ended = store.EndBulkLoad(); !ended.ok() && report.error.ok()) {
    report.error = std::move(ended);
  }
  return report;
}

// AppendEntry appends one user as an element of the pretty-printed array (json::dump(2) of
// the whole array, written piecewise).
void AppendEntry(const storage::User& user, const std::optional<storage::PasswordCredential>& password,
                 std::string& out) {
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
  if (password.has_value()) {
    entry["password"] = {{"password", password->hash},
                         {"created_at", FormatTime(password->created_at)},
                         {"updated_at", FormatTime(password->updated_at)}};
  }
  entry["created_at"] = FormatTime(user.created_at);
  entry["updated_at"] = FormatTime(user.updated_at);
  // Strings are dumped escaped, so every newline in the text is one of the layout's.
  out += "  ";
  for (char c : entry.dump(2)) {
    out += c;
    if (c == '\n') out += "  ";
  }
}

}  // namespace

ImportReport ImportUsers(storage::Store& store, std::istream& in, const Clock& clock,
                         const ImportOptions& options) {
  return Import(store, in, clock, options);
}

ImportReport ImportUsers(storage::Store& store, std::string_view text, const Clock& clock,
                         const ImportOptions& options) {
  return Import(store, text, clock, options);
}

absl::Status ExportUsers(storage::Store& store, std::ostream& out) {
  storage::UserQuery query;
  query.limit = kExportPageSize;
  query.with_passwords = true;
  std::string chunk;
  bool first = true;
  for (;;) {
    absl::StatusOr<std::vector<storage::UserListEntry>> page = store.ListUsersPage(query);
    if (!page.ok()) return page.status();
    for (const storage::UserListEntry& entry : *page) {
      chunk += first ? "[\n" : ",\n";
      first = false;
      AppendEntry(entry.user, entry.password, chunk);
    }
    out << chunk;
    chunk.clear();
    if (!out) return absl::UnavailableError("writing the export failed");
    if (page->size() < query.limit) break;
    // Keyset paging: the next page starts after the last user of this one, so users created
    // or deleted meanwhile never shift it (an offset would).
    query.after = storage::UserCursor{page->back().user.created_at, page->back().user.id};
  }
  out << (first ? "[]\n" : "\n]\n");
  out.flush();
  if (!out) return absl::UnavailableError("writing the export failed");
  return absl::OkStatus();
}

absl::StatusOr<std::string> ExportUsersToString(storage::Store& store) {
  std::ostringstream out;
  if (absl::Status status = ExportUsers(store, out); !status.ok()) return status;
  return std::move(out).str();
}

}  // namespace passgate::server
