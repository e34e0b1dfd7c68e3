#include "tools/passgate_bench/argon2_reused_buffer.h"

#include <argon2.h>
#include <sodium.h>
#include <sys/mman.h>

#include <cstddef>

#include "absl/strings/str_cat.h"

namespace passgate::bench {
namespace {

// ThreadBuffer is one thread's Argon2 memory, mapped (and faulted in) on first use and kept
// for the thread's life; libargon2 wipes it after each computation, as libsodium does.
struct ThreadBuffer {
  std::uint8_t* memory = nullptr;
  std::size_t size = 0;
  ~ThreadBuffer() {
    if (memory != nullptr) munmap(memory, size);
  }
};
thread_local ThreadBuffer buffer;

int Allocate(std::uint8_t** memory, std::size_t bytes) {
  if (buffer.size < bytes) {
    if (buffer.memory != nullptr) munmap(buffer.memory, buffer.size);
    void* mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mapped == MAP_FAILED) {
      buffer = {};
      return ARGON2_MEMORY_ALLOCATION_ERROR;
    }
    buffer.memory = static_cast<std::uint8_t*>(mapped);
    buffer.size = bytes;
  }
  *memory = buffer.memory;
  return ARGON2_OK;
}

void Keep(std::uint8_t*, std::size_t) {}  // the block stays with the thread

constexpr std::uint8_t kSalt[16] = {'p', 'a', 's', 's', 'g', 'a', 't', 'e',
                                    'b', 'e', 'n', 'c', 'h', 's', 'l', 't'};

}  // namespace

Argon2idReusedBuffer::Argon2idReusedBuffer(std::uint32_t memory_kib, std::uint32_t iterations)
    : memory_kib_(memory_kib), iterations_(iterations) {}

absl::StatusOr<std::array<std::uint8_t, 32>> Argon2idReusedBuffer::Hash(
    std::string_view password) const {
  std::array<std::uint8_t, 32> tag;
  argon2_context context{};
  context.out = tag.data();
  context.outlen = tag.size();
  // libargon2 takes a non-const pointer but does not write the password without
  // ARGON2_FLAG_CLEAR_PASSWORD, which is not set.
  context.pwd = reinterpret_cast<std::uint8_t*>(const_cast<char*>(password.data()));
  context.pwdlen = static_cast<std::uint32_t>(password.size());
  context.salt = const_cast<std::uint8_t*>(kSalt);
  context.saltlen = sizeof(kSalt);
  context.t_cost = iterations_;
  context.m_cost = memory_kib_;
  context.lanes = 1;
  context.threads = 1;
  context.version = ARGON2_VERSION_13;
  context.allocate_cbk = Allocate;
  context.free_cbk = Keep;
  context.flags = ARGON2_DEFAULT_FLAGS;
  if (const int result = argon2_ctx(&context, Argon2_id); result != ARGON2_OK) {
    return absl::InternalError(absl::StrCat("libargon2: ", argon2_error_message(result)));
  }
  return tag;
}

bool Argon2idReusedBuffer::Verify(std::string_view password,
                                  const std::array<std::uint8_t, 32>& expected) const {
  const absl::StatusOr<std::array<std::uint8_t, 32>> tag = Hash(password);
  return tag.ok() && sodium_memcmp(tag->data(), expected.data(), expected.size()) == 0;
}

}  // namespace passgate::bench
