// Fuzzes the user import parser (server/user_transfer.*: ImportUsers, Hanko's export JSON)
// into a fresh in-memory store with a fixed clock, then exports and re-imports the result.
//
// Invariants:
//   - no crash, hang, leak or UB;
//   - imported + skipped + already present == entries read, whatever happens; every report
//     line names its entry and has no control bytes (the report goes to an operator's
//     terminal); the store holds exactly the imported users;
//   - a document that stops the import is kInvalidArgument with a message free of control
//     bytes, and is indeed not a JSON array;
//   - an accepted document is a JSON array with as many entries as were read;
//   - every imported user has a canonical lowercase UUID, at least one email, exactly one
//     primary, no two addresses equal ignoring case, a non-empty username if any, and a
//     password hash only of a supported kind ($2a$/$2b$/$2y$/$argon2id$);
//   - deterministic and independent of batching: the same bytes streamed from an istream in
//     one batch into a second fresh store give the same report and the same users (up to
//     the UUIDs generated for entries without user_id);
//   - a re-run imports nothing that was imported (only entries without user_id can be new);
//   - export round trip: importing ExportUsers' output into a fresh store imports every user,
//     skips nothing, and exports byte-identically.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <sstream>
#include <string_view>

#include "absl/strings/ascii.h"
#include "nlohmann/json.hpp"
#include "server/user_transfer.h"
#include "server/uuid.h"
#include "storage/memory_store.h"
#include "tests/fuzz/json_oracle.h"
#include "tests/unit/fakes.h"

namespace {

using passgate::server::ExportUsersToString;
using passgate::server::ImportOptions;
using passgate::server::ImportReport;
using passgate::server::ImportUsers;
using passgate::server::IsCanonicalUuid;
using passgate::storage::NewMemoryStore;
using passgate::storage::Store;
using passgate::testing::FakeClock;

bool HasControlByte(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

void CheckReportLines(const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    PASSGATE_FUZZ_CHECK(line.starts_with("entry ") && line.find(": ") != std::string::npos);
    PASSGATE_FUZZ_CHECK(!HasControlByte(line));
  }
}

// Users lists the store's users as comparable text; generated ids are blanked when
// `blank_generated` holds the ids the input itself did not name.
std::string Users(Store& store, const std::set<std::string>& named_ids) {
  auto users = store.ListUsers();
  PASSGATE_FUZZ_CHECK(users.ok());
  std::vector<std::string> out;
  for (const auto& user : *users) {
    std::string line = named_ids.contains(user.id) ? user.id : "<generated>";
    for (const auto& email : user.emails) {
      line += "|" + email.address + (email.is_primary ? "+p" : "") + (email.is_verified ? "+v" : "");
    }
    line += "|" + user.username.value_or("<none>");
    auto password = store.FindPassword(user.id);
    PASSGATE_FUZZ_CHECK(password.ok());
    line += "|" + (password->has_value() ? (*password)->hash : "<none>");
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  std::string joined;
  for (const std::string& line : out) joined += line + "\n";
  return joined;
}

void CheckUsers(Store& store) {
  auto users = store.ListUsers();
  PASSGATE_FUZZ_CHECK(users.ok());
  for (const auto& user : *users) {
    PASSGATE_FUZZ_CHECK(IsCanonicalUuid(user.id));
    PASSGATE_FUZZ_CHECK(!user.emails.empty());
    int primaries = 0;
    std::set<std::string> seen;
    for (const auto& email : user.emails) {
      primaries += email.is_primary ? 1 : 0;
      PASSGATE_FUZZ_CHECK(!email.address.empty());
      PASSGATE_FUZZ_CHECK(seen.insert(absl::AsciiStrToLower(email.address)).second);
    }
    PASSGATE_FUZZ_CHECK(primaries == 1);
    PASSGATE_FUZZ_CHECK(!user.username || !user.username->empty());
    auto password = store.FindPassword(user.id);
    PASSGATE_FUZZ_CHECK(password.ok());
    if (password->has_value()) {
      const std::string& hash = (*password)->hash;
      PASSGATE_FUZZ_CHECK(hash.starts_with("$2a$") || hash.starts_with("$2b$") ||
                          hash.starts_with("$2y$") || hash.starts_with("$argon2id$"));
      PASSGATE_FUZZ_CHECK((*password)->user_id == user.id);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const FakeClock clock;
  // Small batches, so the inputs cross batch boundaries.
  ImportOptions options;
  options.batch_size = 3;

  const std::unique_ptr<Store> store = NewMemoryStore();
  const ImportReport report = ImportUsers(*store, text, clock, options);
  CheckReportLines(report.skipped);
  CheckReportLines(report.already_present);
  CheckReportLines(report.ignored);
  PASSGATE_FUZZ_CHECK(report.skipped.size() == report.skipped_count);
  PASSGATE_FUZZ_CHECK(report.already_present.size() == report.already_present_count);
  PASSGATE_FUZZ_CHECK(report.ignored.size() == report.ignored_count);
  PASSGATE_FUZZ_CHECK(report.imported + report.skipped_count + report.already_present_count ==
                      report.entries);
  PASSGATE_FUZZ_CHECK(store->ListUsers()->size() == report.imported);
  CheckUsers(*store);

  // The same bytes through the istream path, in one batch: same outcome (the batch size
  // never changes what is imported or reported).
  std::set<std::string> named_ids;
  const std::unique_ptr<Store> again = NewMemoryStore();
  std::istringstream in{std::string(text)};
  const ImportReport report_again = ImportUsers(*again, in, clock);
  PASSGATE_FUZZ_CHECK(report_again.error == report.error);
  PASSGATE_FUZZ_CHECK(report_again.imported == report.imported);
  PASSGATE_FUZZ_CHECK(report_again.skipped == report.skipped);
  PASSGATE_FUZZ_CHECK(report_again.already_present == report.already_present);
  PASSGATE_FUZZ_CHECK(report_again.ignored == report.ignored);

  const nlohmann::json document = nlohmann::json::parse(text, nullptr, false);
  if (!report.error.ok()) {
    // Refused or stopped: kInvalidArgument with a message, and only what came before the fault.
    PASSGATE_FUZZ_CHECK(report.error.code() == absl::StatusCode::kInvalidArgument);
    PASSGATE_FUZZ_CHECK(!report.error.message().empty());
    PASSGATE_FUZZ_CHECK(!HasControlByte(std::string(report.error.message())));
    PASSGATE_FUZZ_CHECK(document.is_discarded() || !document.is_array());
    return 0;
  }
  PASSGATE_FUZZ_CHECK(document.is_array());
  PASSGATE_FUZZ_CHECK(report.entries == document.size());
  for (const auto& entry : document) {
    if (entry.is_object() && entry.contains("user_id") && entry["user_id"].is_string()) {
      named_ids.insert(entry["user_id"].get<std::string>());
    }
  }
  PASSGATE_FUZZ_CHECK(Users(*again, named_ids) == Users(*store, named_ids));

  // Import the same document again: nothing new, every imported user with a user_id is
  // already present.
  const ImportReport rerun = ImportUsers(*store, text, clock, options);
  PASSGATE_FUZZ_CHECK(rerun.error.ok());
  PASSGATE_FUZZ_CHECK(rerun.imported == 0);
  PASSGATE_FUZZ_CHECK(store->ListUsers()->size() == report.imported);

  // Export, import the export, export again: nothing lost, nothing changed.
  const absl::StatusOr<std::string> exported = ExportUsersToString(*again);
  PASSGATE_FUZZ_CHECK(exported.ok());
  PASSGATE_FUZZ_CHECK(nlohmann::json::parse(*exported).dump(2) + "\n" == *exported);
  const std::unique_ptr<Store> round_trip = NewMemoryStore();
  const ImportReport reimported = ImportUsers(*round_trip, *exported, clock, options);
  PASSGATE_FUZZ_CHECK(reimported.error.ok());
  PASSGATE_FUZZ_CHECK(reimported.imported == report.imported);
  PASSGATE_FUZZ_CHECK(reimported.skipped.empty() && reimported.ignored.empty() &&
                      reimported.already_present.empty());
  const absl::StatusOr<std::string> exported_again = ExportUsersToString(*round_trip);
  PASSGATE_FUZZ_CHECK(exported_again.ok() && *exported_again == *exported);
  return 0;
}
