#ifndef PASSGATE_SERVER_USER_TRANSFER_H_
#define PASSGATE_SERVER_USER_TRANSFER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "server/clock.h"
#include "storage/store.h"

namespace passgate::server {

// Hanko's user import/export format (`hanko user import`, reference §9): a JSON array of
//   {"user_id"?, "emails":[{"address","is_primary","is_verified"}], "username"?,
//    "password"?: {"password": "<hash>", "created_at"?, "updated_at"?},
//    "created_at"?, "updated_at"?}

struct ImportReport {
  std::size_t imported = 0;
  // One line per entry not imported: "entry 3 (user_id …): <reason>".
  std::vector<std::string> skipped;
  // One line per entry whose unsupported members were dropped, e.g.
  // "entry 0 (user_id …): ignored webauthn_credentials, otp_secret".
  std::vector<std::string> ignored;
};

// ImportUsers validates each entry and creates its user, emails and password in one
// transaction. Entries are independent: a bad or duplicate entry is skipped with a reason and
// the rest go on. Password hashes are kept as they are (bcrypt $2a$/$2b$/$2y$ or Argon2id;
// anything else skips the entry). A missing user_id gets a new UUID v4. kInvalidArgument,
// with nothing imported, when the document is not a JSON array; kInternal on storage failure.
absl::StatusOr<ImportReport> ImportUsers(storage::Store& store, std::string_view json,
                                         const Clock& clock);

// ExportUsers writes every user in the same format (pretty-printed), with the stored hash in
// password.password, so the output imports again unchanged.
absl::StatusOr<std::string> ExportUsers(storage::Store& store);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_USER_TRANSFER_H_
