#ifndef PASSGATE_SERVER_UUID_H_
#define PASSGATE_SERVER_UUID_H_

#include <string>
#include <string_view>

namespace passgate::server {

// NewUuidV4 returns a random (libsodium CSPRNG) version 4 UUID, lowercase and hyphenated.
std::string NewUuidV4();

// IsCanonicalUuid accepts exactly what Hanko's `uuid` validator accepts: 8-4-4-4-12 lowercase
// hex digits with hyphens, any version. Uppercase, braces or missing hyphens are rejected.
bool IsCanonicalUuid(std::string_view text);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_UUID_H_
