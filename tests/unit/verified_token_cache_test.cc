#include "server/verified_token_cache.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/fakes.h"

namespace passgate::server {
namespace {

using std::chrono::seconds;
using testing::FakeClock;

const TimePoint kNow = TimePoint(FakeClock::kStart);

// ClaimsFor makes claims that name their token (in session_id), so a hit can be traced back
// to the entry it came from.
SessionClaims ClaimsFor(const std::string& token, TimePoint expiration = kNow + seconds(3600)) {
  SessionClaims claims;
  claims.subject = "38bf5a00-d7ea-40a5-a5de-48722c148925";
  claims.issued_at = kNow;
  claims.expiration = expiration;
  claims.audience = {"localhost"};
  claims.session_id = token;
  claims.email = storage::Email{"john.doe@example.com", true, true};
  return claims;
}

void ExpectSameClaims(const SessionClaims& got, const SessionClaims& want) {
  EXPECT_EQ(got.subject, want.subject);
  EXPECT_EQ(got.issued_at, want.issued_at);
  EXPECT_EQ(got.expiration, want.expiration);
  EXPECT_EQ(got.audience, want.audience);
  EXPECT_EQ(got.session_id, want.session_id);
  EXPECT_EQ(got.email, want.email);
  EXPECT_EQ(got.issuer, want.issuer);
}

TEST(VerifiedTokenCacheTest, MissThenHitReturnsTheInsertedClaims) {
  VerifiedTokenCache cache(8);
  EXPECT_FALSE(cache.Find("token-a", kNow).has_value());

  const SessionClaims claims = ClaimsFor("token-a");
  cache.Insert("token-a", claims);
  EXPECT_EQ(cache.size(), 1u);
  const std::optional<SessionClaims> found = cache.Find("token-a", kNow);
  ASSERT_TRUE(found.has_value());
  ExpectSameClaims(*found, claims);
}

TEST(VerifiedTokenCacheTest, OtherTokensMiss) {
  VerifiedTokenCache cache(8);
  cache.Insert("header.payload.signature", ClaimsFor("original"));
  const std::string kOthers[] = {
      "header.payload.signaturf",  // one byte changed
      "header.payload.signatur",   // one byte short
      "header.payload.signature.",
      "",
  };
  for (const std::string& token : kOthers) {
    EXPECT_FALSE(cache.Find(token, kNow).has_value()) << "\"" << token << "\"";
  }
  EXPECT_TRUE(cache.Find("header.payload.signature", kNow).has_value());
}

TEST(VerifiedTokenCacheTest, ExpiredEntryMissesAndIsErased) {
  VerifiedTokenCache cache(8);
  cache.Insert("expiring", ClaimsFor("expiring", kNow + seconds(10)));
  cache.Insert("lasting", ClaimsFor("lasting", kNow + seconds(3600)));
  EXPECT_TRUE(cache.Find("expiring", kNow + seconds(9)).has_value()) << "a second before exp";
  EXPECT_EQ(cache.size(), 2u);

  EXPECT_FALSE(cache.Find("expiring", kNow + seconds(10)).has_value()) << "at exp";
  EXPECT_EQ(cache.size(), 1u) << "the expired entry is erased";
  EXPECT_FALSE(cache.Find("expiring", kNow).has_value()) << "gone, even at an earlier time";
  EXPECT_TRUE(cache.Find("lasting", kNow + seconds(10)).has_value());
}

TEST(VerifiedTokenCacheTest, EvictsTheLeastRecentlyUsed) {
  VerifiedTokenCache cache(2);
  cache.Insert("first", ClaimsFor("first"));
  cache.Insert("second", ClaimsFor("second"));
  ASSERT_TRUE(cache.Find("first", kNow).has_value());  // now "second" is the oldest use
  cache.Insert("third", ClaimsFor("third"));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Find("second", kNow).has_value());
  EXPECT_TRUE(cache.Find("first", kNow).has_value());
  EXPECT_TRUE(cache.Find("third", kNow).has_value());
}

TEST(VerifiedTokenCacheTest, ReinsertingRefreshesWithoutGrowing) {
  VerifiedTokenCache cache(2);
  cache.Insert("first", ClaimsFor("first"));
  cache.Insert("second", ClaimsFor("second"));
  cache.Insert("first", ClaimsFor("first"));  // e.g. two threads verified it at once
  EXPECT_EQ(cache.size(), 2u);
  cache.Insert("third", ClaimsFor("third"));
  EXPECT_FALSE(cache.Find("second", kNow).has_value()) << "the re-insert counted as a use";
  EXPECT_TRUE(cache.Find("first", kNow).has_value());
}

TEST(VerifiedTokenCacheTest, ZeroCapacityNeverHits) {
  VerifiedTokenCache cache(0);
  cache.Insert("token", ClaimsFor("token"));
  EXPECT_FALSE(cache.Find("token", kNow).has_value());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(VerifiedTokenCacheTest, ConcurrentFindAndInsertStayBoundedAndConsistent) {
  constexpr std::size_t kCapacity = 16;
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 2000;
  // Half the calls use a few hot tokens (they stay cached, so there are hits even if the
  // threads happen to run one after another); the rest cycle through more tokens than fit,
  // so entries are evicted all the time.
  constexpr int kHotTokens = 4;
  constexpr int kColdTokens = 40;
  VerifiedTokenCache cache(kCapacity);
  std::atomic<int> hits{0};
  std::atomic<int> wrong_claims{0};
  std::atomic<bool> over_capacity{false};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOpsPerThread; ++i) {
        const std::string token = i % 2 == 0 ? "hot-" + std::to_string(i / 2 % kHotTokens)
                                             : "cold-" + std::to_string((i * 7 + t) % kColdTokens);
        if (const std::optional<SessionClaims> found = cache.Find(token, kNow)) {
          ++hits;
          if (found->session_id != token) ++wrong_claims;
        } else {
          cache.Insert(token, ClaimsFor(token));
        }
        if (cache.size() > kCapacity) over_capacity = true;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_FALSE(over_capacity);
  EXPECT_LE(cache.size(), kCapacity);
  EXPECT_EQ(wrong_claims, 0) << "a hit returned another token's claims";
  EXPECT_GT(hits, 0);
}

}  // namespace
}  // namespace passgate::server
