#ifndef PASSGATE_TOOLS_GATEWAY_OPTIONS_H_
#define PASSGATE_TOOLS_GATEWAY_OPTIONS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "gateway/admin_api.h"
#include "gateway/http_server.h"
#include "gateway/password_api.h"
#include "grpcpp/grpcpp.h"
#include "server/config.h"

namespace passgate::tools {

// The gateway never sees server/ types: these translate the parsed Config into its options.
gateway::GatewayOptions GatewayOptionsFrom(const server::Config& config);
gateway::HttpServerOptions HttpServerOptionsFrom(const server::Config& config);
// The admin HTTP listener (server.admin.address): TLS and client certificates from
// server.admin.tls, request limits and timeouts as on the public listener.
gateway::HttpServerOptions AdminHttpServerOptionsFrom(const server::Config& config);
gateway::AdminApiOptions AdminApiOptionsFrom(const server::Config& config);

// UpstreamChannel opens the gateway's channel to a separately running service
// (server.public.upstream.*): plaintext, TLS verified against the configured CA, or mTLS.
absl::StatusOr<std::shared_ptr<grpc::Channel>> UpstreamChannel(const server::Config& config);

}  // namespace passgate::tools

#endif  // PASSGATE_TOOLS_GATEWAY_OPTIONS_H_
