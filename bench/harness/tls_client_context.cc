#include "bench/harness/tls_client_context.h"

// wolfssl/options.h first: it decides what the other wolfSSL headers declare.
#include <wolfssl/options.h>

#include <wolfssl/ssl.h>

#include <arpa/inet.h>

#include "gateway/tls/tls_context.h"

namespace portcullis::bench {
namespace {

bool IsAddressLiteral(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

std::string QueuedError() {
  unsigned long queued = wolfSSL_ERR_get_error();
  if (queued == 0) {
    return "not a valid PEM file of the expected kind";
  }
  char buf[WOLFSSL_MAX_ERROR_SZ];
  wolfSSL_ERR_error_string_n(queued, buf, sizeof(buf));
  return buf;
}

}  // namespace

ClientTlsContext::~ClientTlsContext() {
  if (ctx_ != nullptr) {
    wolfSSL_CTX_free(ctx_);
  }
}

Result<std::unique_ptr<ClientTlsContext>> ClientTlsContext::Create(const BenchOptions& options) {
  tls::InitLibrary();
  std::unique_ptr<ClientTlsContext> c(new ClientTlsContext());
  WOLFSSL_METHOD* method = options.tls_version == "1.3"   ? wolfTLSv1_3_client_method()
                           : options.tls_version == "1.2" ? wolfTLSv1_2_client_method()
                                                          : wolfSSLv23_client_method();
  c->ctx_ = wolfSSL_CTX_new(method);
  if (c->ctx_ == nullptr) {
    return Status::Error("wolfSSL_CTX_new failed");
  }
  WOLFSSL_CTX* ctx = c->ctx_;
  // Never below TLS 1.2, whatever the server would accept.
  if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
    return Status::Error("cannot set the minimum TLS version");
  }
  // One write per flight, as OpenSSL clients do (and Debian's wolfSSL by default): the server
  // then reads a client's Certificate, CertificateVerify and Finished in one go, and a refusal
  // after the first message cannot turn our next write into a reset that hides its alert.
  if (wolfSSL_CTX_set_group_messages(ctx) != WOLFSSL_SUCCESS) {
    return Status::Error("cannot group handshake messages");
  }
  std::string ciphers = options.ciphers.empty() ? std::string(tls::kDefaultTls13Suites) + ":" +
                                                      tls::kDefaultTls12Ciphers
                                                : options.ciphers;
  if (wolfSSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != WOLFSSL_SUCCESS) {
    return Status::Error("--ciphers: not accepted by wolfSSL: \"" + ciphers + "\"");
  }

  c->verify_ = !options.insecure;
  if (c->verify_) {
    if (!options.ca_file.empty()) {
      if (wolfSSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) !=
          WOLFSSL_SUCCESS) {
        return Status::Error("--ca " + options.ca_file + ": cannot load: " + QueuedError());
      }
    } else if (wolfSSL_CTX_load_system_CA_certs(ctx) != WOLFSSL_SUCCESS) {
      return Status::Error("no --ca given and the system's trust store cannot be loaded");
    }
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, nullptr);
  } else {
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
  }

  if (!options.cert_file.empty()) {
    if (wolfSSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != WOLFSSL_SUCCESS) {
      return Status::Error("--cert " + options.cert_file + ": cannot load: " + QueuedError());
    }
    if (wolfSSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), WOLFSSL_FILETYPE_PEM) !=
        WOLFSSL_SUCCESS) {
      return Status::Error("--key " + options.key_file + ": cannot load: " + QueuedError());
    }
    if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
      return Status::Error("--key " + options.key_file + " does not match --cert " +
                           options.cert_file);
    }
    c->cert_loaded_ = true;
  } else {
    // Without a certificate, notice the server's CertificateRequest: a server that then closes
    // without an alert (as TLS 1.2 servers often do) has refused us for want of a certificate.
    // (The OpenSSL-style callback, which wolfSSL calls only when it has no certificate to send.)
    wolfSSL_CTX_set_client_cert_cb(ctx, [](WOLFSSL* ssl, WOLFSSL_X509**, WOLFSSL_EVP_PKEY**) {
      if (auto* requested = static_cast<bool*>(wolfSSL_get_app_data(ssl))) {
        *requested = true;
      }
      return 0;  // no certificate: send an empty Certificate message
    });
  }
  tls::InstallMemoryIo(ctx);

  c->offer_tickets_ = options.resume;
  c->servername_ = options.sni.empty() ? options.host : options.sni;
  c->sni_is_address_ = IsAddressLiteral(c->servername_);
  // RFC 6066 §3: SNI carries host names only, never a literal address.
  c->sends_sni_ = !c->sni_is_address_ && !c->servername_.empty();
  return c;
}

WOLFSSL* ClientTlsContext::NewSession(tls::MemoryIo* io, bool* cert_requested) const {
  WOLFSSL* ssl = wolfSSL_new(ctx_);
  if (ssl == nullptr) {
    return nullptr;
  }
  tls::AttachMemoryIo(ssl, io);
  wolfSSL_set_app_data(ssl, cert_requested);
  bool ok = true;
  if (offer_tickets_) {
    // TLS 1.2 resumes through the session id, or through a ticket (RFC 5077) when the client
    // asks for one: servers that keep no session cache (Portcullis among them) resume only
    // that way. TLS 1.3 tickets need no asking.
    ok = wolfSSL_UseSessionTicket(ssl) == WOLFSSL_SUCCESS;
  }
  if (ok && sends_sni_) {
    ok = wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, servername_.data(),
                        static_cast<unsigned short>(servername_.size())) == WOLFSSL_SUCCESS;
  }
  if (ok && verify_ && !servername_.empty()) {
    ok = (sni_is_address_
              ? wolfSSL_X509_VERIFY_PARAM_set1_ip_asc(wolfSSL_get0_param(ssl), servername_.c_str())
              : wolfSSL_check_domain_name(ssl, servername_.c_str())) == WOLFSSL_SUCCESS;
  }
  if (!ok) {
    wolfSSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

}  // namespace portcullis::bench
