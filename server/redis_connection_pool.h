#ifndef PASSGATE_SERVER_REDIS_CONNECTION_POOL_H_
#define PASSGATE_SERVER_REDIS_CONNECTION_POOL_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

// hiredis' types, declared here so that only redis_connection_pool.cc sees hiredis.h.
struct redisContext;
struct redisReply;

namespace passgate::server {

// RedisConnectionPool holds at most `max_connections` blocking hiredis connections to one
// Redis. Connections are made on demand (connect with a timeout, then AUTH when a password
// is set), reused, and closed as soon as one fails on the wire; the next call connects anew,
// so service resumes by itself once Redis is back (e.g. after a restart). Nothing is
// connected at construction: a Redis that is down then does not stop the caller from
// starting. Thread-safe; each connection is used by one call at a time.
//
//   RedisConnectionPool::Options options;
//   options.address = "127.0.0.1:6379";
//   RedisConnectionPool pool(options);
//   auto reply = pool.Command({"PING"}, pool.DeadlineFromNow());
//   if (!reply.ok()) ... Redis unreachable (reply.status() names the address and the cause)
class RedisConnectionPool {
 public:
  struct Options {
    std::string address;   // host:port or [ipv6]:port. REQUIRES: a valid address
    std::string password;  // sent with AUTH when non-empty; never logged or returned
    // Bounds one Command as a whole: waiting for a free connection, connecting, AUTH, the
    // command and its reply; not the DNS lookup of a host name, which hiredis does with the
    // blocking getaddrinfo on each new connection. Default: 250 ms. REQUIRES: >= 1 ms.
    std::chrono::milliseconds timeout{250};
    int max_connections = 8;  // REQUIRES: >= 1
  };
  using Deadline = std::chrono::steady_clock::time_point;

  struct ReplyDeleter {
    void operator()(redisReply* reply) const;
  };
  // Reply owns one reply: an array, integer, string, status, nil or a Redis error reply.
  using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

  explicit RedisConnectionPool(Options options);
  ~RedisConnectionPool();  // closes the idle connections. REQUIRES: no Command running
  RedisConnectionPool(const RedisConnectionPool&) = delete;
  RedisConnectionPool& operator=(const RedisConnectionPool&) = delete;

  // DeadlineFromNow is now + options.timeout.
  Deadline DeadlineFromNow() const;

  // Command sends one command (each argument binary-safe, so no quoting or injection) and
  // returns the reply, which may be a Redis error reply (type REDIS_REPLY_ERROR: the server
  // answered). kUnavailable, with a message naming the address and the cause (never the
  // password), when no connection was free or could be made and authenticated before
  // `deadline`, or when the command failed on the wire or timed out; that connection is
  // closed. SIGPIPE from a dead peer is kept from the process.
  absl::StatusOr<Reply> Command(const std::vector<std::string_view>& args, Deadline deadline);

  const std::string& address() const { return options_.address; }

 private:
  absl::StatusOr<redisContext*> Connect(Deadline deadline);
  absl::Status Unavailable(std::string_view cause) const;
  // Release returns a healthy connection to the pool, or closes a broken one (`broken`),
  // and wakes one waiting call.
  void Release(redisContext* context, bool broken);

  const Options options_;
  std::string host_;
  int port_ = 0;
  std::mutex mu_;  // std::mutex: visible to ThreadSanitizer (see worker_pool.h)
  std::condition_variable freed_;
  std::vector<redisContext*> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // connections idle, in use or being made
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_REDIS_CONNECTION_POOL_H_
