// Hanko's admin user routes on the real `passgate serve`'s admin HTTP listener
// (server.admin.address): every route's happy path and errors (400/401/404/405/409), Hanko's
// JSON, X-Total-Count and Link, audit events naming the caller, mutual TLS, and that the public
// listener serves none of it.
#include <cstdlib>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/integration/grpc_fixture.h"
#include "tests/integration/http_client.h"
#include "tests/integration/test_pki.h"

namespace passgate::testing {
namespace {

using nlohmann::json;

constexpr char kAdminToken[] = "admin-http-token-0123456789abcdef0123";
constexpr char kUuid[] = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
constexpr char kUserA[] = "0b9e1a37-4c1c-4d5e-8f00-00000000000a";
constexpr char kUserB[] = "0b9e1a37-4c1c-4d5e-8f00-00000000000b";
constexpr char kUserC[] = "0b9e1a37-4c1c-4d5e-8f00-00000000000c";

std::string ErrorBody(int status, const std::string& message) {
  return "{\"code\":" + std::to_string(status) + ",\"message\":\"" + message + "\"}\n";
}

std::vector<std::string> Ids(const json& users) {
  std::vector<std::string> ids;
  for (const json& user : users) ids.push_back(user["id"].get<std::string>());
  return ids;
}

class AdminHttpTest : public PassgateServerTest {
 protected:
  virtual std::string AdminLines() const {
    return std::string(
               "    address: 127.0.0.1:0\n"
               "    auth:\n"
               "      tokens:\n"
               "        ops: ") +
           kAdminToken + "\n";
  }
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.admin_lines = AdminLines();
    return extras;
  }

  void SetUp() override {
    PassgateServerTest::SetUp();
    ASSERT_NE(server_, nullptr);
    admin_port_ = server_->LoggedPort("admin http listening");
    ASSERT_NE(admin_port_, 0);
  }

  HttpReply Admin(const std::string& method, const std::string& target,
                  const std::optional<std::string>& body = std::nullopt, HeaderList extra = {}) {
    HeaderList headers = {{"Authorization", std::string("Bearer ") + kAdminToken},
                          {"User-Agent", "admin-http-test/1.0"}};
    if (body) headers.emplace_back("Content-Type", "application/json");
    headers.insert(headers.end(), extra.begin(), extra.end());
    return HttpCall(admin_port_, method, target, headers, body);
  }

  // CreateUser posts a user with one primary address; returns the reply's JSON.
  json CreateUser(const std::string& id, const std::string& email, const std::string& created_at) {
    const HttpReply reply =
        Admin("POST", "/users",
              json{{"id", id},
                   {"emails", {{{"address", email}, {"is_primary", true}, {"is_verified", true}}}},
                   {"created_at", created_at}}
                  .dump());
    EXPECT_EQ(reply.status, 200) << Describe(reply);
    return json::parse(reply.body, nullptr, false);
  }

  std::vector<json> AuditEvents(const std::string& type) {
    std::vector<json> events;
    std::istringstream lines(server_->Log());
    for (std::string line; std::getline(lines, line);) {
      const json event = json::parse(line, nullptr, false);
      if (event.is_object() && event.value("audience", "") == "audit" &&
          event.value("type", "") == type) {
        events.push_back(event);
      }
    }
    return events;
  }

  std::string Link(const std::string& query, const std::string& rel) const {
    return "<http://127.0.0.1:" + std::to_string(admin_port_) + "/users?" + query + ">; rel=\"" +
           rel + "\"";
  }

  int admin_port_ = 0;
};

TEST_F(AdminHttpTest, CreateGetAndDeleteAUser) {
  const std::string body = json{{"id", kUserA},
                                {"emails",
                                 {{{"address", "Ada@Example.com"}, {"is_primary", true}},
                                  {{"address", "ada.work@example.com"}, {"is_verified", true}}}},
                                {"username", "ada"},
                                {"created_at", "2021-06-01T12:00:00.5+02:00"}}
                               .dump();
  const HttpReply created = Admin("POST", "/users", body, {{"X-Request-Id", "create-ada-1"}});
  ASSERT_EQ(created.status, 200) << Describe(created);
  EXPECT_EQ(created.Header("Content-Type"), "application/json");
  EXPECT_EQ(created.Header("X-Request-Id"), "create-ada-1");
  const json user = json::parse(created.body);
  EXPECT_EQ(user["id"], kUserA);
  EXPECT_EQ(user["created_at"], "2021-06-01T10:00:00.5Z");
  EXPECT_TRUE(std::regex_match(user["updated_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")))
      << user;
  EXPECT_FALSE(user.contains("password")) << user;
  ASSERT_EQ(user["emails"].size(), 2u) << user;
  // Primary first; addresses stored in lower case, as Hanko's admin API does.
  EXPECT_EQ(user["emails"][0]["address"], "ada@example.com");
  EXPECT_EQ(user["emails"][0]["is_primary"], true);
  EXPECT_EQ(user["emails"][0]["is_verified"], false);
  EXPECT_EQ(user["emails"][1]["address"], "ada.work@example.com");
  EXPECT_EQ(user["emails"][1]["is_verified"], true);
  for (const json& email : user["emails"]) {
    EXPECT_TRUE(std::regex_match(email["id"].get<std::string>(), std::regex(kUuid))) << email;
    EXPECT_EQ(email["created_at"], user["created_at"]);
  }
  EXPECT_NE(user["emails"][0]["id"], user["emails"][1]["id"]);
  EXPECT_EQ(user["username"]["username"], "ada");
  // Member order is Hanko's dto.User.
  EXPECT_EQ(created.body.find("{\"id\":"), 0u) << created.body;
  EXPECT_LT(created.body.find("\"emails\""), created.body.find("\"username\"")) << created.body;
  EXPECT_LT(created.body.find("\"username\""), created.body.rfind("\"created_at\":\"2021"));

  const HttpReply got = Admin("GET", std::string("/users/") + kUserA);
  EXPECT_EQ(got.status, 200) << Describe(got);
  EXPECT_EQ(got.body, created.body) << "the same user, the same ids";
  // Go's uuid.FromString takes upper case too.
  EXPECT_EQ(Admin("GET", "/users/0B9E1A37-4C1C-4D5E-8F00-00000000000A").body, created.body);

  // A user with a password shows it (never its hash).
  const HttpReply john = Admin("GET", std::string("/users/") + kJohn);
  ASSERT_EQ(john.status, 200) << Describe(john);
  const json john_json = json::parse(john.body);
  ASSERT_TRUE(john_json.contains("password")) << john.body;
  EXPECT_EQ(john_json["password"]["created_at"], "2020-12-31T23:59:59Z");
  EXPECT_TRUE(std::regex_match(john_json["password"]["id"].get<std::string>(), std::regex(kUuid)));
  EXPECT_EQ(john.body.find("$2a$"), std::string::npos);

  const HttpReply deleted = Admin("DELETE", std::string("/users/") + kUserA);
  EXPECT_EQ(deleted.status, 204) << Describe(deleted);
  EXPECT_EQ(deleted.body, "");
  const HttpReply gone = Admin("GET", std::string("/users/") + kUserA);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.body, ErrorBody(404, "user not found"));
  const HttpReply again = Admin("DELETE", std::string("/users/") + kUserA);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.body, ErrorBody(404, "user not found"));

  // Each change is an audit event naming the caller, with the HTTP client's identity.
  const std::vector<json> creations = AuditEvents("admin_user_created");
  ASSERT_EQ(creations.size(), 1u) << server_->Log();
  EXPECT_EQ(creations[0]["actor"], "token:ops");
  EXPECT_EQ(creations[0]["user_id"], kUserA);
  EXPECT_EQ(creations[0]["source_ip"], "127.0.0.1");
  EXPECT_EQ(creations[0]["user_agent"], "admin-http-test/1.0");
  EXPECT_EQ(creations[0]["request_id"], "create-ada-1");
  EXPECT_EQ(AuditEvents("admin_user_deleted").size(), 1u);
  EXPECT_EQ(server_->Log().find(kAdminToken), std::string::npos) << "the token is never logged";
}

TEST_F(AdminHttpTest, CreateUserErrors) {
  CreateUser(kUserA, "taken@example.com", "2021-01-01T00:00:00Z");
  const struct {
    const char* label;
    std::string body;
    int status;
    std::string message;
  } kCases[] = {
      {"same id",
       json{{"id", kUserA}, {"emails", {{{"address", "x@example.com"}, {"is_primary", true}}}}}
           .dump(),
       409, "user id already exists"},
      {"same address, other case",
       json{{"emails", {{{"address", "TAKEN@example.com"}, {"is_primary", true}}}}}.dump(), 409,
       "emails[0].address already exists"},
      {"no primary", json{{"emails", {{{"address", "np@example.com"}}}}}.dump(), 400,
       "at least one primary email must be provided"},
      {"two primaries",
       json{{"emails",
             {{{"address", "p1@example.com"}, {"is_primary", true}},
              {{"address", "p2@example.com"}, {"is_primary", true}}}}}
           .dump(),
       400, "only one primary email is allowed"},
      {"bad id", R"({"id":"nope","emails":[]})", 400, "failed to parse userId as uuid"},
      {"truncated", R"({"emails":[)", 400, "unexpected EOF"},
      {"wrong type", R"({"emails":"a@example.com"})", 400,
       "Unmarshal type error: expected=[]admin.CreateEmail, got=string, field=emails"},
      {"bad address",
       json{{"emails", {{{"address", "not-an-address"}, {"is_primary", true}}}}}.dump(), 400,
       "emails[0].address is not a valid email address"},
  };
  for (const auto& c : kCases) {
    const HttpReply reply = Admin("POST", "/users", c.body);
    EXPECT_EQ(reply.status, c.status) << c.label << "\n" << Describe(reply);
    EXPECT_EQ(reply.body, ErrorBody(c.status, c.message)) << c.label;
  }
  const HttpReply text = HttpCall(
      admin_port_, "POST", "/users",
      {{"Authorization", std::string("Bearer ") + kAdminToken}, {"Content-Type", "text/plain"}},
      std::string("{}"));
  EXPECT_EQ(text.status, 415) << Describe(text);
  EXPECT_EQ(AuditEvents("admin_user_created").size(), 1u);
}

TEST_F(AdminHttpTest, ListUsersPagesNewestFirstWithHankoHeaders) {
  // The fixture's two users (2020-12-31, same instant) plus three newer ones.
  CreateUser(kUserA, "a@example.com", "2021-01-01T00:00:00Z");
  CreateUser(kUserB, "b@example.com", "2021-01-02T00:00:00Z");
  CreateUser(kUserC, "c@example.com", "2021-01-03T00:00:00Z");

  const HttpReply first = Admin("GET", "/users?per_page=2");
  ASSERT_EQ(first.status, 200) << Describe(first);
  EXPECT_EQ(first.Header("X-Total-Count"), "5");
  EXPECT_EQ(first.Header("Link"),
            Link("page=3&per_page=2", "last") + "," + Link("page=2&per_page=2", "next"));
  EXPECT_EQ(Ids(json::parse(first.body)), (std::vector<std::string>{kUserC, kUserB}));

  const HttpReply middle = Admin("GET", "/users?per_page=2&page=2");
  EXPECT_EQ(Ids(json::parse(middle.body)), (std::vector<std::string>{kUserA, kNoPassword}));
  EXPECT_EQ(middle.Header("Link"),
            Link("page=1&per_page=2", "first") + "," + Link("page=3&per_page=2", "last") + "," +
                Link("page=3&per_page=2", "next") + "," + Link("page=1&per_page=2", "prev"));
  const HttpReply last = Admin("GET", "/users?per_page=2&page=3");
  EXPECT_EQ(Ids(json::parse(last.body)), (std::vector<std::string>{kJohn}));
  const HttpReply beyond = Admin("GET", "/users?per_page=2&page=4");
  EXPECT_EQ(beyond.status, 200);
  EXPECT_EQ(beyond.body, "[]\n");
  EXPECT_EQ(beyond.Header("X-Total-Count"), "5");

  // Defaults: page 1, 20 per page, newest first; asc turns it round.
  const HttpReply all = Admin("GET", "/users");
  EXPECT_EQ(Ids(json::parse(all.body)),
            (std::vector<std::string>{kUserC, kUserB, kUserA, kNoPassword, kJohn}));
  EXPECT_EQ(all.Header("Link"), Link("page=1&per_page=20", "first"));
  const HttpReply asc = Admin("GET", "/users?sort_direction=asc&per_page=3");
  EXPECT_EQ(Ids(json::parse(asc.body)), (std::vector<std::string>{kJohn, kNoPassword, kUserA}));
  EXPECT_EQ(asc.Header("Link"), Link("page=2&per_page=3&sort_direction=asc", "last") + "," +
                                    Link("page=2&per_page=3&sort_direction=asc", "next"));

  // Filters: ids (comma-separated) and e-mail (case-insensitive); the count follows them.
  const HttpReply by_id =
      Admin("GET", std::string("/users?user_id=") + kJohn + "," + kUserB + "&sort_direction=asc");
  EXPECT_EQ(Ids(json::parse(by_id.body)), (std::vector<std::string>{kJohn, kUserB}));
  EXPECT_EQ(by_id.Header("X-Total-Count"), "2");
  const HttpReply by_email = Admin("GET", "/users?email=JOHN.DOE%40example.com");
  EXPECT_EQ(Ids(json::parse(by_email.body)), (std::vector<std::string>{kNoPassword}));
  EXPECT_EQ(by_email.Header("X-Total-Count"), "1");

  const struct {
    const char* target;
    const char* message;
  } kBad[] = {
      {"/users?sort_direction=sideways", "sort_direction must be desc or asc"},
      {"/users?user_id=42", "failed to parse user_id as uuid"},
      {"/users?page=x", "strconv.ParseInt: parsing \\\"x\\\": invalid syntax"},
  };
  for (const auto& c : kBad) {
    const HttpReply reply = Admin("GET", c.target);
    EXPECT_EQ(reply.status, 400) << c.target << "\n" << Describe(reply);
    EXPECT_EQ(reply.body, ErrorBody(400, c.message)) << c.target;
  }
}

TEST_F(AdminHttpTest, CallersWithoutAValidCredentialAreRefused) {
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/users"},
      {"POST", "/users"},
      {"GET", std::string("/users/") + kJohn},
      {"DELETE", std::string("/users/") + kJohn}};
  const std::vector<HeaderList> refused = {
      {},
      {{"Authorization", "Bearer wrong-token-0123456789abcdef0123456789"}},
      {{"Authorization", std::string("Basic ") + kAdminToken}},
      {{"Authorization", kAdminToken}},
      // A client cannot claim a certificate with a header.
      {{"X-Passgate-Admin-Client-Cert", "ops"}},
      {{"Authorization", "Bearer wrong-token-0123456789abcdef0123456789"},
       {"X-Passgate-Admin-Client-Cert", "ops"}},
  };
  for (const auto& [method, target] : routes) {
    for (const HeaderList& headers : refused) {
      const std::optional<std::string> body =
          method == "POST" ? std::optional<std::string>(
                                 R"({"emails":[{"address":"x@example.com","is_primary":true}]})")
                           : std::nullopt;
      HeaderList with_type = headers;
      if (body) with_type.emplace_back("Content-Type", "application/json");
      const HttpReply reply = HttpCall(admin_port_, method, target, with_type, body);
      EXPECT_EQ(reply.status, 401) << method << " " << target << "\n" << Describe(reply);
      EXPECT_EQ(reply.body, ErrorBody(401, "Unauthorized")) << method << " " << target;
    }
  }
  // John is still there: nothing was deleted.
  EXPECT_EQ(Admin("GET", std::string("/users/") + kJohn).status, 200);
  EXPECT_TRUE(AuditEvents("admin_user_deleted").empty());
  EXPECT_FALSE(AuditEvents("admin_auth_failed").empty());
}

TEST_F(AdminHttpTest, UnknownRoutesAre404AndWrongMethods405) {
  for (const char* target : {"/", "/user", "/users/x/y", "/password/login", "/sessions/validate",
                             "/.well-known/jwks.json"}) {
    const HttpReply reply = Admin("GET", target);
    EXPECT_EQ(reply.status, 404) << target;
    EXPECT_EQ(reply.body, ErrorBody(404, "Not Found")) << target;
  }
  const HttpReply put = Admin("PUT", "/users", std::string("{}"));
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.Header("Allow"), "OPTIONS, GET, POST");
  const HttpReply patch = Admin("PATCH", std::string("/users/") + kJohn, std::string("{}"));
  EXPECT_EQ(patch.status, 405);
  EXPECT_EQ(patch.Header("Allow"), "OPTIONS, DELETE, GET");
  const HttpReply bad_id = Admin("GET", "/users/not-a-uuid");
  EXPECT_EQ(bad_id.status, 400);
  EXPECT_EQ(bad_id.body, ErrorBody(400, "failed to parse userId as uuid"));
}

TEST_F(AdminHttpTest, ThePublicListenerDoesNotServeAdminRoutes) {
  const HeaderList token = {{"Authorization", std::string("Bearer ") + kAdminToken},
                            {"Content-Type", "application/json"}};
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/users"},
           {"POST", "/users"},
           {"GET", std::string("/users/") + kJohn},
           {"DELETE", std::string("/users/") + kJohn}}) {
    const HttpReply reply =
        HttpCall(server_->http_port(), method, target, token,
                 method == "POST" ? std::optional<std::string>("{}") : std::nullopt);
    EXPECT_EQ(reply.status, 404) << method << " " << target << "\n" << Describe(reply);
    EXPECT_EQ(reply.body, ErrorBody(404, "Not Found")) << method << " " << target;
  }
  EXPECT_EQ(Admin("GET", std::string("/users/") + kJohn).status, 200) << "John was not deleted";
  EXPECT_NE(server_->http_port(), admin_port_);
}

// --- Mutual TLS ------------------------------------------------------------------------------

class AdminHttpMtlsTest : public AdminHttpTest {
 protected:
  std::string AdminLines() const override {
    return AdminHttpTest::AdminLines() + "    tls: {cert_file: \"" + pki_.server_cert +
           "\", key_file: \"" + pki_.server_key + "\", client_ca_file: \"" + pki_.ca + "\"}\n";
  }
  void SetUp() override {
    MakeTestPki(dir_, pki_);
    if (HasFatalFailure()) return;
    AdminHttpTest::SetUp();
  }

  HttpReply Https(const TlsClientOptions& tls, const std::string& method, const std::string& target,
                  HeaderList headers = {}, const std::optional<std::string>& body = std::nullopt) {
    if (body) headers.emplace_back("Content-Type", "application/json");
    return HttpsCall(admin_port_, tls, method, target, headers, body);
  }

  TestPki pki_;
};

TEST_F(AdminHttpMtlsTest, AVerifiedClientCertificateIsACredential) {
  const TlsClientOptions with_cert{pki_.ca, "127.0.0.1", pki_.client_cert, pki_.client_key};
  const HttpReply got = Https(with_cert, "GET", std::string("/users/") + kJohn);
  EXPECT_EQ(got.status, 200) << Describe(got);
  const HttpReply created =
      Https(with_cert, "POST", "/users", {},
            std::string(R"({"emails":[{"address":"cert@example.com","is_primary":true}]})"));
  ASSERT_EQ(created.status, 200) << Describe(created);
  const std::vector<json> events = AuditEvents("admin_user_created");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["actor"], "cert:passgate-gateway");  // the certificate's CN
  // The Link header says https.
  const HttpReply listed = Https(with_cert, "GET", "/users?per_page=1");
  EXPECT_EQ(listed.Header("Link")->rfind("<https://127.0.0.1:", 0), 0u) << Describe(listed);
}

TEST_F(AdminHttpMtlsTest, WithoutACertificateATokenIsStillNeeded) {
  const TlsClientOptions no_cert{pki_.ca, "127.0.0.1", "", ""};
  const std::string target = std::string("/users/") + kJohn;
  EXPECT_EQ(Https(no_cert, "GET", target).status, 401);
  EXPECT_EQ(
      Https(no_cert, "GET", target, {{"X-Passgate-Admin-Client-Cert", "passgate-gateway"}}).status,
      401);
  EXPECT_EQ(Https(no_cert, "GET", target, {{"Authorization", std::string("Bearer ") + kAdminToken}})
                .status,
            200);
}

TEST_F(AdminHttpMtlsTest, ACertificateFromAnotherIssuerIsRefused) {
  const std::string key = dir_.File("stranger.key");
  const std::string cert = dir_.File("stranger.pem");
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
      "-subj /CN=passgate-gateway -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const HttpReply reply =
      Https({pki_.ca, "127.0.0.1", cert, key}, "GET", std::string("/users/") + kJohn,
            {{"Authorization", std::string("Bearer ") + kAdminToken}});
  EXPECT_EQ(reply.status, 0) << Describe(reply);  // the handshake fails: no answer at all
  EXPECT_TRUE(AuditEvents("admin_user_created").empty());
}

}  // namespace
}  // namespace passgate::testing
