#include "server/grpc_server.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/imported_hash.h"
#include "server/log.h"
#include "server/pem_file.h"
#include "server/redis_login_counter.h"

namespace passgate::server {
namespace {

// Login threads beyond the hashing workers: while a login commits its session to the store,
// an overlap thread hashes the next one; hashes stay limited to the workers (HashingSlots).
// Measured with PostgreSQL on 2 cores (docs/benchmarks.md): workers alone left ~18 % of the
// CPU idle, waiting on the durable commit.
constexpr int kOverlapThreads = 2;

// Requests are a UUID, a password and a token: 64 KiB is far above any honest one.
constexpr int kMaxRequestBytes = 64 * 1024;

// Logins are counted inline on gRPC's callback threads, one Redis round trip each; more
// connections than those threads would only sit idle.
constexpr int kRedisConnections = 16;

// ClientCertificates: what a TLS listener asks of its callers.
enum class ClientCertificates { kRequired, kOptional };

// ServerCredentialsFrom: plaintext without a certificate; TLS with one; with a client CA too,
// client certificates are verified against it and required (the public listener), or
// verified when presented (the admin listener, whose callers may use a bearer token instead).
// `key` names the config section in errors.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFrom(
    const Config::Tls& tls, absl::string_view key, ClientCertificates client_certificates) {
  if (tls.cert_file.empty()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadPemFile(absl::StrCat(key, ".cert_file"), tls.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> pem_key = ReadPemFile(absl::StrCat(key, ".key_file"), tls.key_file);
  if (!pem_key.ok()) return pem_key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*pem_key, *cert});
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        ReadPemFile(absl::StrCat(key, ".client_ca_file"), tls.client_ca_file);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        client_certificates == ClientCertificates::kRequired
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

std::unique_ptr<AuditLog> AuditLogFrom(const Config& config) {
  if (!config.audit_log.console_enabled) return std::make_unique<NullAuditLog>();
  return std::make_unique<JsonLinesAuditLog>(config.audit_log.console_output == "stderr" ? stderr
                                                                                         : stdout);
}

LoginLimits LoginLimitsFrom(const Config& config) {
  const Config::RateLimiter& c = config.rate_limiter;
  LoginLimits limits;
  limits.enabled = c.enabled;
  limits.per_user_and_ip = {c.password_limits.tokens, c.password_limits.interval};
  limits.per_ip = {c.ip_limits.tokens, c.ip_limits.interval};
  limits.per_user = {c.user_limits.tokens, c.user_limits.interval};
  limits.max_keys = static_cast<std::size_t>(c.max_keys);
  limits.on_unavailable = c.redis.on_unavailable == "too_many_requests"
                              ? StoreUnavailableAnswer::kTooManyRequests
                              : StoreUnavailableAnswer::kUnavailable;
  return limits;
}

std::unique_ptr<LoginRateLimiter> LoginRateLimiterFrom(const Config& config, const Clock& clock) {
  const Config::RateLimiter& c = config.rate_limiter;
  if (!c.enabled) return nullptr;
  if (c.store != "redis") return std::make_unique<LoginRateLimiter>(LoginLimitsFrom(config), clock);
  RedisLoginCounter::Options options;
  options.connection.address = c.redis.address;
  options.connection.password = c.redis.password;
  options.connection.timeout = std::chrono::milliseconds(c.redis.timeout_ms);
  options.connection.max_connections = kRedisConnections;
  options.key_prefix = c.redis.key_prefix;
  return std::make_unique<LoginRateLimiter>(LoginLimitsFrom(config), clock,
                                            std::make_unique<RedisLoginCounter>(options));
}

GrpcServer::GrpcServer(Runtime& runtime)
    : runtime_(runtime),
      audit_(AuditLogFrom(runtime.config)),
      tokens_(*runtime.store, *runtime.keys, runtime.clock, SessionPolicyFrom(runtime.config)),
      login_(*runtime.store, *runtime.hasher, tokens_, runtime.clock, *audit_),
      password_change_(*runtime.store, *runtime.hasher, runtime.clock,
                       runtime.config.password.min_length, *audit_,
                       runtime.config.password.revoke_sessions_on_change),
      identity_(runtime.config.grpc.trusted_peers),
      limiter_(LoginRateLimiterFrom(runtime.config, runtime.clock)),
      hashing_slots_(HashingWorkers(runtime.config)),
      pool_(HashingWorkers(runtime.config), HashingQueue(runtime.config), kOverlapThreads),
      service_(PasswordAuthService::Dependencies{*runtime.store, *runtime.keys, tokens_, login_,
                                                 password_change_, pool_, hashing_slots_, identity_,
                                                 runtime.config.password.enabled,
                                                 limiter_.get()}),
      admin_auth_(runtime.config.admin.tokens),
      admin_service_(UserAdminService::Dependencies{
          *runtime.store, *runtime.hasher, hashing_slots_, runtime.clock, *audit_, identity_,
          admin_auth_, runtime.config.password.min_length,
          [limits = HashLimitsFrom(runtime.config)](std::string_view hash) {
            return CheckImportableHash(hash, limits);
          }}) {}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(Runtime& runtime) {
  std::unique_ptr<GrpcServer> server(new GrpcServer(runtime));
  // The health service is listed by reflection; referencing its descriptor links the
  // vendored health.pb.cc so reflection can also describe it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentialsFrom(runtime.config.grpc.tls, "server.grpc.tls",
                            ClientCertificates::kRequired);
  if (!credentials.ok()) return credentials.status();
  grpc::ServerBuilder builder;
  const std::string& address = runtime.config.grpc.address;
  builder.AddListeningPort(address, *credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("server.grpc.address: cannot listen on ", address));
  }
  Log(LogLevel::kInfo, "grpc listening",
      {{"address", address}, {"port", server->port_}, {"hashing_workers", server->pool_.threads()},
       {"hashing_queue", server->pool_.queue_capacity()},
       {"rate_limiter", server->limiter_ != nullptr},
       {"rate_limiter_store", runtime.config.rate_limiter.store},
       {"tls", !runtime.config.grpc.tls.cert_file.empty()}});
  if (absl::Status admin = server->StartAdmin(); !admin.ok()) return admin;
  return server;
}

absl::Status GrpcServer::StartAdmin() {
  const Config::Admin& admin = runtime_.config.admin;
  if (!admin.enabled()) return absl::OkStatus();
  grpc::ServerBuilder builder;
  if (!admin.grpc_address.empty()) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        ServerCredentialsFrom(admin.tls, "server.admin.tls", ClientCertificates::kOptional);
    if (!credentials.ok()) return credentials.status();
    builder.AddListeningPort(admin.grpc_address, *credentials, &admin_port_);
  }
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  builder.RegisterService(&admin_service_);
  admin_server_ = builder.BuildAndStart();
  if (admin_server_ == nullptr || (!admin.grpc_address.empty() && admin_port_ == 0)) {
    return absl::UnavailableError(
        absl::StrCat("server.admin.grpc_address: cannot listen on ", admin.grpc_address));
  }
  if (admin.tokens.empty() && admin.tls.client_ca_file.empty()) {
    Log(LogLevel::kWarning, "admin API has no credentials configured: every call is refused",
        {{"hint", "set server.admin.auth.tokens, PASSGATE_ADMIN_TOKEN or "
                  "server.admin.tls.client_ca_file"}});
  }
  if (!admin.grpc_address.empty()) {
    Log(LogLevel::kInfo, "admin grpc listening",
        {{"address", admin.grpc_address}, {"port", admin_port_},
         {"tls", !admin.tls.cert_file.empty()}, {"mtls", !admin.tls.client_ca_file.empty()},
         {"tokens", static_cast<int>(admin.tokens.size())}});
  }
  return absl::OkStatus();
}

GrpcServer::~GrpcServer() { Shutdown(); }

std::shared_ptr<grpc::Channel> GrpcServer::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

std::shared_ptr<grpc::Channel> GrpcServer::AdminInProcessChannel() {
  if (admin_server_ == nullptr) return nullptr;
  return admin_server_->InProcessChannel(grpc::ChannelArguments());
}

void GrpcServer::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  for (grpc::Server* server : {server_.get(), admin_server_.get()}) {
    if (server == nullptr) continue;
    if (auto* health = server->GetHealthCheckService()) health->Shutdown();
  }
  const auto deadline = std::chrono::system_clock::now() + runtime_.config.grpc.shutdown_grace;
  if (admin_server_ != nullptr) admin_server_->Shutdown(deadline);
  server_->Shutdown(deadline);
  server_->Wait();
  if (admin_server_ != nullptr) admin_server_->Wait();
  pool_.Shutdown();
  Log(LogLevel::kInfo, "grpc stopped");
}

}  // namespace passgate::server
