#ifndef PASSGATE_SERVER_SODIUM_INIT_H_
#define PASSGATE_SERVER_SODIUM_INIT_H_

namespace passgate::server {

// EnsureSodium initialises libsodium once per process (thread-safe) before its first use;
// aborts if it cannot, since every password and token operation depends on it.
void EnsureSodium();

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_SODIUM_INIT_H_
