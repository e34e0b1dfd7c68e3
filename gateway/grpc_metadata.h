#ifndef PASSGATE_GATEWAY_GRPC_METADATA_H_
#define PASSGATE_GATEWAY_GRPC_METADATA_H_

#include <string>
#include <string_view>

#include "grpcpp/client_context.h"

namespace passgate::gateway {

// MetadataValue makes an HTTP client's header value safe to send as gRPC metadata: at most
// 1 KiB, bytes outside 0x20..0x7e replaced by '?'. gRPC core rejects a non-binary metadata
// value with such a byte, and the C++ callback API turns that rejection into an assertion
// failure, so one odd User-Agent could otherwise abort the process.
std::string MetadataValue(std::string_view value);

// AddMetadataIfPresent adds `key: MetadataValue(value)` to the call unless `value` is empty.
void AddMetadataIfPresent(grpc::ClientContext& context, const char* key, std::string_view value);

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_GRPC_METADATA_H_
