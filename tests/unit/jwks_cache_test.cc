#include "gateway/jwks_cache.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/fake_password_auth_client.h"

namespace passgate::gateway {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;

// Outcome: what one Get answered.
struct Outcome {
  grpc::StatusCode code;
  std::string body;  // "<none>" when no body came
  bool operator==(const Outcome&) const = default;
};

class JwksCacheTest : public ::testing::Test {
 protected:
  JwksCacheTest() { SetKid("k1"); }

  void SetKid(const std::string& kid) {
    fake_->jwks.Clear();
    fake_->jwks.add_keys()->set_kid(kid);
  }

  // Get records its answer in outcomes_ (now if cached, later if the fake defers).
  void Get() {
    cache_.Get({}, [this](const grpc::Status& status, std::shared_ptr<const std::string> body) {
      outcomes_.push_back({status.error_code(), body ? *body : "<none>"});
    });
  }

  void RunPending() {
    while (!fake_->pending.empty()) {
      auto next = std::move(fake_->pending.front());
      fake_->pending.erase(fake_->pending.begin());
      next();
    }
  }

  std::shared_ptr<FakePasswordAuthClient> fake_ = std::make_shared<FakePasswordAuthClient>();
  std::chrono::steady_clock::time_point now_{seconds(1000)};
  JwksCache cache_{fake_, seconds(10),
                   [](const passgate::v1::Jwks& jwks) {
                     return jwks.keys_size() == 0 ? "empty" : "kid=" + jwks.keys(0).kid();
                   },
                   [this] { return now_; }};
  std::vector<Outcome> outcomes_;
};

TEST_F(JwksCacheTest, FreshDocumentIsServedWithoutACall) {
  Get();
  SetKid("k2");
  now_ += seconds(9);
  Get();
  Get();
  EXPECT_EQ(fake_->jwks_calls, 1);
  EXPECT_THAT(outcomes_, ElementsAre(Outcome{grpc::StatusCode::OK, "kid=k1"},
                                     Outcome{grpc::StatusCode::OK, "kid=k1"},
                                     Outcome{grpc::StatusCode::OK, "kid=k1"}));
}

TEST_F(JwksCacheTest, RequestsBeforeTheFirstAnswerShareOneCall) {
  fake_->defer = true;
  Get();
  Get();
  Get();
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_EQ(fake_->jwks_calls, 1);
  RunPending();
  EXPECT_THAT(outcomes_, ElementsAre(Outcome{grpc::StatusCode::OK, "kid=k1"},
                                     Outcome{grpc::StatusCode::OK, "kid=k1"},
                                     Outcome{grpc::StatusCode::OK, "kid=k1"}));
}

TEST_F(JwksCacheTest, StaleDocumentIsServedWhileOneRefreshRuns) {
  Get();
  fake_->defer = true;
  SetKid("k2");
  now_ += seconds(10);
  Get();  // stale: answered at once, starts the refresh
  Get();  // joins it: no second call
  EXPECT_EQ(fake_->jwks_calls, 2);
  RunPending();
  Get();  // the refreshed document
  EXPECT_EQ(fake_->jwks_calls, 2);
  EXPECT_THAT(outcomes_, ElementsAre(Outcome{grpc::StatusCode::OK, "kid=k1"},
                                     Outcome{grpc::StatusCode::OK, "kid=k1"},
                                     Outcome{grpc::StatusCode::OK, "kid=k1"},
                                     Outcome{grpc::StatusCode::OK, "kid=k2"}));
}

TEST_F(JwksCacheTest, FailedRefreshIsNotCachedAndReachesEveryWaiter) {
  fake_->defer = true;
  fake_->jwks_result.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
  Get();
  Get();
  RunPending();
  fake_->defer = false;
  fake_->jwks_result.status = grpc::Status::OK;
  Get();  // nothing cached: asks again, without waiting for the TTL
  EXPECT_EQ(fake_->jwks_calls, 2);
  EXPECT_THAT(outcomes_, ElementsAre(Outcome{grpc::StatusCode::UNAVAILABLE, "<none>"},
                                     Outcome{grpc::StatusCode::UNAVAILABLE, "<none>"},
                                     Outcome{grpc::StatusCode::OK, "kid=k1"}));
}

TEST_F(JwksCacheTest, FailedBackgroundRefreshDropsTheStaleDocument) {
  Get();
  now_ += seconds(11);
  fake_->jwks_result.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
  Get();  // stale copy answered, the refresh fails and empties the cache
  Get();  // so this one surfaces the outage
  EXPECT_THAT(outcomes_, ElementsAre(Outcome{grpc::StatusCode::OK, "kid=k1"},
                                     Outcome{grpc::StatusCode::OK, "kid=k1"},
                                     Outcome{grpc::StatusCode::UNAVAILABLE, "<none>"}));
}

TEST_F(JwksCacheTest, ZeroTtlAsksEveryTimeButOneAtATime) {
  JwksCache uncached(fake_, seconds(0), [](const passgate::v1::Jwks&) { return "doc"; },
                     [this] { return now_; });
  int answers = 0;
  const auto count = [&](const grpc::Status& status, std::shared_ptr<const std::string>) {
    EXPECT_TRUE(status.ok());
    ++answers;
  };
  uncached.Get({}, count);
  uncached.Get({}, count);
  EXPECT_EQ(fake_->jwks_calls, 2);
  fake_->defer = true;
  uncached.Get({}, count);
  uncached.Get({}, count);
  EXPECT_EQ(fake_->jwks_calls, 3);
  RunPending();
  EXPECT_EQ(answers, 4);
}

}  // namespace
}  // namespace passgate::gateway
