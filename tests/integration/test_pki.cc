#include "tests/integration/test_pki.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace passgate::testing {

void MakeTestPki(const TempDir& dir, TestPki& pki) {
  pki = {dir.File("ca.pem"),     dir.File("ca.key"),     dir.File("server.pem"),
         dir.File("server.key"), dir.File("client.pem"), dir.File("client.key")};
  const std::string cnf = dir.File("openssl.cnf");
  WriteFile(cnf,
            "[req]\n"
            "distinguished_name = dn\n"
            "prompt = no\n"
            "[dn]\n"
            "CN = passgate test\n"
            "[ca_ext]\n"
            "basicConstraints = critical,CA:TRUE\n"
            "keyUsage = critical,keyCertSign,cRLSign\n"
            "subjectKeyIdentifier = hash\n"
            "[server_ext]\n"
            "basicConstraints = CA:FALSE\n"
            "keyUsage = critical,digitalSignature\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
            "authorityKeyIdentifier = keyid\n"
            "[client_ext]\n"
            "basicConstraints = CA:FALSE\n"
            "keyUsage = critical,digitalSignature\n"
            "extendedKeyUsage = clientAuth\n"
            "authorityKeyIdentifier = keyid\n");
  const std::string log = dir.File("openssl.log");
  const auto genkey = [&](const std::string& out) {
    return "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + out;
  };
  const auto sign = [&](const std::string& name, const std::string& key, const std::string& out,
                        const std::string& ext, int serial) {
    const std::string csr = dir.File(name + ".csr");
    return "openssl req -new -key " + key + " -subj /CN=" + name + " -config " + cnf + " -out " +
           csr + " && openssl x509 -req -in " + csr + " -CA " + pki.ca + " -CAkey " + pki.ca_key +
           " -set_serial " + std::to_string(serial) + " -days 2 -sha256 -extfile " + cnf +
           " -extensions " + ext + " -out " + out;
  };
  const std::vector<std::string> commands = {
      genkey(pki.ca_key),
      "openssl req -x509 -new -key " + pki.ca_key + " -subj '/CN=passgate test CA' -days 2" +
          " -sha256 -config " + cnf + " -extensions ca_ext -out " + pki.ca,
      genkey(pki.server_key),
      sign("localhost", pki.server_key, pki.server_cert, "server_ext", 2),
      genkey(pki.client_key),
      sign("passgate-gateway", pki.client_key, pki.client_cert, "client_ext", 3),
  };
  for (const std::string& command : commands) {
    const int rc = std::system(("(" + command + ") >>" + log + " 2>&1").c_str());
    ASSERT_EQ(rc, 0) << command << "\n" << ReadFile(log);
  }
}

}  // namespace passgate::testing
