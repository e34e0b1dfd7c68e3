#include "server/redis_connection_pool.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace passgate::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Remaining is the time left until `deadline`, at least 1 ms: hiredis reads a zero timeout
// as "wait forever".
timeval Remaining(RedisConnectionPool::Deadline deadline) {
  const auto left = std::max(
      std::chrono::duration_cast<std::chrono::microseconds>(deadline - steady_clock::now()),
      std::chrono::microseconds(1000));
  timeval tv;
  tv.tv_sec = static_cast<time_t>(left.count() / 1'000'000);
  tv.tv_usec = static_cast<suseconds_t>(left.count() % 1'000'000);
  return tv;
}

// WireError describes why a call on `context` failed; hiredis reports a socket timeout as
// EAGAIN's text.
std::string WireError(const redisContext* context) {
  if (context->err == REDIS_ERR_IO && std::strcmp(context->errstr, std::strerror(EAGAIN)) == 0) {
    return "timed out";
  }
  if (context->err == REDIS_ERR_EOF) return "connection closed by Redis";
  return context->errstr;
}

// SigpipeBlock keeps SIGPIPE, which a write to a connection that Redis closed raises (hiredis
// writes without MSG_NOSIGNAL), from killing the process: the signal is blocked in this
// thread for the scope, and one it raised is consumed before the old mask returns.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

redisReply* SendArgv(redisContext* context, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (std::string_view arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
}

}  // namespace

void RedisConnectionPool::ReplyDeleter::operator()(redisReply* reply) const {
  freeReplyObject(reply);
}

RedisConnectionPool::RedisConnectionPool(Options options) : options_(std::move(options)) {
  // The config checked the address; split it as hiredis wants it (no IPv6 brackets).
  const std::size_t colon = options_.address.rfind(':');
  host_ = options_.address.substr(0, colon);
  if (host_.size() >= 2 && host_.front() == '[' && host_.back() == ']') {
    host_ = host_.substr(1, host_.size() - 2);
  }
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(options_.address).substr(colon + 1), &port_)) {
    port_ = 0;
  }
}

RedisConnectionPool::~RedisConnectionPool() {
  for (redisContext* context : idle_) redisFree(context);
}

RedisConnectionPool::Deadline RedisConnectionPool::DeadlineFromNow() const {
  return steady_clock::now() + options_.timeout;
}

absl::Status RedisConnectionPool::Unavailable(std::string_view cause) const {
  return absl::UnavailableError(absl::StrCat("redis ", options_.address, ": ",
                                             absl::string_view(cause.data(), cause.size())));
}

absl::StatusOr<redisContext*> RedisConnectionPool::Connect(Deadline deadline) {
  if (port_ <= 0) return Unavailable("invalid address");
  redisContext* context = redisConnectWithTimeout(host_.c_str(), port_, Remaining(deadline));
  if (context == nullptr) return Unavailable("connect: out of memory");
  if (context->err != 0) {
    const std::string why = WireError(context);
    redisFree(context);
    return Unavailable(absl::StrCat("connect: ", why));
  }
  if (!options_.password.empty()) {
    redisSetTimeout(context, Remaining(deadline));
    Reply reply(SendArgv(context, {"AUTH", options_.password}));
    if (reply == nullptr) {
      const std::string why = WireError(context);
      redisFree(context);
      return Unavailable(absl::StrCat("AUTH: ", why));
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      // Redis' own text ("WRONGPASS invalid username-password pair ..."), never the password.
      const std::string why(reply->str, reply->len);
      redisFree(context);
      return Unavailable(absl::StrCat("AUTH refused: ", why));
    }
  }
  return context;
}

void RedisConnectionPool::Release(redisContext* context, bool broken) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken || context == nullptr) {
      --open_;
    } else {
      idle_.push_back(context);
    }
  }
  if (broken && context != nullptr) redisFree(context);
  freed_.notify_one();
}

absl::StatusOr<RedisConnectionPool::Reply> RedisConnectionPool::Command(
    const std::vector<std::string_view>& args, Deadline deadline) {
  SigpipeBlock no_sigpipe;
  // An idle connection that Redis closed meanwhile (a restart, its idle timeout) fails at
  // once without running the command: then try once more, on a new connection.
  for (int attempt = 0;; ++attempt) {
    redisContext* context = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!freed_.wait_until(lock, deadline, [this] {
            return !idle_.empty() || open_ < options_.max_connections;
          })) {
        return Unavailable(absl::StrCat("timed out waiting for one of ", options_.max_connections,
                                        " connections"));
      }
      if (!idle_.empty() && attempt == 0) {
        context = idle_.back();
        idle_.pop_back();
      } else if (open_ < options_.max_connections) {
        ++open_;  // this call makes the connection, outside the lock
      } else {
        // The retry found only idle connections, as stale as the first may be: close one.
        context = idle_.back();
        idle_.pop_back();
        lock.unlock();
        redisFree(context);
        context = nullptr;
      }
    }
    const bool reused = context != nullptr;
    if (!reused) {
      absl::StatusOr<redisContext*> made = Connect(deadline);
      if (!made.ok()) {
        Release(nullptr, /*broken=*/true);
        return made.status();
      }
      context = *made;
    }
    redisSetTimeout(context, Remaining(deadline));
    Reply reply(SendArgv(context, args));
    if (reply != nullptr) {
      Release(context, /*broken=*/false);
      return reply;
    }
    const bool closed_by_peer = context->err == REDIS_ERR_EOF ||
                                (context->err == REDIS_ERR_IO &&
                                 (std::strcmp(context->errstr, std::strerror(ECONNRESET)) == 0 ||
                                  std::strcmp(context->errstr, std::strerror(EPIPE)) == 0));
    const std::string why = WireError(context);
    Release(context, /*broken=*/true);
    if (!(reused && closed_by_peer && attempt == 0 && steady_clock::now() < deadline)) {
      return Unavailable(why);
    }
  }
}

}  // namespace passgate::server
