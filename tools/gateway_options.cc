#include "tools/gateway_options.h"

#include "server/pem_file.h"

namespace passgate::tools {

gateway::GatewayOptions GatewayOptionsFrom(const server::Config& config) {
  gateway::GatewayOptions options;
  options.password_enabled = config.password.enabled;
  options.enable_auth_token_header = config.session.enable_auth_token_header;
  options.cookie.name = config.session.cookie.name;
  options.cookie.domain = config.session.cookie.domain;
  options.cookie.http_only = config.session.cookie.http_only;
  options.cookie.secure = config.session.cookie.secure;
  options.cookie.same_site = config.session.cookie.same_site;
  options.cors_allow_origins = config.public_api.cors_allow_origins;
  options.cors_unsafe_wildcard_origin_allowed =
      config.public_api.cors_unsafe_wildcard_origin_allowed;
  options.trusted_proxies = config.public_api.trusted_proxies;
  return options;
}

gateway::HttpServerOptions HttpServerOptionsFrom(const server::Config& config) {
  const server::Config::Public& p = config.public_api;
  gateway::HttpServerOptions options;
  options.address = p.address;
  options.max_body_bytes = static_cast<std::size_t>(p.max_body_bytes);
  options.max_header_bytes = static_cast<std::size_t>(p.max_header_bytes);
  options.read_timeout = p.read_timeout;
  options.idle_timeout = p.idle_timeout;
  options.max_connections = p.max_connections;
  options.threads = p.threads;
  options.tls_cert_file = p.tls.cert_file;
  options.tls_key_file = p.tls.key_file;
  return options;
}

gateway::HttpServerOptions AdminHttpServerOptionsFrom(const server::Config& config) {
  gateway::HttpServerOptions options = HttpServerOptionsFrom(config);
  const server::Config::Admin& admin = config.admin;
  options.address = admin.address;
  options.tls_cert_file = admin.tls.cert_file;
  options.tls_key_file = admin.tls.key_file;
  options.tls_client_ca_file = admin.tls.client_ca_file;
  return options;
}

gateway::AdminApiOptions AdminApiOptionsFrom(const server::Config& config) {
  gateway::AdminApiOptions options;
  options.deadline =
      std::chrono::duration_cast<std::chrono::milliseconds>(config.public_api.upstream_deadline);
  return options;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> UpstreamChannel(const server::Config& config) {
  const server::Config::Tls& tls = config.public_api.upstream_tls;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (tls.client_ca_file.empty() && tls.cert_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    if (!tls.client_ca_file.empty()) {
      absl::StatusOr<std::string> ca =
          server::ReadPemFile("server.public.upstream.tls.client_ca_file", tls.client_ca_file);
      if (!ca.ok()) return ca.status();
      options.pem_root_certs = *ca;
    }
    if (!tls.cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          server::ReadPemFile("server.public.upstream.tls.cert_file", tls.cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key =
          server::ReadPemFile("server.public.upstream.tls.key_file", tls.key_file);
      if (!key.ok()) return key.status();
      options.pem_cert_chain = *cert;
      options.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(options);
  }
  return grpc::CreateChannel(config.public_api.upstream_address, credentials);
}

}  // namespace passgate::tools
