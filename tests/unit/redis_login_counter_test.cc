// RedisLoginCounter against a real Redis: the shared one of the test_servers fixture
// (password-protected), and a private one that a test stops and restarts.
#include "server/redis_login_counter.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/scaleout/test_servers.h"

extern char** environ;

namespace passgate::server {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

// UniquePrefix keeps each test's keys apart from every other test's (and earlier runs').
std::string UniquePrefix() {
  static std::atomic<int> next{0};
  std::random_device device;
  return "passgate-test:" + std::to_string(device()) + "-" + std::to_string(next++) + ":";
}

RedisLoginCounter::Options SharedRedis(const std::string& prefix) {
  const testing::TestServers& servers = testing::SharedTestServers();
  RedisLoginCounter::Options options;
  options.connection.address = servers.redis_address;
  options.connection.password = servers.redis_password;
  options.connection.timeout = std::chrono::milliseconds(5000);  // generous on a loaded box
  options.key_prefix = prefix;
  return options;
}

LoginLimits Limits(int per_user_and_ip, int per_ip, int per_user) {
  LoginLimits limits;
  limits.per_user_and_ip = {per_user_and_ip, seconds(60)};
  limits.per_ip = {per_ip, seconds(60)};
  limits.per_user = {per_user, seconds(120)};
  return limits;
}

const TimePoint kNow = TimePoint(seconds(1'700'000'000));

// RawCommand runs one command on the shared Redis (for inspecting keys).
RedisConnectionPool::Reply RawCommand(const std::vector<std::string_view>& args) {
  const testing::TestServers& servers = testing::SharedTestServers();
  static RedisConnectionPool pool([&servers] {
    RedisConnectionPool::Options options;
    options.address = servers.redis_address;
    options.password = servers.redis_password;
    options.timeout = std::chrono::milliseconds(5000);
    return options;
  }());
  absl::StatusOr<RedisConnectionPool::Reply> reply = pool.Command(args, pool.DeadlineFromNow());
  EXPECT_TRUE(reply.ok()) << reply.status();
  return reply.ok() ? std::move(*reply) : nullptr;
}

void ExpectSameDecision(const RateDecision& redis, const RateDecision& memory,
                        const std::string& what) {
  EXPECT_EQ(redis.allowed, memory.allowed) << what;
  EXPECT_EQ(redis.limit, memory.limit) << what;
  EXPECT_EQ(redis.remaining, memory.remaining) << what;
  // Redis' windows run on its own clock: the reset can only have moved towards 1.
  EXPECT_GE(redis.reset.count(), 1) << what;
  EXPECT_LE(redis.reset, memory.reset) << what;
}

TEST(RedisLoginCounterTest, KeysAreLengthPrefixedSoNoInputCollides) {
  EXPECT_EQ(RedisLoginCounter::Keys("p:", "u-1", "10.0.0.1"),
            (std::array<std::string, 3>{"p:user_ip:3:u-1:8:10.0.0.1", "p:ip:8:10.0.0.1",
                                        "p:user:3:u-1"}));
  // Pairs that naive "prefix:user:ip" keys would confuse.
  const std::pair<std::string, std::string> tricky[] = {
      {"a", "1:b"}, {"a:1", "b"},         {"a:1:b", ""}, {"", "a:1:b"}, {"1:a", "b"},
      {"a", "b"},   {"user_ip:1:a", "b"}, {"ip", "b"},   {"b", "ip"},   {"a:", "b"},
  };
  // Each key must name exactly one input: (user, ip), ip, or user.
  std::map<std::string, std::string> owner;
  for (const auto& [user, ip] : tricky) {
    const std::array<std::string, 3> keys = RedisLoginCounter::Keys("p:", user, ip);
    const std::string inputs[3] = {"user+ip " + user + "\n" + ip, "ip " + ip, "user " + user};
    for (int i = 0; i < 3; ++i) {
      const auto [it, inserted] = owner.emplace(keys[i], inputs[i]);
      EXPECT_EQ(it->second, inputs[i]) << "collision on " << keys[i];
    }
  }
}

TEST(RedisLoginCounterTest, DecidesExactlyLikeTheMemoryCounter) {
  RedisLoginCounter redis(SharedRedis(UniquePrefix()));
  MemoryLoginAttemptCounter memory(10'000);
  const LoginLimits limits = Limits(3, 5, 6);
  const std::string users[] = {"3f1c0a8e-0000-4000-8000-000000000001",
                               "3f1c0a8e-0000-4000-8000-000000000002",
                               "3f1c0a8e-0000-4000-8000-000000000003"};
  const std::string ips[] = {"192.0.2.1", "192.0.2.2", "2001:db8::1"};
  std::mt19937 random(42);  // a fixed sequence that trips each of the three limits
  int refused = 0;
  for (int i = 0; i < 60; ++i) {
    const std::string& user = users[random() % 3];
    const std::string& ip = ips[random() % 3];
    const absl::StatusOr<LoginCounts> r = redis.Count(user, ip, limits, kNow);
    ASSERT_TRUE(r.ok()) << r.status();
    const LoginCounts m = *memory.Count(user, ip, limits, kNow);
    const std::string what = "attempt " + std::to_string(i) + " " + user + " " + ip;
    ExpectSameDecision(r->per_user_and_ip, m.per_user_and_ip, what + " user+ip");
    ExpectSameDecision(r->per_ip, m.per_ip, what + " ip");
    ExpectSameDecision(r->per_user, m.per_user, what + " user");
    if (!m.per_user_and_ip.allowed || !m.per_ip.allowed || !m.per_user.allowed) ++refused;
  }
  EXPECT_GT(refused, 10) << "the sequence must exercise refusals";
}

TEST(RedisLoginCounterTest, CountsDownThenRefusesWithResetHeaders) {
  const std::string prefix = UniquePrefix();
  RedisLoginCounter counter(SharedRedis(prefix));
  const LoginLimits limits = Limits(5, 100, 100);
  for (int i = 0; i < 5; ++i) {
    const absl::StatusOr<LoginCounts> counts = counter.Count("alice", "10.0.0.1", limits, kNow);
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_TRUE(counts->per_user_and_ip.allowed) << i;
    EXPECT_EQ(counts->per_user_and_ip.limit, 5) << i;
    EXPECT_EQ(counts->per_user_and_ip.remaining, 4 - i) << i;
    if (i == 0) {
      EXPECT_EQ(counts->per_user_and_ip.reset, seconds(60)) << "a new window: the interval";
      EXPECT_EQ(counts->per_user.reset, seconds(120));
    }
    EXPECT_GE(counts->per_user_and_ip.reset, seconds(1)) << i;
    EXPECT_LE(counts->per_user_and_ip.reset, seconds(60)) << i;
  }
  const absl::StatusOr<LoginCounts> sixth = counter.Count("alice", "10.0.0.1", limits, kNow);
  ASSERT_TRUE(sixth.ok()) << sixth.status();
  EXPECT_FALSE(sixth->per_user_and_ip.allowed);
  EXPECT_EQ(sixth->per_user_and_ip.remaining, 0);
  EXPECT_GE(sixth->per_user_and_ip.reset, seconds(1));

  // The window lives in Redis with an expiry of the interval; when Redis drops it, the next
  // attempt starts a new window.
  const std::string key = RedisLoginCounter::Keys(prefix, "alice", "10.0.0.1")[0];
  RedisConnectionPool::Reply ttl = RawCommand({"PTTL", key});
  ASSERT_NE(ttl, nullptr);
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 60'000);
  RawCommand({"PEXPIRE", key, "1"});
  for (int i = 0; i < 1000 && RawCommand({"EXISTS", key})->integer != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const absl::StatusOr<LoginCounts> fresh = counter.Count("alice", "10.0.0.1", limits, kNow);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE(fresh->per_user_and_ip.allowed);
  EXPECT_EQ(fresh->per_user_and_ip.remaining, 4);
  EXPECT_EQ(fresh->per_user_and_ip.reset, seconds(60));
}

TEST(RedisLoginCounterTest, RefusedAttemptIsNotCountedButTheOtherLimitsCountIt) {
  const std::string prefix = UniquePrefix();
  RedisLoginCounter counter(SharedRedis(prefix));
  const LoginLimits limits = Limits(2, 100, 100);
  LoginCounts last;
  for (int i = 0; i < 4; ++i) {
    const absl::StatusOr<LoginCounts> counts = counter.Count("bob", "10.0.0.2", limits, kNow);
    ASSERT_TRUE(counts.ok()) << counts.status();
    last = *counts;
  }
  EXPECT_FALSE(last.per_user_and_ip.allowed);
  EXPECT_EQ(last.per_ip.remaining, 96) << "all four attempts counted per IP";
  EXPECT_EQ(last.per_user.remaining, 96) << "all four attempts counted per user";
  const std::array<std::string, 3> keys = RedisLoginCounter::Keys(prefix, "bob", "10.0.0.2");
  RedisConnectionPool::Reply count = RawCommand({"GET", keys[0]});
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(std::string(count->str, count->len), "2") << "refusals are not counted";
  EXPECT_EQ(std::string(RawCommand({"GET", keys[1]})->str), "4");
}

TEST(RedisLoginCounterTest, TwoReplicasShareOneLimit) {
  const std::string prefix = UniquePrefix();
  RedisLoginCounter replica_a(SharedRedis(prefix));
  RedisLoginCounter replica_b(SharedRedis(prefix));
  const LoginLimits limits = Limits(5, 100, 100);
  for (int i = 0; i < 5; ++i) {
    RedisLoginCounter& replica = i % 2 == 0 ? replica_a : replica_b;
    const absl::StatusOr<LoginCounts> counts = replica.Count("carol", "10.0.0.3", limits, kNow);
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_TRUE(counts->per_user_and_ip.allowed) << i;
    EXPECT_EQ(counts->per_user_and_ip.remaining, 4 - i) << i;
  }
  const absl::StatusOr<LoginCounts> sixth = replica_b.Count("carol", "10.0.0.3", limits, kNow);
  ASSERT_TRUE(sixth.ok()) << sixth.status();
  EXPECT_FALSE(sixth->per_user_and_ip.allowed);
}

TEST(RedisLoginCounterTest, ConcurrentCountsNeverOvercount) {
  RedisLoginCounter counter(SharedRedis(UniquePrefix()));
  const LoginLimits limits = Limits(50, 1000, 1000);
  std::atomic<int> allowed{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 30; ++i) {
        const absl::StatusOr<LoginCounts> counts = counter.Count("dave", "10.0.0.4", limits, kNow);
        if (!counts.ok()) ++failed;
        if (counts.ok() && counts->per_user_and_ip.allowed) ++allowed;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(allowed.load(), 50);
}

TEST(RedisLoginCounterTest, WrongPasswordIsAClearErrorWithoutThePassword) {
  RedisLoginCounter::Options options = SharedRedis(UniquePrefix());
  options.connection.password = "not-the-password-4f2a";
  RedisLoginCounter counter(options);
  const absl::StatusOr<LoginCounts> counts =
      counter.Count("erin", "10.0.0.5", Limits(5, 5, 5), kNow);
  ASSERT_EQ(counts.status().code(), absl::StatusCode::kUnavailable);
  const std::string message(counts.status().message());
  EXPECT_THAT(message, HasSubstr("redis " + options.connection.address + ": AUTH refused"));
  EXPECT_THAT(message, HasSubstr("WRONGPASS"));
  EXPECT_THAT(message, Not(HasSubstr("not-the-password-4f2a")));
  EXPECT_THAT(message, Not(HasSubstr(testing::SharedTestServers().redis_password)));

  options.connection.password.clear();
  RedisLoginCounter no_password(options);
  const absl::StatusOr<LoginCounts> refused =
      no_password.Count("erin", "10.0.0.5", Limits(5, 5, 5), kNow);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("Redis requires a password: set rate_limiter.redis_config.password"));
}

// --- A private Redis that the test stops and restarts ----------------------------------------


// PrivateRedis is a redis-server child without password or persistence on `port`.
class PrivateRedis {
 public:
  explicit PrivateRedis(int port) : port_(port) {}
  ~PrivateRedis() { Stop(); }

  // Start launches it and waits (up to 30 s) until it answers PING.
  bool Start() {
    const std::string port = std::to_string(port_);
    std::vector<std::string> args = {"redis-server", "--port",     port,     "--bind",
                                     "127.0.0.1",    "--save",     "",       "--appendonly",
                                     "no",           "--loglevel", "warning"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (::posix_spawnp(&pid_, "redis-server", &actions, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    if (pid_ <= 0) return false;
    for (int i = 0; i < 600; ++i) {
      redisContext* context = redisConnect("127.0.0.1", port_);
      if (context != nullptr && context->err == 0) {
        auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
        const bool pong = reply != nullptr && reply->type == REDIS_REPLY_STATUS;
        if (reply != nullptr) freeReplyObject(reply);
        redisFree(context);
        if (pong) return true;
      } else if (context != nullptr) {
        redisFree(context);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  pid_t pid_ = -1;
};

TEST(RedisLoginCounterTest, FailsWhileRedisIsDownAndRecoversWhenItIsBack) {
  PrivateRedis redis(::passgate::testing::FreeLoopbackPort());
  ASSERT_TRUE(redis.Start());
  RedisLoginCounter::Options options;
  options.connection.address = redis.address();
  options.connection.timeout = std::chrono::milliseconds(5000);
  options.connection.max_connections = 2;
  options.key_prefix = UniquePrefix();
  RedisLoginCounter counter(options);
  const LoginLimits limits = Limits(5, 100, 100);
  for (int i = 0; i < 2; ++i) {
    const absl::StatusOr<LoginCounts> counts = counter.Count("frank", "10.0.0.6", limits, kNow);
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_EQ(counts->per_user_and_ip.remaining, 4 - i);
  }

  redis.Stop();
  for (int i = 0; i < 3; ++i) {
    const absl::StatusOr<LoginCounts> down = counter.Count("frank", "10.0.0.6", limits, kNow);
    ASSERT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << i;
    EXPECT_THAT(std::string(down.status().message()), HasSubstr("redis " + redis.address() + ": "))
        << i;
  }

  // Back on the same port, empty (no persistence) and without the script cached: the
  // counter reconnects and loads the script by itself, and counts from a new window.
  ASSERT_TRUE(redis.Start());
  const absl::StatusOr<LoginCounts> back = counter.Count("frank", "10.0.0.6", limits, kNow);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->per_user_and_ip.allowed);
  EXPECT_EQ(back->per_user_and_ip.remaining, 4);
}

TEST(RedisLoginCounterTest, ClosedPortIsUnavailableNamingTheAddress) {
  const std::string address = "127.0.0.1:" + std::to_string(::passgate::testing::FreeLoopbackPort());
  RedisLoginCounter::Options options;
  options.connection.address = address;  // default timeout, 250 ms
  options.key_prefix = UniquePrefix();
  RedisLoginCounter counter(options);
  const absl::StatusOr<LoginCounts> counts =
      counter.Count("gina", "10.0.0.7", Limits(5, 5, 5), kNow);
  ASSERT_EQ(counts.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(counts.status().message()), HasSubstr("redis " + address + ": connect"));
}

}  // namespace
}  // namespace passgate::server
