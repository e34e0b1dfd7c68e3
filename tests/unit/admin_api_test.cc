// AdminApi: the JSON translation (user shape, derived ids, Link header, POST /users bodies) and
// the handler against a fake UserAdmin service on an in-process gRPC server, which records
// what arrives (request and metadata) and answers what the test says.
#include "gateway/admin_api.h"

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace passgate::gateway {
namespace {

using google::protobuf::util::TimeUtil;
using passgate::v1::CreateUserRequest;
using passgate::v1::User;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kUserId[] = "38bf5a00-d7ea-40a5-a5de-48722c148925";
constexpr char kAuthorization[] = "Bearer admin-token-0123456789abcdef0123456789";

google::protobuf::Timestamp Time(const char* text) {
  google::protobuf::Timestamp ts;
  EXPECT_TRUE(TimeUtil::FromString(text, &ts)) << text;
  return ts;
}

User SampleUser() {
  User user;
  user.set_id(kUserId);
  auto* primary = user.add_emails();
  primary->set_address("john.doe@example.com");
  primary->set_is_primary(true);
  primary->set_is_verified(true);
  auto* other = user.add_emails();
  other->set_address("jd<work>@example.com");
  *user.mutable_created_at() = Time("2024-03-01T10:00:00Z");
  *user.mutable_updated_at() = Time("2024-03-02T11:30:00.250Z");
  return user;
}

// --- Derived ids -------------------------------------------------------------------------------

TEST(DerivedUuidTest, IsRfc9562Version5) {
  // RFC 9562 appendix A.4: the DNS namespace and "www.example.com".
  EXPECT_EQ(DerivedUuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  EXPECT_EQ(DerivedUuid("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  EXPECT_EQ(DerivedUuid("not-a-uuid", "x"), "");
  EXPECT_NE(DerivedUuid(kUserId, "password"), DerivedUuid(kUserId, "username"));
}

// --- User JSON ---------------------------------------------------------------------------------

TEST(AdminUserJsonTest, FullUserInHankoMemberOrder) {
  User user = SampleUser();
  user.set_username("johnny");
  *user.mutable_password()->mutable_created_at() = Time("2024-03-01T10:00:00.000001Z");
  *user.mutable_password()->mutable_updated_at() = Time("2024-03-05T00:00:00Z");
  const std::string primary_id = DerivedUuid(kUserId, "email:john.doe@example.com");
  const std::string other_id = DerivedUuid(kUserId, "email:jd<work>@example.com");
  EXPECT_EQ(AdminUserJson(user),
            std::string("{\"id\":\"") + kUserId +
                "\",\"emails\":["
                "{\"id\":\"" +
                primary_id +
                "\",\"address\":\"john.doe@example.com\",\"is_verified\":true,"
                "\"is_primary\":true,\"created_at\":\"2024-03-01T10:00:00Z\","
                "\"updated_at\":\"2024-03-02T11:30:00.25Z\"},"
                "{\"id\":\"" +
                other_id +
                "\",\"address\":\"jd\\u003cwork\\u003e@example.com\",\"is_verified\":false,"
                "\"is_primary\":false,\"created_at\":\"2024-03-01T10:00:00Z\","
                "\"updated_at\":\"2024-03-02T11:30:00.25Z\"}],"
                "\"username\":{\"id\":\"" +
                DerivedUuid(kUserId, "username") +
                "\",\"username\":\"johnny\",\"created_at\":\"2024-03-01T10:00:00Z\","
                "\"updated_at\":\"2024-03-02T11:30:00.25Z\"},"
                "\"created_at\":\"2024-03-01T10:00:00Z\","
                "\"updated_at\":\"2024-03-02T11:30:00.25Z\","
                "\"password\":{\"id\":\"" +
                DerivedUuid(kUserId, "password") +
                "\",\"created_at\":\"2024-03-01T10:00:00.000001Z\","
                "\"updated_at\":\"2024-03-05T00:00:00Z\"}}");
}

TEST(AdminUserJsonTest, EmptyPartsAreOmittedAndEmailIdsIgnoreCase) {
  User user;
  user.set_id(kUserId);
  user.set_username("solo");
  *user.mutable_created_at() = Time("2024-03-01T10:00:00Z");
  *user.mutable_updated_at() = Time("2024-03-01T10:00:00Z");
  const std::string json = AdminUserJson(user);
  EXPECT_EQ(json.find("\"emails\""), std::string::npos) << json;
  EXPECT_EQ(json.find("\"password\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"username\":{"), std::string::npos) << json;

  User upper = SampleUser();
  upper.mutable_emails(0)->set_address("John.Doe@Example.com");
  EXPECT_NE(AdminUserJson(upper).find(DerivedUuid(kUserId, "email:john.doe@example.com")),
            std::string::npos);
}

// --- Link header -------------------------------------------------------------------------------

// Hanko's own cases (backend/pagination/header_test.go).
TEST(PaginationLinkHeaderTest, HankoCases) {
  const struct {
    const char* label;
    const char* query;
    std::int64_t total, page, per_page;
    const char* expected;
  } kCases[] = {
      {"first page", "", 95, 1, 10,
       "<http://localhost:8080?page=10&per_page=10>; rel=\"last\","
       "<http://localhost:8080?page=2&per_page=10>; rel=\"next\""},
      {"last page", "", 95, 10, 10,
       "<http://localhost:8080?page=1&per_page=10>; rel=\"first\","
       "<http://localhost:8080?page=9&per_page=10>; rel=\"prev\""},
      {"middle page", "", 95, 4, 10,
       "<http://localhost:8080?page=1&per_page=10>; rel=\"first\","
       "<http://localhost:8080?page=10&per_page=10>; rel=\"last\","
       "<http://localhost:8080?page=5&per_page=10>; rel=\"next\","
       "<http://localhost:8080?page=3&per_page=10>; rel=\"prev\""},
      {"no items", "", 0, 1, 10, "<http://localhost:8080?page=1&per_page=10>; rel=\"first\""},
      {"one short page", "", 10, 1, 20,
       "<http://localhost:8080?page=1&per_page=20>; rel=\"first\""},
      {"query kept, sorted, escaped",
       "start_time=2022-09-12T12:48:48Z&end_time=2022-09-12T14:48:48Z", 95, 1, 10,
       "<http://localhost:8080?end_time=2022-09-12T14%3A48%3A48Z&page=10&per_page=10&"
       "start_time=2022-09-12T12%3A48%3A48Z>; rel=\"last\","
       "<http://localhost:8080?end_time=2022-09-12T14%3A48%3A48Z&page=2&per_page=10&"
       "start_time=2022-09-12T12%3A48%3A48Z>; rel=\"next\""},
      {"old page replaced, bad pairs dropped, + is a space",
       "page=3&email=a+b%40x.org&bad=%zz&per_page=7", 30, 3, 10,
       "<http://localhost:8080?email=a+b%40x.org&page=1&per_page=10>; rel=\"first\","
       "<http://localhost:8080?email=a+b%40x.org&page=2&per_page=10>; rel=\"prev\""},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(PaginationLinkHeader("http://localhost:8080", c.query, c.total, c.page, c.per_page),
              c.expected)
        << c.label;
  }
}

// --- POST /users bodies ------------------------------------------------------------------------

TEST(ParseCreateUserBodyTest, ReadsHankoFields) {
  absl::StatusOr<CreateUserRequest> request = ParseCreateUserBody(
      R"({"ID":"38BF5A00-D7EA-40A5-A5DE-48722C148925","emails":[{"address":"a@example.com",)"
      R"("is_primary":true,"is_verified":true},{"Address":"b@example.com","is_primary":null}],)"
      R"("username":"johnny","created_at":"2024-03-01T12:00:00.5+02:00","unknown":[1,2]})");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->user_id(), kUserId);
  ASSERT_EQ(request->emails_size(), 2);
  EXPECT_EQ(request->emails(0).address(), "a@example.com");
  EXPECT_TRUE(request->emails(0).is_primary());
  EXPECT_TRUE(request->emails(0).is_verified());
  EXPECT_EQ(request->emails(1).address(), "b@example.com");
  EXPECT_FALSE(request->emails(1).is_primary());
  EXPECT_EQ(request->username(), "johnny");
  EXPECT_EQ(TimeUtil::ToString(request->created_at()), "2024-03-01T10:00:00.500Z");
  EXPECT_EQ(request->credential_case(), CreateUserRequest::CREDENTIAL_NOT_SET);
}

TEST(ParseCreateUserBodyTest, NothingMeansDefaults) {
  for (const char* body :
       {"", "  ", "null", "{}", R"({"id":null,"emails":null,"username":null,"created_at":null})",
        R"({"id":"00000000-0000-0000-0000-000000000000",)"
        R"("created_at":"0001-01-01T00:00:00Z"})"}) {
    absl::StatusOr<CreateUserRequest> request = ParseCreateUserBody(body);
    ASSERT_TRUE(request.ok()) << body << ": " << request.status();
    EXPECT_EQ(request->user_id(), "") << body;
    EXPECT_FALSE(request->has_created_at()) << body;
    EXPECT_EQ(request->emails_size(), 0) << body;
  }
}

TEST(ParseCreateUserBodyTest, BadBodiesAre400Texts) {
  const struct {
    const char* body;
    const char* message;
  } kCases[] = {
      {"{", "unexpected EOF"},
      {"{\"emails\":[1,}", "Syntax error: offset=14, error=invalid character in JSON"},
      {"{\"emails\":[}", "Syntax error: offset=12, error=invalid character in JSON"},
      {"[]", "Unmarshal type error: expected=admin.CreateUser, got=array, field="},
      {R"({"id":"abc"})", "failed to parse userId as uuid"},
      {R"({"id":42})", "Unmarshal type error: expected=uuid.UUID, got=number, field=id"},
      {R"({"emails":{}})",
       "Unmarshal type error: expected=[]admin.CreateEmail, got=object, field=emails"},
      {R"({"emails":["a@example.com"]})",
       "Unmarshal type error: expected=admin.CreateEmail, got=string, field=emails"},
      {R"({"emails":[{"address":1}]})",
       "Unmarshal type error: expected=string, got=number, field=emails.address"},
      {R"({"emails":[{"is_primary":"yes"}]})",
       "Unmarshal type error: expected=bool, got=string, field=emails.is_primary"},
      {R"({"username":true})", "Unmarshal type error: expected=string, got=bool, field=username"},
      {R"({"created_at":"yesterday"})", "created_at must be an RFC 3339 time"},
      {R"({"created_at":1700000000})",
       "Unmarshal type error: expected=time.Time, got=number, field=created_at"},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<CreateUserRequest> request = ParseCreateUserBody(c.body);
    ASSERT_FALSE(request.ok()) << c.body;
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_EQ(std::string(request.status().message()), c.message) << c.body;
  }
}

// --- The handler against a fake service --------------------------------------------------------

// FakeUserAdmin answers every call with `reply_status` (and the canned user/list), recording
// the last request and its metadata.
class FakeUserAdmin final : public passgate::v1::UserAdmin::Service {
 public:
  grpc::Status CreateUser(grpc::ServerContext* context, const CreateUserRequest* request,
                          User* response) override {
    Record(context, "CreateUser", request->SerializeAsString());
    last_create = *request;
    *response = SampleUser();
    return reply_status;
  }
  grpc::Status GetUser(grpc::ServerContext* context, const passgate::v1::GetUserRequest* request,
                       User* response) override {
    Record(context, "GetUser", request->user_id());
    *response = SampleUser();
    return reply_status;
  }
  grpc::Status ListUsers(grpc::ServerContext* context,
                         const passgate::v1::ListUsersRequest* request,
                         passgate::v1::ListUsersResponse* response) override {
    Record(context, "ListUsers", request->SerializeAsString());
    last_list = *request;
    *response->add_users() = SampleUser();
    response->set_total_size(45);
    return reply_status;
  }
  grpc::Status DeleteUser(grpc::ServerContext* context,
                          const passgate::v1::DeleteUserRequest* request,
                          passgate::v1::DeleteUserResponse*) override {
    Record(context, "DeleteUser", request->user_id());
    return reply_status;
  }

  void Record(grpc::ServerContext* context, std::string method, std::string argument) {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back(method + " " + argument);
    metadata.clear();
    for (const auto& [key, value] : context->client_metadata()) {
      const std::string name(key.data(), key.size());
      if (name.starts_with("x-passgate-") || name == "authorization" || name == "x-request-id") {
        metadata[name] = std::string(value.data(), value.size());
      }
    }
  }

  std::mutex mu;
  grpc::Status reply_status = grpc::Status::OK;
  std::vector<std::string> calls;
  std::map<std::string, std::string> metadata;
  CreateUserRequest last_create;
  passgate::v1::ListUsersRequest last_list;
};

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    api_ = std::make_unique<AdminApi>(AdminApiOptions{}, server_->InProcessChannel({}));
  }
  void TearDown() override {
    api_.reset();
    server_->Shutdown();
  }

  static HttpRequest Request(std::string method, std::string target, std::string body = "",
                             std::vector<std::pair<std::string, std::string>> headers = {
                                 {"authorization", kAuthorization}}) {
    HttpRequest request;
    request.method = std::move(method);
    const std::size_t mark = target.find('?');
    request.path = target.substr(0, mark);
    if (mark != std::string::npos) request.query = target.substr(mark + 1);
    request.headers = std::move(headers);
    request.headers.emplace_back("host", "admin.example.com:8001");
    if (!body.empty()) request.headers.emplace_back("content-type", "application/json");
    request.body = std::move(body);
    request.peer_ip = "10.1.2.3";
    return request;
  }

  HttpResponse Run(HttpRequest request) {
    auto promise = std::make_shared<std::promise<HttpResponse>>();
    std::future<HttpResponse> answer = promise->get_future();
    api_->Handle(std::move(request),
                 [promise](HttpResponse response) { promise->set_value(std::move(response)); });
    EXPECT_EQ(answer.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    return answer.get();
  }

  static std::optional<std::string> Header(const HttpResponse& response, std::string_view name) {
    for (const auto& [key, value] : response.headers) {
      if (key == name) return value;
    }
    return std::nullopt;
  }

  static std::string ErrorBody(int status, const std::string& message) {
    return "{\"code\":" + std::to_string(status) + ",\"message\":\"" + message + "\"}\n";
  }

  std::vector<std::string> Calls() {
    std::lock_guard<std::mutex> lock(fake_.mu);
    return fake_.calls;
  }

  FakeUserAdmin fake_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<AdminApi> api_;
};

TEST_F(AdminApiTest, UnknownPathsAre404AndWrongMethods405WithAllow) {
  const std::vector<std::string> paths = {"/",
                                          "/user",
                                          "/users/",
                                          "/users/x/y",
                                          "/Users",
                                          "/password/login",
                                          "/users/" + std::string(kUserId) + "/"};
  for (const std::string& path : paths) {
    const HttpResponse response = Run(Request("GET", path));
    if (path == "/users/") {
      EXPECT_EQ(response.status, 400) << path;  // Echo matches /users/:id with an empty id
      continue;
    }
    EXPECT_EQ(response.status, 404) << path;
    EXPECT_EQ(response.body, ErrorBody(404, "Not Found")) << path;
  }
  const HttpResponse put = Run(Request("PUT", "/users"));
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.body, ErrorBody(405, "Method Not Allowed"));
  EXPECT_EQ(Header(put, "Allow"), "OPTIONS, GET, POST");
  const HttpResponse post = Run(Request("POST", std::string("/users/") + kUserId));
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(Header(post, "Allow"), "OPTIONS, DELETE, GET");
  const HttpResponse options = Run(Request("OPTIONS", "/users"));
  EXPECT_EQ(options.status, 204);
  EXPECT_EQ(Header(options, "Allow"), "OPTIONS, GET, POST");
  EXPECT_THAT(Calls(), IsEmpty());
}

TEST_F(AdminApiTest, NoCredentialIs401WithoutAskingTheService) {
  // A spoofed certificate header is not a credential.
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/users"},
           {"POST", "/users"},
           {"GET", std::string("/users/") + kUserId},
           {"DELETE", std::string("/users/") + kUserId},
           {"GET", "/users/not-a-uuid"}}) {
    const HttpResponse response =
        Run(Request(method, target, "", {{"x-passgate-admin-client-cert", "ops"}}));
    EXPECT_EQ(response.status, 401) << method << " " << target;
    EXPECT_EQ(response.body, ErrorBody(401, "Unauthorized")) << method << " " << target;
  }
  EXPECT_THAT(Calls(), IsEmpty());
}

TEST_F(AdminApiTest, ForwardsCredentialsAndClientIdentityButNeverTheCertHeader) {
  HttpRequest request = Request("GET", std::string("/users/") + kUserId, "",
                                {{"authorization", kAuthorization},
                                 {"x-passgate-admin-client-cert", "spoofed"},
                                 {"user-agent", "support-tool/2.0"},
                                 {"x-request-id", "req-123"}});
  const HttpResponse response = Run(std::move(request));
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Header(response, "X-Request-Id"), "req-123");
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.metadata, (std::map<std::string, std::string>{
                                {"authorization", kAuthorization},
                                {"x-passgate-client-ip", "10.1.2.3"},
                                {"x-passgate-user-agent", "support-tool/2.0"},
                                {"x-request-id", "req-123"},
                            }));
}

TEST_F(AdminApiTest, AVerifiedClientCertificateIsForwardedAsItsCommonName) {
  HttpRequest request = Request("GET", std::string("/users/") + kUserId, "", {});
  request.tls = true;
  request.client_cert_common_name = "support-tool";
  const HttpResponse response = Run(std::move(request));
  EXPECT_EQ(response.status, 200) << response.body;
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.metadata["x-passgate-admin-client-cert"], "support-tool");
  EXPECT_EQ(fake_.metadata.count("authorization"), 0u);
}

TEST_F(AdminApiTest, GetUserAnswersTheUserJson) {
  const HttpResponse response = Run(Request("GET", "/users/38BF5A00-D7EA-40A5-A5DE-48722C148925"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, AdminUserJson(SampleUser()) + "\n");
  EXPECT_EQ(Header(response, "Content-Type"), "application/json");
  EXPECT_THAT(Calls(), ElementsAre(std::string("GetUser ") + kUserId));  // lowercased
}

TEST_F(AdminApiTest, BadIdsAre400WithHankoText) {
  for (const char* id :
       {"abc", "38bf5a00d7ea40a5a5de48722c14892", "38bf5a00-d7ea-40a5-a5de-48722c14892g"}) {
    for (const char* method : {"GET", "DELETE"}) {
      const HttpResponse response = Run(Request(method, std::string("/users/") + id));
      EXPECT_EQ(response.status, 400) << method << " " << id;
      EXPECT_EQ(response.body, ErrorBody(400, "failed to parse userId as uuid")) << id;
    }
  }
  EXPECT_THAT(Calls(), IsEmpty());
}

TEST_F(AdminApiTest, DeleteIs204WithoutBody) {
  const HttpResponse response = Run(Request("DELETE", std::string("/users/") + kUserId));
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(Header(response, "Content-Type"), std::nullopt);
  EXPECT_THAT(Calls(), ElementsAre(std::string("DeleteUser ") + kUserId));
}

TEST_F(AdminApiTest, ServiceErrorsMapToHankoStatuses) {
  const struct {
    grpc::Status status;
    int http;
    const char* message;
  } kCases[] = {
      {grpc::Status(grpc::StatusCode::NOT_FOUND, "user not found"), 404, "user not found"},
      {grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "user id already exists"), 409,
       "user id already exists"},
      {grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "only one primary email is allowed"), 400,
       "only one primary email is allowed"},
      {grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "Unauthorized"), 401, "Unauthorized"},
      {grpc::Status(grpc::StatusCode::INTERNAL, "disk on fire at /var/db"), 500,
       "Internal Server Error"},
      {grpc::Status(grpc::StatusCode::UNAVAILABLE, "db down"), 503, "Service Unavailable"},
  };
  for (const auto& c : kCases) {
    fake_.reply_status = c.status;
    for (const auto& [method, target, body] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"GET", std::string("/users/") + kUserId, ""},
             {"DELETE", std::string("/users/") + kUserId, ""},
             {"GET", "/users", ""},
             {"POST", "/users", R"({"emails":[{"address":"a@example.com","is_primary":true}]})"}}) {
      const HttpResponse response = Run(Request(method, target, body));
      EXPECT_EQ(response.status, c.http) << method << " " << target;
      EXPECT_EQ(response.body, ErrorBody(c.http, c.message)) << method << " " << target;
      EXPECT_EQ(Header(response, "Link"), std::nullopt);
    }
  }
}

TEST_F(AdminApiTest, CreateUserTranslatesTheBody) {
  const HttpResponse response = Run(Request(
      "POST", "/users",
      R"({"id":"38bf5a00-d7ea-40a5-a5de-48722c148925","emails":[{"address":"A@example.com",)"
      R"("is_primary":true,"is_verified":true}],"username":"johnny"})"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, AdminUserJson(SampleUser()) + "\n");
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.last_create.user_id(), kUserId);
  ASSERT_EQ(fake_.last_create.emails_size(), 1);
  EXPECT_EQ(fake_.last_create.emails(0).address(), "A@example.com");  // the service lowercases
  EXPECT_EQ(fake_.last_create.username(), "johnny");
}

TEST_F(AdminApiTest, CreateUserRejectsBadBodiesLocally) {
  HttpRequest text = Request("POST", "/users", "{}");
  text.headers.back().second = "text/plain";
  EXPECT_EQ(Run(std::move(text)).status, 415);
  const HttpResponse syntax = Run(Request("POST", "/users", "{\"emails\":"));
  EXPECT_EQ(syntax.status, 400);
  EXPECT_EQ(syntax.body, ErrorBody(400, "unexpected EOF"));
  const HttpResponse id = Run(Request("POST", "/users", R"({"id":"nope"})"));
  EXPECT_EQ(id.body, ErrorBody(400, "failed to parse userId as uuid"));
  EXPECT_THAT(Calls(), IsEmpty());
}

TEST_F(AdminApiTest, ListUsersDefaultsAreHankos) {
  const HttpResponse response = Run(Request("GET", "/users"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "[" + AdminUserJson(SampleUser()) + "]\n");
  EXPECT_EQ(Header(response, "X-Total-Count"), "45");
  EXPECT_EQ(Header(response, "Link"),
            "<http://admin.example.com:8001/users?page=3&per_page=20>; rel=\"last\","
            "<http://admin.example.com:8001/users?page=2&per_page=20>; rel=\"next\"");
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.last_list.page_size(), 20);
  EXPECT_EQ(fake_.last_list.offset(), 0);
  EXPECT_TRUE(fake_.last_list.descending());
  EXPECT_THAT(fake_.last_list.user_ids(), IsEmpty());
  EXPECT_EQ(fake_.last_list.email(), "");
}

TEST_F(AdminApiTest, ListUsersTranslatesTheQuery) {
  HttpRequest request = Request(
      "GET", "/users?page=2&per_page=10&sort_direction=asc&email=John.Doe%40Example.com&user_id=" +
                 std::string(kUserId) + ",B5DD5267-B462-48BE-B70D-BCD6F1BBE7A5");
  request.tls = true;
  const HttpResponse response = Run(std::move(request));
  EXPECT_EQ(response.status, 200) << response.body;
  const std::string rest = "&sort_direction=asc&user_id=" + std::string(kUserId) +
                           "%2CB5DD5267-B462-48BE-B70D-BCD6F1BBE7A5";
  const std::string base = "https://admin.example.com:8001/users?email=John.Doe%40Example.com";
  EXPECT_EQ(Header(response, "Link"), "<" + base + "&page=1&per_page=10" + rest +
                                          ">; rel=\"first\"," + "<" + base + "&page=5&per_page=10" +
                                          rest + ">; rel=\"last\"," + "<" + base +
                                          "&page=3&per_page=10" + rest + ">; rel=\"next\"," + "<" +
                                          base + "&page=1&per_page=10" + rest + ">; rel=\"prev\"");
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.last_list.page_size(), 10);
  EXPECT_EQ(fake_.last_list.offset(), 10);
  EXPECT_FALSE(fake_.last_list.descending());
  EXPECT_EQ(fake_.last_list.email(), "john.doe@example.com");
  EXPECT_THAT(fake_.last_list.user_ids(),
              ElementsAre(kUserId, "b5dd5267-b462-48be-b70d-bcd6f1bbe7a5"));
}

TEST_F(AdminApiTest, ListUsersBadQueriesAre400) {
  const struct {
    const char* target;
    const char* message;
  } kCases[] = {
      {"/users?sort_direction=up", "sort_direction must be desc or asc"},
      {"/users?sort_direction=DESC", "sort_direction must be desc or asc"},
      {"/users?user_id=abc", "failed to parse user_id as uuid"},
      {"/users?user_id=38bf5a00-d7ea-40a5-a5de-48722c148925,", "failed to parse user_id as uuid"},
      {"/users?page=two", "strconv.ParseInt: parsing \\\"two\\\": invalid syntax"},
      {"/users?per_page=99999999999999999999",
       "strconv.ParseInt: parsing \\\"99999999999999999999\\\": value out of range"},
      {"/users?per_page=1001", "per_page must not be greater than 1000"},
  };
  for (const auto& c : kCases) {
    const HttpResponse response = Run(Request("GET", c.target));
    EXPECT_EQ(response.status, 400) << c.target;
    EXPECT_EQ(response.body, ErrorBody(400, c.message)) << c.target;
  }
  EXPECT_THAT(Calls(), IsEmpty());
}

TEST_F(AdminApiTest, ListUsersNormalizesPagesBelowOne) {
  const HttpResponse response = Run(Request("GET", "/users?page=-3&per_page=0"));
  EXPECT_EQ(response.status, 200);
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.last_list.offset(), 0);
  EXPECT_EQ(fake_.last_list.page_size(), 20);
}

}  // namespace
}  // namespace passgate::gateway
