// UserAdminService.ListUsers over a real in-process gRPC server and the in-memory store: the
// keyset listing (oldest first, page tokens) and the offset, descending and user_ids fields
// that Hanko's admin GET /users needs.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/user_admin_service.h"
#include "storage/memory_store.h"
#include "tests/unit/fakes.h"

namespace passgate::server {
namespace {

using passgate::v1::ListUsersRequest;
using passgate::v1::ListUsersResponse;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

constexpr char kToken[] = "admin-token-0123456789abcdef0123456789";

// UserId(n) is a canonical UUID whose last group is n, so ids sort like n.
std::string UserId(int n) {
  char id[37];
  std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", n);
  return id;
}

class ListUsersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Users 1..5, created one minute apart (user 1 oldest).
    for (int n = 1; n <= 5; ++n) {
      storage::User user;
      user.id = UserId(n);
      user.emails = {{"user" + std::to_string(n) + "@example.com", true, true}};
      user.created_at = user.updated_at =
          TimePoint(testing::FakeClock::kStart + std::chrono::minutes(n));
      ASSERT_TRUE(store_->CreateUser(user, std::nullopt).ok());
    }
    service_ = std::make_unique<UserAdminService>(UserAdminService::Dependencies{
        .store = *store_,
        .hasher = hasher_,
        .hashing_slots = slots_,
        .clock = clock_,
        .audit = audit_,
        .identity = identity_,
        .auth = auth_,
        .min_password_length = 8,
        .check_hash = [](std::string_view) { return absl::OkStatus(); },
    });
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = passgate::v1::UserAdmin::NewStub(server_->InProcessChannel({}));
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  grpc::Status List(const ListUsersRequest& request, ListUsersResponse* response,
                    bool authenticated = true) {
    grpc::ClientContext context;
    if (authenticated) context.AddMetadata("authorization", std::string("Bearer ") + kToken);
    return stub_->ListUsers(&context, request, response);
  }

  std::vector<std::string> Ids(const ListUsersRequest& request) {
    ListUsersResponse response;
    const grpc::Status status = List(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> ids;
    for (const auto& user : response.users()) ids.push_back(user.id());
    return ids;
  }

  std::unique_ptr<storage::Store> store_ = storage::NewMemoryStore();
  testing::FakeHasher hasher_;
  HashingSlots slots_{1};
  testing::FakeClock clock_;
  testing::RecordingAuditLog audit_;
  ClientIdentity identity_{{}};
  AdminAuthenticator auth_{{{"ops", kToken}}};
  std::unique_ptr<UserAdminService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<passgate::v1::UserAdmin::Stub> stub_;
};

TEST_F(ListUsersTest, DefaultIsOldestFirstWithPageTokens) {
  ListUsersRequest request;
  request.set_page_size(2);
  ListUsersResponse first;
  ASSERT_TRUE(List(request, &first).ok());
  ASSERT_EQ(first.users_size(), 2);
  EXPECT_EQ(first.users(0).id(), UserId(1));
  EXPECT_EQ(first.users(1).id(), UserId(2));
  EXPECT_EQ(first.total_size(), 5);
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_page_token(first.next_page_token());
  EXPECT_THAT(Ids(request), ElementsAre(UserId(3), UserId(4)));
}

TEST_F(ListUsersTest, DescendingIsNewestFirstAndPageTokensFollowIt) {
  ListUsersRequest request;
  request.set_descending(true);
  request.set_page_size(2);
  ListUsersResponse first;
  ASSERT_TRUE(List(request, &first).ok());
  ASSERT_EQ(first.users_size(), 2);
  EXPECT_EQ(first.users(0).id(), UserId(5));
  EXPECT_EQ(first.users(1).id(), UserId(4));
  request.set_page_token(first.next_page_token());
  EXPECT_THAT(Ids(request), ElementsAre(UserId(3), UserId(2)));
}

TEST_F(ListUsersTest, OffsetSkipsUsersInEitherDirection) {
  ListUsersRequest request;
  request.set_page_size(2);
  request.set_offset(2);
  EXPECT_THAT(Ids(request), ElementsAre(UserId(3), UserId(4)));
  request.set_descending(true);
  EXPECT_THAT(Ids(request), ElementsAre(UserId(3), UserId(2)));
  request.set_offset(4);
  EXPECT_THAT(Ids(request), ElementsAre(UserId(1)));
  request.set_offset(5);
  ListUsersResponse past_the_end;
  ASSERT_TRUE(List(request, &past_the_end).ok());
  EXPECT_THAT(past_the_end.users(), IsEmpty());
  EXPECT_EQ(past_the_end.total_size(), 5);  // the count ignores the offset
  EXPECT_TRUE(past_the_end.next_page_token().empty());
}

TEST_F(ListUsersTest, UserIdsFilterTheListingAndTheCount) {
  ListUsersRequest request;
  request.add_user_ids(UserId(4));
  request.add_user_ids(UserId(2));
  request.add_user_ids(UserId(99));  // unknown: matches nothing, no error
  ListUsersResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  ASSERT_EQ(response.users_size(), 2);
  EXPECT_EQ(response.users(0).id(), UserId(2));
  EXPECT_EQ(response.users(1).id(), UserId(4));
  EXPECT_EQ(response.total_size(), 2);
  // Combined with the e-mail filter, both must match.
  request.set_email("USER4@example.com");
  EXPECT_THAT(Ids(request), ElementsAre(UserId(4)));
  request.set_email("user3@example.com");
  EXPECT_THAT(Ids(request), IsEmpty());
}

TEST_F(ListUsersTest, BadArgumentsNameTheField) {
  const struct {
    const char* label;
    ListUsersRequest request;
    const char* message;
  } kCases[] = {
      {"negative offset",
       [] {
         ListUsersRequest r;
         r.set_offset(-1);
         return r;
       }(),
       "offset must be between 0 and 1000000000000"},
      {"huge offset",
       [] {
         ListUsersRequest r;
         r.set_offset(1'000'000'000'001);
         return r;
       }(),
       "offset must be between 0 and 1000000000000"},
      {"uppercase id",
       [] {
         ListUsersRequest r;
         r.add_user_ids(UserId(1));
         r.add_user_ids("00000000-0000-4000-8000-00000000000A");
         return r;
       }(),
       "user_ids[1] must be a canonical lowercase UUID"},
      {"too many ids",
       [] {
         ListUsersRequest r;
         for (int i = 0; i < 1001; ++i) r.add_user_ids(UserId(i));
         return r;
       }(),
       "user_ids must not name more than 1000 users"},
  };
  for (const auto& c : kCases) {
    ListUsersResponse response;
    const grpc::Status status = List(c.request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.label;
    EXPECT_EQ(status.error_message(), c.message) << c.label;
  }
}

TEST_F(ListUsersTest, UnauthenticatedCallersLearnNothing) {
  ListUsersRequest request;
  request.set_offset(-1);  // authentication comes before validation
  ListUsersResponse response;
  const grpc::Status status = List(request, &response, /*authenticated=*/false);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "Unauthorized");
  EXPECT_THAT(response.users(), IsEmpty());
}

}  // namespace
}  // namespace passgate::server
