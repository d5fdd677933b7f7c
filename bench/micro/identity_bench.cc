// Identity extraction (gateway/tls/identity_extractor.h), once per accepted mTLS connection:
// subject and issuer names, SANs by type, the SPIFFE ID and two SHA-256 fingerprints. The
// certificate is minted in memory at start with the gateway's own PKI code (gateway/tls/pki.h):
// a client certificate signed by a CA, with a CN, a SPIFFE URI SAN, a DNS name and an email,
// ECDSA P-256 and RSA 2048.
//
//   - BM_IdentityExtract/<key>: ExtractIdentity on an already decoded certificate.
//   - BM_IdentityDecodeAndExtract/<key>: the DER decoded into a WOLFSSL_X509 first: on each
//     handshake wolfSSL_get_peer_certificate returns such a copy (wolfSSL_X509_dup decodes the
//     DER again), so this is the whole per-connection cost.
//
//   build-release/bin/portcullis_micro_bench --benchmark_filter=Identity

#include <benchmark/benchmark.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <map>
#include <memory>
#include <string>

#include "gateway/tls/identity_extractor.h"
#include "gateway/tls/pki.h"

namespace portcullis::tls {
namespace {

struct X509Free {
  void operator()(WOLFSSL_X509* x509) const { wolfSSL_X509_free(x509); }
};
using X509Ptr = std::unique_ptr<WOLFSSL_X509, X509Free>;

// The client certificate's DER; empty after an error, which goes to *error.
std::string MintClientCertificateDer(pki::KeyType key_type, std::string* error) {
  pki::CertRequest ca_request;
  ca_request.common_name = "Bench CA";
  ca_request.profile = pki::CertProfile::kCa;
  ca_request.days = pki::kDefaultCaDays;
  ca_request.key_type = key_type;
  Result<pki::Credential> ca = pki::CreateCertificate(ca_request, nullptr);
  if (!ca.ok()) {
    *error = ca.error();
    return "";
  }
  pki::CertRequest request;
  request.common_name = "agent-1";
  request.uris = {"spiffe://example.org/ns/ci/sa/agent"};
  request.dns_names = {"agent-1.ci.example.org"};
  request.emails = {"ci-bot@example.org"};
  request.key_type = key_type;
  Result<pki::Credential> client = pki::CreateCertificate(request, &ca.value());
  if (!client.ok()) {
    *error = client.error();
    return "";
  }
  X509Ptr x509(wolfSSL_X509_load_certificate_buffer(
      reinterpret_cast<const unsigned char*>(client->cert_pem.data()),
      static_cast<int>(client->cert_pem.size()), WOLFSSL_FILETYPE_PEM));
  int der_len = 0;
  const unsigned char* der = x509 ? wolfSSL_X509_get_der(x509.get(), &der_len) : nullptr;
  if (der == nullptr || der_len <= 0) {
    *error = "the generated certificate does not load";
    return "";
  }
  return std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(der_len));
}

// Minted once per key type: Google Benchmark calls a benchmark function several times, and an
// RSA key generation would otherwise dwarf what is measured (under callgrind especially).
std::string ClientCertificateDer(pki::KeyType key_type, std::string* error) {
  static std::map<pki::KeyType, std::string> cache;
  auto it = cache.find(key_type);
  if (it != cache.end()) {
    return it->second;
  }
  std::string der = MintClientCertificateDer(key_type, error);
  if (!der.empty()) {
    cache[key_type] = der;
  }
  return der;
}

X509Ptr Decode(const std::string& der) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(der.data());
  return X509Ptr(wolfSSL_X509_d2i(nullptr, bytes, static_cast<int>(der.size())));
}

pki::KeyType KeyTypeOf(const benchmark::State& state) {
  return state.range(0) == 0 ? pki::KeyType::kEcdsaP256 : pki::KeyType::kRsa2048;
}

// Skips with an error unless the identity is the one minted above.
bool CheckIdentity(benchmark::State& state, WOLFSSL_X509* x509) {
  Result<Identity> id = ExtractIdentity(x509);
  if (!id.ok() || id->cn != "agent-1" || id->spiffe_id != "spiffe://example.org/ns/ci/sa/agent" ||
      id->dns_sans.size() != 1 || id->email_sans.size() != 1) {
    state.SkipWithError(id.ok() ? "unexpected identity" : id.error().c_str());
    return false;
  }
  return true;
}

void BM_IdentityExtract(benchmark::State& state) {
  std::string error;
  const std::string der = ClientCertificateDer(KeyTypeOf(state), &error);
  X509Ptr x509 = Decode(der);
  if (!x509) {
    state.SkipWithError(error.empty() ? "the certificate does not decode" : error.c_str());
    return;
  }
  if (!CheckIdentity(state, x509.get())) {
    return;
  }
  state.counters["der_bytes"] = static_cast<double>(der.size());
  for (auto _ : state) {
    Result<Identity> id = ExtractIdentity(x509.get());
    benchmark::DoNotOptimize(id);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(state.range(0) == 0 ? "ecdsa-p256" : "rsa-2048");
}
BENCHMARK(BM_IdentityExtract)->Arg(0)->Arg(1);

void BM_IdentityDecodeAndExtract(benchmark::State& state) {
  std::string error;
  const std::string der = ClientCertificateDer(KeyTypeOf(state), &error);
  X509Ptr check = Decode(der);
  if (!check) {
    state.SkipWithError(error.empty() ? "the certificate does not decode" : error.c_str());
    return;
  }
  if (!CheckIdentity(state, check.get())) {
    return;
  }
  for (auto _ : state) {
    X509Ptr x509 = Decode(der);
    Result<Identity> id = ExtractIdentity(x509.get());
    benchmark::DoNotOptimize(id);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(state.range(0) == 0 ? "ecdsa-p256" : "rsa-2048");
}
BENCHMARK(BM_IdentityDecodeAndExtract)->Arg(0)->Arg(1);

}  // namespace
}  // namespace portcullis::tls
