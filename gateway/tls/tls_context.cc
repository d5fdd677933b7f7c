#include "gateway/tls/tls_context.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <mutex>

#include "gateway/tls/memory_io.h"
#include "gateway/tls/tls_session.h"

namespace portcullis::tls {
namespace {

// wolfSSL's file loaders return WOLFSSL_FAILURE (0) or a negative code; for 0 the reason is
// in the error queue.
std::string WolfError(int code) {
  char buf[WOLFSSL_MAX_ERROR_SZ];
  if (code == WOLFSSL_FAILURE) {
    unsigned long queued = wolfSSL_ERR_get_error();
    if (queued == 0) return "not a valid PEM file of the expected kind";
    wolfSSL_ERR_error_string_n(queued, buf, sizeof(buf));
    return buf;
  }
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), buf, sizeof(buf));
  return std::string(buf) + " (" + std::to_string(code) + ")";
}

// Suites that must never be offered, whatever the configuration says: no encryption, no
// authentication, broken or export-grade ciphers, or no forward secrecy.
bool IsWeakSuite(std::string_view name) {
  static constexpr std::string_view kWeak[] = {"NULL", "anon", "ADH", "AECDH", "RC4", "DES",
                                               "EXP",  "MD5",  "PSK", "SRP",   "IDEA"};
  for (std::string_view w : kWeak) {
    if (name.find(w) != std::string_view::npos) return true;
  }
  // TLS 1.2 suites without ECDHE/DHE key exchange have no forward secrecy.
  bool tls13 = name.rfind("TLS13-", 0) == 0 || name.rfind("TLS_", 0) == 0;
  return !tls13 && name.find("ECDHE") == std::string_view::npos &&
         name.find("DHE") == std::string_view::npos;
}

Status CheckSuites(const std::string& list) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string::npos) end = list.size();
    std::string_view name(list.data() + start, end - start);
    if (!name.empty() && IsWeakSuite(name)) {
      return Status::Error("tls: cipher \"" + std::string(name) +
                           "\" is not allowed (no NULL, anonymous, export, RC4, DES, MD5, PSK "
                           "or non-forward-secret suites)");
    }
    start = end + 1;
  }
  return Status::Ok();
}

// Never changes wolfSSL's verdict; it only lets the session remember who a refused client
// claimed to be (the audit's "any identity seen"). Debian's build calls it for every
// certificate, on success too (WOLFSSL_ALWAYS_VERIFY_CB, WOLFSSL_VERIFY_CB_ALL_CERTS).
int RememberRefusedLeaf(int preverify, WOLFSSL_X509_STORE_CTX* store) {
  if (!preverify && store && store->error_depth == 0 && store->current_cert && store->userCtx) {
    static_cast<TlsSession*>(store->userCtx)->RememberPresented(store->current_cert);
  }
  return preverify;
}

// Owns a WOLFSSL_CTX until it is handed to a TlsContext.
struct CtxHolder {
  WOLFSSL_CTX* ctx = nullptr;
  ~CtxHolder() {
    if (ctx) wolfSSL_CTX_free(ctx);
  }
  WOLFSSL_CTX* release() { return std::exchange(ctx, nullptr); }
};

}  // namespace

void InitLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { wolfSSL_Init(); });
}

void ReleaseThreadResources() {
#ifdef FP_ECC
  wc_ecc_fp_free();
#endif
}

Result<std::shared_ptr<const TlsContext>> TlsContext::Create(const TlsConfig& config) {
  InitLibrary();
  CtxHolder holder;
  holder.ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
  if (!holder.ctx) return Status::Error("wolfSSL_CTX_new failed");
  WOLFSSL_CTX* ctx = holder.ctx;

  // TLS 1.0 and 1.1 can never be enabled; the config loader refuses them too.
  int min_version = config.min_version == "1.3" ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2;
  if (int rc = wolfSSL_CTX_SetMinVersion(ctx, min_version); rc != WOLFSSL_SUCCESS) {
    return Status::Error("setting the minimum TLS version: " + WolfError(rc));
  }
  std::string suites = config.ciphersuites.empty() ? kDefaultTls13Suites : config.ciphersuites;
  std::string ciphers = config.ciphers.empty() ? kDefaultTls12Ciphers : config.ciphers;
  std::string list = suites + ":" + ciphers;
  if (Status s = CheckSuites(list); !s.ok()) return s;
  if (wolfSSL_CTX_set_cipher_list(ctx, list.c_str()) != WOLFSSL_SUCCESS) {
    return Status::Error("tls: cipher list not accepted by wolfSSL: \"" + list + "\"");
  }

  if (int rc = wolfSSL_CTX_use_certificate_chain_file(ctx, config.cert.c_str());
      rc != WOLFSSL_SUCCESS) {
    return Status::Error("tls.cert " + config.cert + ": cannot load: " + WolfError(rc));
  }
  if (int rc = wolfSSL_CTX_use_PrivateKey_file(ctx, config.key.c_str(), WOLFSSL_FILETYPE_PEM);
      rc != WOLFSSL_SUCCESS) {
    return Status::Error("tls.key " + config.key + ": cannot load: " + WolfError(rc));
  }
  if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
    return Status::Error("tls.key " + config.key + " does not match tls.cert " + config.cert);
  }

  if (config.client_ca.empty()) {
    return Status::Error(
        "tls.client_ca: at least one CA is required (clients must present a "
        "certificate)");
  }
  for (const std::string& ca : config.client_ca) {
    if (int rc = wolfSSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
        rc != WOLFSSL_SUCCESS) {
      return Status::Error("tls.client_ca " + ca + ": cannot load: " + WolfError(rc));
    }
  }
  // VERIFY_PEER alone lets a client without a certificate through; FAIL_IF_NO_PEER_CERT is
  // what makes this mutual TLS.
  wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         RememberRefusedLeaf);
  wolfSSL_CTX_set_verify_depth(ctx, static_cast<int>(config.verify_depth));

  if (!config.crl.empty()) {
    if (int rc = wolfSSL_CTX_EnableCRL(ctx, WOLFSSL_CRL_CHECK); rc != WOLFSSL_SUCCESS) {
      return Status::Error("tls.crl: cannot enable CRL checking: " + WolfError(rc));
    }
    for (const std::string& crl : config.crl) {
      if (int rc = wolfSSL_CTX_LoadCRLFile(ctx, crl.c_str(), WOLFSSL_FILETYPE_PEM);
          rc != WOLFSSL_SUCCESS) {
        return Status::Error("tls.crl " + crl + ": cannot load: " + WolfError(rc));
      }
    }
  }

  // Resumption. wolfSSL 5.5.4 can resume a TLS 1.3 ticket without the peer certificate once
  // its 33-entry global cache has turned over, and resumes TLS 1.2 session ids across
  // contexts (notes/wolfssl-libuv.md §4). The stateful cache is always off; tickets only when
  // configured, and TlsSession refuses a resumed session that comes back without a
  // certificate.
  wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
  // A TLS 1.2 ticket never brings the peer certificate back in 5.5.4, so every TLS 1.2
  // resumption would be refused (and the client would see a dropped connection, not a full
  // handshake): TLS 1.2 tickets are never issued; TLS 1.2 clients always do a full handshake.
  wolfSSL_CTX_NoTicketTLSv12(ctx);
  if (!config.session_tickets) wolfSSL_CTX_no_ticket_TLSv13(ctx);

  InstallMemoryIo(ctx);
  return std::shared_ptr<const TlsContext>(
      new TlsContext(holder.release(), config.session_tickets, config.handshake_timeout_ms));
}

TlsContext::~TlsContext() { wolfSSL_CTX_free(ctx_); }

}  // namespace portcullis::tls
