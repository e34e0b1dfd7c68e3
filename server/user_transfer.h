#ifndef PASSGATE_SERVER_USER_TRANSFER_H_
#define PASSGATE_SERVER_USER_TRANSFER_H_

#include <cstddef>
#include <functional>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/clock.h"
#include "server/imported_hash.h"
#include "storage/store.h"

namespace passgate::server {

// Hanko's user import/export format (`hanko user import`, reference §9): a JSON array of
//   {"user_id"?, "emails":[{"address","is_primary","is_verified"}], "username"?,
//    "password"?: {"password": "<hash>", "created_at"?, "updated_at"?},
//    "created_at"?, "updated_at"?}

// ImportLineKind says what a report line is about.
enum class ImportLineKind {
  kSkipped,         // the entry was not imported: invalid, or it conflicts with another user
  kAlreadyPresent,  // the entry was not imported: a user with its id and the same emails,
                    // username and password hash is already stored (a re-run)
  kIgnored,         // the entry was imported; members passgate does not use were dropped
};

struct ImportReport;

struct ImportOptions {
  // What an imported hash may cost (see CheckImportableHash).
  HashLimits hash_limits;
  // Entries per store transaction (Store::CreateUsers). REQUIRES: >= 1.
  std::size_t batch_size = 10000;
  // Receives every report line as it happens ("entry 3 (user_id …): <reason>"), so the
  // report of a million entries is never held in memory. Unset: the lines are collected in
  // ImportReport::skipped, ::already_present and ::ignored.
  std::function<void(ImportLineKind, std::string_view)> on_line;
  // Called after each batch is committed with the report so far (progress).
  std::function<void(const ImportReport&)> on_batch;
};

struct ImportReport {
  std::size_t entries = 0;                // array elements read so far
  std::size_t imported = 0;
  std::size_t already_present_count = 0;  // kAlreadyPresent lines
  std::size_t skipped_count = 0;          // kSkipped lines
  std::size_t ignored_count = 0;          // kIgnored lines
  // The lines, when ImportOptions::on_line is unset (else empty).
  std::vector<std::string> skipped;
  std::vector<std::string> already_present;
  std::vector<std::string> ignored;
  // OK when the whole document was read. Otherwise why the import stopped early:
  // kInvalidArgument when the document is not a JSON array or stops being valid JSON (the
  // message gives the byte offset, never the text there), or the store's error. Entries
  // complete before the fault are imported (committed batches stay, the pending batch is
  // committed), so a corrected file re-imports idempotently.
  absl::Status error;
};

// ImportUsers reads a Hanko-format document incrementally (one array element at a time,
// never the whole document) and creates its users in batches of options.batch_size, one
// store transaction per batch. Entries are independent: a bad entry, or one whose id, email
// or username is taken, is skipped with a reason and the rest go on; an entry whose user_id
// is stored with the same emails, username and password hash is counted as already present
// (so re-running an import after a crash or a fix skips what is done). Password hashes must
// pass CheckImportableHash and are stored unchanged. A missing user_id gets a new UUID v4
// (such entries cannot be recognised by a re-run). Entries with no created_at get the
// clock's time at the start of the import.
ImportReport ImportUsers(storage::Store& store, std::istream& in, const Clock& clock,
                         const ImportOptions& options = {});
ImportReport ImportUsers(storage::Store& store, std::string_view json, const Clock& clock,
                         const ImportOptions& options = {});

// ExportUsers writes every user in the same format (a pretty-printed array, ordered by
// created_at then id), with the stored hash in password.password, so the output imports
// again unchanged. Entries are written as they are read from the store, a page at a time.
// Errors: the store's, or kUnavailable when writing to `out` fails.
absl::Status ExportUsers(storage::Store& store, std::ostream& out);
// ExportUsersToString is ExportUsers into a string (tests, small stores).
absl::StatusOr<std::string> ExportUsersToString(storage::Store& store);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_USER_TRANSFER_H_
