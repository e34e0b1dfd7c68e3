#include "server/admin_auth.h"

#include <sodium.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "server/client_identity.h"
#include "server/sodium_init.h"

namespace passgate::server {
namespace {

absl::Status Unauthorized() { return absl::UnauthenticatedError("Unauthorized"); }

// Printable keeps a certificate name safe for logs: printable ASCII, at most 128 bytes.
bool Printable(std::string_view value) {
  if (value.empty() || value.size() > 128) return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

AdminAuthenticator::AdminAuthenticator(
    const std::vector<std::pair<std::string, std::string>>& tokens) {
  EnsureSodium();
  randombytes_buf(key_.data(), key_.size());
  for (const auto& [name, token] : tokens) tokens_.emplace_back(name, DigestOf(token));
}

AdminAuthenticator::Digest AdminAuthenticator::DigestOf(std::string_view token) const {
  Digest digest;
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     key_.data(), key_.size());
  return digest;
}

absl::StatusOr<std::string> AdminAuthenticator::CallerForToken(std::string_view token) const {
  if (token.empty()) return Unauthorized();
  const Digest digest = DigestOf(token);
  const std::string* caller = nullptr;
  // Every configured token is compared, match or not, so timing does not say which matched.
  for (const auto& [name, expected] : tokens_) {
    if (sodium_memcmp(expected.data(), digest.data(), digest.size()) == 0) caller = &name;
  }
  if (caller == nullptr) return Unauthorized();
  return "token:" + *caller;
}

absl::StatusOr<std::string> AdminAuthenticator::Authenticate(
    const grpc::ServerContextBase& context) const {
  // A certificate gRPC verified (server.admin.tls.client_ca_file).
  if (std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
      auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const grpc::string_ref& name : auth->FindPropertyValues("x509_common_name")) {
      const std::string_view cn(name.data(), name.size());
      if (Printable(cn)) return "cert:" + std::string(cn);
    }
  }
  // A certificate the HTTP admin listener verified, relayed in-process only.
  if (std::string_view cn = MetadataValue(context, kAdminClientCertMetadata);
      !cn.empty() && IsInProcessPeer(context.peer())) {
    if (Printable(cn)) return "cert:" + std::string(cn);
  }
  return CallerForToken(BearerToken(MetadataValue(context, "authorization")));
}

}  // namespace passgate::server
