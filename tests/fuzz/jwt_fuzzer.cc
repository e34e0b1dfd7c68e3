// Fuzzes session token verification: SessionTokens::Validate (server/session_tokens.*) over
// KeyRing::VerifyJwt and the JOSE helpers (server/key_ring.*, server/jose.*), with an
// in-memory store and a fixed clock. The input is the token.
//
// The key ring holds three fixed keys (RS256, ES256, EdDSA) from
// tests/fuzz/testdata/jwt_keys.json, stored encrypted as passgate stores them, so that tokens
// signed in one run still verify in the next and can serve as the seed corpus. At start-up
// the target signs tokens with each key: valid ones (one per algorithm, each with its session
// row), and ones that must be refused: expired (its session row still alive), for another
// audience, and one whose session row is gone (revoked).
//
// Invariants, for every accepted token:
//   - its signing input (header.payload) is exactly that of one of the valid tokens signed
//     here, and for the deterministic algorithms (RS256, EdDSA) the whole token is identical:
//     no mutated header, payload or signature, no alternative base64url spelling, is accepted;
//   - the decoded claims equal that token's claims;
//   - its header's alg is the kid's key algorithm (never "none"), its kid is a known key;
//   - it is not expired at the fixed clock's time, and its audience is ours.
// Any refusal is kUnauthenticated "Unauthorized" (never a storage/internal error here).
//
// To make new keys and seeds (only needed if the key storage format changes):
//   PASSGATE_FUZZ_JWT_REGENERATE=/tmp/out build-asan/tests/fuzz/jwt
// writes /tmp/out/jwt_keys.json and /tmp/out/corpus/*.jwt; copy them into tests/fuzz/.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"
#include "server/jose.h"
#include "server/key_ring.h"
#include "server/session_tokens.h"
#include "storage/memory_store.h"
#include "tests/fuzz/json_oracle.h"
#include "tests/unit/fakes.h"

namespace {

using nlohmann::json;
using passgate::server::Base64UrlDecode;
using passgate::server::Base64UrlEncode;
using passgate::server::KeyAlgorithm;
using passgate::server::KeyRing;
using passgate::server::KeyRingOptions;
using passgate::server::SessionClaims;
using passgate::server::SessionPolicy;
using passgate::server::SessionTokens;
using passgate::server::TimePoint;
using passgate::testing::FakeClock;
using std::chrono::hours;
using std::chrono::seconds;

constexpr char kSecret[] = "passgate-fuzz-jwt-secret-not-for-production";  // test keys only
constexpr char kUserId[] = "38bf5a00-d7ea-40a5-a5de-48722c148925";
constexpr std::int64_t kNow = 1700000000;  // FakeClock::kStart

struct SignedToken {
  std::string token;
  json claims;          // the payload as signed
  std::string algorithm;
  bool must_accept;     // valid token with a live session row
};

struct State {
  std::unique_ptr<passgate::storage::Store> store = passgate::storage::NewMemoryStore();
  FakeClock clock;
  std::vector<std::unique_ptr<KeyRing>> rings;  // rings[i] signs with key i; the last has all
  std::vector<std::pair<std::string, std::string>> kids;  // kid, algorithm
  std::unique_ptr<SessionTokens> tokens;
  std::vector<SignedToken> signed_tokens;
};

State* state = nullptr;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "jwt fuzzer set-up: %s\n", message.c_str());
  std::exit(1);
}

std::string KeysPath() {
  return std::string(PASSGATE_SOURCE_DIR) + "/tests/fuzz/testdata/jwt_keys.json";
}

KeyRingOptions Options(KeyAlgorithm algorithm) {
  KeyRingOptions options;
  options.algorithm = algorithm;
  options.secrets = {kSecret};
  return options;
}

std::unique_ptr<KeyRing> LoadRing(State& s, KeyAlgorithm algorithm) {
  absl::StatusOr<std::unique_ptr<KeyRing>> ring = KeyRing::Load(*s.store, Options(algorithm), s.clock);
  if (!ring.ok()) Die(std::string(ring.status().message()));
  return *std::move(ring);
}

// GenerateKeys makes one key per algorithm (the regeneration mode) and returns the rows.
json GenerateKeys(State& s) {
  LoadRing(s, KeyAlgorithm::kRS256);  // generates the RS256 key
  for (KeyAlgorithm algorithm : {KeyAlgorithm::kES256, KeyAlgorithm::kEdDSA}) {
    if (!LoadRing(s, algorithm)->Rotate().ok()) Die("rotate failed");
  }
  const auto stored = s.store->ListKeys();
  if (!stored.ok()) Die("ListKeys failed");
  json rows = json::array();
  for (const auto& row : *stored) {
    rows.push_back({{"id", row.id},
                    {"algorithm", row.algorithm},
                    {"ciphertext", Base64UrlEncode(row.ciphertext)},
                    {"created_at_unix_us", std::chrono::duration_cast<std::chrono::microseconds>(
                                               row.created_at.time_since_epoch())
                                               .count()}});
  }
  return rows;
}

// LoadKeys stores the fixed keys one by one, loading a ring after each, so rings[i] signs
// with key i and the last ring verifies all of them.
void LoadKeys(State& s, const json& rows) {
  for (const json& row : rows) {
    passgate::storage::StoredKey key;
    key.id = row.at("id").get<std::string>();
    key.algorithm = row.at("algorithm").get<std::string>();
    key.ciphertext = Base64UrlDecode(row.at("ciphertext").get<std::string>()).value_or("");
    key.created_at = TimePoint(std::chrono::microseconds(row.at("created_at_unix_us").get<std::int64_t>()));
    if (!s.store->AddKey(key).ok()) Die("AddKey failed");
    const auto algorithm = passgate::server::ParseKeyAlgorithm(key.algorithm);
    if (!algorithm.ok()) Die("bad algorithm in " + KeysPath());
    s.rings.push_back(LoadRing(s, *algorithm));
    s.kids.emplace_back(key.id, key.algorithm);
  }
  if (s.rings.size() != 3) Die("expected 3 keys in " + KeysPath());
}

json Claims(std::string session_id, std::int64_t iat, std::int64_t lifespan,
            std::vector<std::string> audience = {"localhost"}) {
  return {{"sub", kUserId},
          {"iat", iat},
          {"exp", iat + lifespan},
          {"aud", std::move(audience)},
          {"session_id", std::move(session_id)},
          {"email", {{"address", "john.doe@example.com"}, {"is_primary", true}, {"is_verified", true}}}};
}

void AddSessionRow(State& s, const std::string& session_id) {
  passgate::storage::Session row{session_id, kUserId, s.clock.Now(),
                                 s.clock.Now() + hours(24), "192.0.2.1", "fuzz"};
  if (!s.store->CreateSession(row, 100, s.clock.Now()).ok()) Die("CreateSession failed");
}

void Sign(State& s, std::size_t ring, json claims, bool must_accept) {
  absl::StatusOr<std::string> token = s.rings[ring]->SignJwt(claims);
  if (!token.ok()) Die(std::string(token.status().message()));
  s.signed_tokens.push_back({*token, std::move(claims), s.kids[ring].second, must_accept});
}

void SignTokens(State& s) {
  passgate::storage::User user;
  user.id = kUserId;
  user.emails = {{"john.doe@example.com", true, true}};
  user.created_at = user.updated_at = s.clock.Now();
  if (!s.store->CreateUser(user, std::nullopt).ok()) Die("CreateUser failed");

  const char* const kValid[] = {"6f0c1a52-8d3e-4b7a-9c21-0e5f4d3c2b1a",
                                "7a1d2b63-9e4f-4c8b-8d32-1f6e5d4c3b2a",
                                "8b2e3c74-af50-4d9c-9e43-207f6e5d4c3b"};
  for (std::size_t i = 0; i < 3; ++i) {
    AddSessionRow(s, kValid[i]);
    Sign(s, i, Claims(kValid[i], kNow - 600, 12 * 3600), true);
  }
  // Expired one hour ago; its row is still alive, so only the exp check refuses it.
  AddSessionRow(s, "9c3f4d85-b061-4ead-8f54-3180a7f6e5d4");
  Sign(s, 0, Claims("9c3f4d85-b061-4ead-8f54-3180a7f6e5d4", kNow - 13 * 3600, 12 * 3600), false);
  // Another service's audience.
  AddSessionRow(s, "ad405e96-c172-4fbe-a065-4291b8a7f6e5");
  Sign(s, 1, Claims("ad405e96-c172-4fbe-a065-4291b8a7f6e5", kNow - 600, 12 * 3600, {"evil.example"}), false);
  // Revoked: no session row.
  Sign(s, 2, Claims("be516fa7-d283-4acf-b176-53a2c9b8a7f6", kNow - 600, 12 * 3600), false);
}

// ForgedTokens: header variants a verifier must refuse, built from the first valid token
// (name, token).
std::vector<std::pair<std::string, std::string>> ForgedTokens(const State& s) {
  const std::string& token = s.signed_tokens[0].token;
  const std::string rest = token.substr(token.find('.'));  // .payload.signature
  const std::string payload = rest.substr(0, rest.rfind('.'));
  const std::string& kid = s.kids[0].first;
  const auto header = [&](const char* alg, const std::string& key_id) {
    return Base64UrlEncode(json({{"alg", alg}, {"kid", key_id}, {"typ", "JWT"}}).dump());
  };
  return {
      {"alg-none-unsigned", header("none", kid) + payload + "."},
      {"alg-none", header("none", kid) + rest},
      {"alg-hs256", header("HS256", kid) + rest},
      {"alg-es256-on-rsa-key", header("ES256", kid) + rest},
      {"unknown-kid", header("RS256", "00000000-0000-4000-8000-000000000000") + rest},
  };
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) Die("cannot write " + path);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  state = new State;
  State& s = *state;
  const char* regenerate = std::getenv("PASSGATE_FUZZ_JWT_REGENERATE");
  json rows;
  if (regenerate != nullptr) {
    State scratch;
    rows = GenerateKeys(scratch);
  } else {
    std::ifstream in(KeysPath());
    std::stringstream text;
    text << in.rdbuf();
    rows = json::parse(text.str(), nullptr, false);
    if (!rows.is_array()) Die("cannot read " + KeysPath());
  }
  LoadKeys(s, rows);
  SignTokens(s);
  s.clock.Set(TimePoint(seconds(kNow)));
  SessionPolicy policy;
  policy.lifespan = hours(12);
  policy.audience = {"localhost"};
  s.tokens = std::make_unique<SessionTokens>(*s.store, *s.rings.back(), s.clock, policy);

  // The valid tokens must verify, or the invariants below would be vacuous.
  for (const SignedToken& t : s.signed_tokens) {
    if (s.tokens->Validate(t.token).ok() != t.must_accept) Die("signed token not judged as expected");
  }
  if (regenerate != nullptr) {
    const std::string dir = regenerate;
    WriteFile(dir + "/jwt_keys.json", rows.dump(2) + "\n");
    int n = 0;
    for (const SignedToken& t : s.signed_tokens) {
      WriteFile(dir + "/corpus/" + (t.must_accept ? "valid-" : "refused-") +
                    std::to_string(n++) + "-" + t.algorithm + ".jwt",
                t.token);
    }
    for (const auto& [name, forged] : ForgedTokens(s)) {
      WriteFile(dir + "/corpus/forged-" + name + ".jwt", forged);
    }
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const State& s = *state;
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<SessionClaims> claims = s.tokens->Validate(token);
  if (!claims.ok()) {
    PASSGATE_FUZZ_CHECK(claims.status().code() == absl::StatusCode::kUnauthenticated);
    PASSGATE_FUZZ_CHECK(claims.status().message() == "Unauthorized");
    return 0;
  }

  // Accepted: it must be one of ours, byte for byte up to the (ECDSA) signature.
  const std::size_t last_dot = token.rfind('.');
  PASSGATE_FUZZ_CHECK(last_dot != std::string_view::npos);
  const SignedToken* match = nullptr;
  for (const SignedToken& t : s.signed_tokens) {
    if (t.token.substr(0, t.token.rfind('.')) == token.substr(0, last_dot)) match = &t;
  }
  PASSGATE_FUZZ_CHECK(match != nullptr);
  PASSGATE_FUZZ_CHECK(match->must_accept);
  if (match->algorithm != "ES256") PASSGATE_FUZZ_CHECK(token == match->token);

  const json& expected = match->claims;
  PASSGATE_FUZZ_CHECK(claims->subject == expected["sub"].get<std::string>());
  PASSGATE_FUZZ_CHECK(claims->session_id == expected["session_id"].get<std::string>());
  PASSGATE_FUZZ_CHECK(claims->issued_at == TimePoint(seconds(expected["iat"].get<std::int64_t>())));
  PASSGATE_FUZZ_CHECK(claims->expiration == TimePoint(seconds(expected["exp"].get<std::int64_t>())));
  PASSGATE_FUZZ_CHECK(claims->audience == expected["aud"].get<std::vector<std::string>>());
  PASSGATE_FUZZ_CHECK(claims->issuer.empty());
  PASSGATE_FUZZ_CHECK(claims->email.has_value() &&
                      claims->email->address == expected["email"]["address"].get<std::string>());
  PASSGATE_FUZZ_CHECK(claims->expiration > s.clock.Now());
  PASSGATE_FUZZ_CHECK(claims->audience == std::vector<std::string>{"localhost"});

  // The header names a known key and that key's own algorithm.
  const std::optional<std::string> header_bytes = Base64UrlDecode(token.substr(0, token.find('.')));
  PASSGATE_FUZZ_CHECK(header_bytes.has_value());
  const json header = json::parse(*header_bytes, nullptr, false);
  PASSGATE_FUZZ_CHECK(header.is_object() && header.contains("alg") && header.contains("kid"));
  PASSGATE_FUZZ_CHECK(header["alg"] != "none");
  bool known = false;
  for (const auto& [kid, algorithm] : s.kids) {
    if (header["kid"] == kid) known = header["alg"] == algorithm;
  }
  PASSGATE_FUZZ_CHECK(known);
  return 0;
}
