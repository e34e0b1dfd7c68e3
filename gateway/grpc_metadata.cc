#include "gateway/grpc_metadata.h"

#include <cstddef>

namespace passgate::gateway {

std::string MetadataValue(std::string_view value) {
  constexpr std::size_t kMaxMetadataValue = 1024;
  std::string out(value.substr(0, kMaxMetadataValue));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

void AddMetadataIfPresent(grpc::ClientContext& context, const char* key, std::string_view value) {
  if (!value.empty()) context.AddMetadata(key, MetadataValue(value));
}

}  // namespace passgate::gateway
