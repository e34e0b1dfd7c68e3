#ifndef PASSGATE_STORAGE_MEMORY_STORE_H_
#define PASSGATE_STORAGE_MEMORY_STORE_H_

#include <memory>

#include "storage/store.h"

namespace passgate::storage {

// NewMemoryStore returns an in-memory Store with the same semantics as the SQLite one
// (uniqueness, cascades, session limit). For unit tests of the classes above storage.
std::unique_ptr<Store> NewMemoryStore();

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_MEMORY_STORE_H_
