#ifndef PASSGATE_TESTS_SCALEOUT_TEST_SERVERS_H_
#define PASSGATE_TESTS_SCALEOUT_TEST_SERVERS_H_

#include <string>

namespace passgate::testing {

// TestServers: the throwaway PostgreSQL and Redis servers of a test run, started by
// tests/scaleout/test_servers.sh.
struct TestServers {
  std::string postgres_url;   // admin connection (database `postgres`, trust auth)
  std::string postgres_data;  // cluster data directory
  std::string postgres_bin;   // server binaries (pg_ctl)
  std::string redis_address;  // 127.0.0.1:PORT
  std::string redis_password;
};

// SharedTestServers returns the servers of the CTest fixture `test_servers` (their address is
// in <build>/test-servers/env) when they answer, else servers started once for this process
// and stopped when it exits (a test binary run by hand or under TSan). A failure to start
// them aborts the process with the script's output: a test that needs them cannot pass.
const TestServers& SharedTestServers();

// ScratchPostgresDatabase is a new, empty database on the shared PostgreSQL server, dropped
// (with its connections) on destruction.
class ScratchPostgresDatabase {
 public:
  ScratchPostgresDatabase();
  ~ScratchPostgresDatabase();
  ScratchPostgresDatabase(const ScratchPostgresDatabase&) = delete;
  ScratchPostgresDatabase& operator=(const ScratchPostgresDatabase&) = delete;

  const std::string& name() const { return name_; }
  // url is postgres://postgres@127.0.0.1:PORT/<name>.
  const std::string& url() const { return url_; }

 private:
  std::string name_;
  std::string url_;
};

// PrivatePostgres is a PostgreSQL server for the calling test alone, which may crash it and
// start it again (the shared one serves other tests running at the same time). Starting it
// takes 1-3 s; failures abort the process.
class PrivatePostgres {
 public:
  PrivatePostgres();
  ~PrivatePostgres();
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;

  // url of its `postgres` database (trust auth on loopback).
  const std::string& url() const { return url_; }
  // Kill stops it at once, as a crash would (pg_ctl -m immediate).
  void Kill();
  // Restart starts it again on the same port and data.
  void Restart();

 private:
  std::string dir_;
  std::string url_;
};

// FreeLoopbackPort returns a loopback TCP port nothing listens on (bound, then released: a
// server the test starts next can take it; a client that connects to it is refused).
int FreeLoopbackPort();

// RunAdminSql runs `sql` on the shared server's admin database; fails the test on error.
void RunAdminSql(const std::string& sql);

}  // namespace passgate::testing

#endif  // PASSGATE_TESTS_SCALEOUT_TEST_SERVERS_H_
