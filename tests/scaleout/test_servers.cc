#include "tests/scaleout/test_servers.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace passgate::testing {
namespace {

const char kScript[] = PASSGATE_SOURCE_DIR "/tests/scaleout/test_servers.sh";

TestServers ReadEnvFile(const std::string& path) {
  TestServers servers;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const std::string::size_type eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = line.substr(0, eq);
    const std::string value = line.substr(eq + 1);
    if (name == "PASSGATE_TEST_POSTGRES_URL") servers.postgres_url = value;
    if (name == "PASSGATE_TEST_POSTGRES_DATA") servers.postgres_data = value;
    if (name == "PASSGATE_TEST_POSTGRES_BIN") servers.postgres_bin = value;
    if (name == "PASSGATE_TEST_REDIS_ADDRESS") servers.redis_address = value;
    if (name == "PASSGATE_TEST_REDIS_PASSWORD") servers.redis_password = value;
  }
  return servers;
}

bool PostgresAnswers(const std::string& url) {
  return !url.empty() && PQping(url.c_str()) == PQPING_OK;
}

// RunScript runs `test_servers.sh COMMAND DIR [SERVERS]` and aborts the process when it fails.
void RunScript(const std::string& command, const std::string& dir,
               const std::string& servers = "all") {
  const std::string line =
      std::string(kScript) + " " + command + " '" + dir + "' " + servers + " 2>&1";
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) {
    std::fprintf(stderr, "cannot run %s\n", kScript);
    std::abort();
  }
  std::string output;
  std::array<char, 4096> buffer;
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    output.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "%s %s failed:\n%s\n", kScript, command.c_str(), output.c_str());
    std::abort();
  }
}

std::string& OwnServersDir() {
  static std::string dir;
  return dir;
}

void StopOwnServers() {
  if (!OwnServersDir().empty()) RunScript("stop", OwnServersDir());
}

std::string RandomSuffix() {
  std::random_device device;
  std::uniform_int_distribution<unsigned long long> digits;
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%016llx", digits(device));
  return buffer;
}

// ReplaceDatabase swaps the database name at the end of a postgres:// URL.
std::string ReplaceDatabase(const std::string& url, const std::string& name) {
  return url.substr(0, url.rfind('/') + 1) + name;
}

}  // namespace

const TestServers& SharedTestServers() {
  static const TestServers* servers = [] {
    TestServers fixture = ReadEnvFile(PASSGATE_BINARY_DIR "/test-servers/env");
    if (PostgresAnswers(fixture.postgres_url) && !fixture.redis_address.empty()) {
      return new TestServers(fixture);
    }
    char pattern[] = "/tmp/passgate-test-servers.XXXXXX";
    if (mkdtemp(pattern) == nullptr) std::abort();
    OwnServersDir() = pattern;
    RunScript("start", OwnServersDir());
    std::atexit(StopOwnServers);
    return new TestServers(ReadEnvFile(OwnServersDir() + "/env"));
  }();
  return *servers;
}

PrivatePostgres::PrivatePostgres() {
  char pattern[] = "/tmp/passgate-private-pg.XXXXXX";
  if (mkdtemp(pattern) == nullptr) std::abort();
  dir_ = pattern;
  RunScript("start", dir_, "postgres");
  url_ = ReadEnvFile(dir_ + "/env").postgres_url;
}

PrivatePostgres::~PrivatePostgres() {
  RunScript("stop", dir_);
  std::string command = "rm -rf '" + dir_ + "'";
  [[maybe_unused]] int ignored = std::system(command.c_str());
}

void PrivatePostgres::Kill() { RunScript("postgres-kill", dir_); }

void PrivatePostgres::Restart() { RunScript("postgres-restart", dir_); }

int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

void RunAdminSql(const std::string& sql) {
  PGconn* conn = PQconnectdb(SharedTestServers().postgres_url.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
      << sql << ": " << PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
}

ScratchPostgresDatabase::ScratchPostgresDatabase() : name_("passgate_test_" + RandomSuffix()) {
  url_ = ReplaceDatabase(SharedTestServers().postgres_url, name_);
  RunAdminSql("CREATE DATABASE " + name_);
}

ScratchPostgresDatabase::~ScratchPostgresDatabase() {
  RunAdminSql("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
}

}  // namespace passgate::testing
