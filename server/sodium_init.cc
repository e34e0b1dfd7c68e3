#include "server/sodium_init.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace passgate::server {

void EnsureSodium() {
  static const bool initialized = sodium_init() >= 0;
  if (!initialized) {
    std::fputs("passgate: sodium_init failed\n", stderr);
    std::abort();
  }
}

}  // namespace passgate::server
