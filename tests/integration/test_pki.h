#ifndef PASSGATE_TESTS_INTEGRATION_TEST_PKI_H_
#define PASSGATE_TESTS_INTEGRATION_TEST_PKI_H_

#include <string>

#include "tests/integration/passgate_process.h"

namespace passgate::testing {

// TestPki is a throw-away CA (EC P-256) with a server certificate for 127.0.0.1/localhost and a
// client certificate, made with the openssl CLI.
struct TestPki {
  std::string ca, ca_key, server_cert, server_key, client_cert, client_key;
};

// MakeTestPki writes the CA, a server certificate (CN localhost) and a client certificate
// (CN passgate-gateway) into `dir`; fails the current test when openssl does.
void MakeTestPki(const TempDir& dir, TestPki& pki);

}  // namespace passgate::testing

#endif  // PASSGATE_TESTS_INTEGRATION_TEST_PKI_H_
