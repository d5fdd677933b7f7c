#include "tests/support/test_pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>

#include "tests/support/child_process.h"

namespace portcullis::testing {
namespace {

// Generous: the machine is shared with parallel builds; a healthy call takes milliseconds.
constexpr int kOpensslTimeoutMs = 30000;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) {
    ++b;
  }
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) {
    --e;
  }
  return std::string(s.substr(b, e - b));
}

// Keeps only hex digits of `s` after the first '=' (the form "sha256 Fingerprint=AB:CD:...").
std::string HexAfterEquals(const std::string& s) {
  size_t eq = s.find('=');
  std::string out;
  for (size_t i = eq == std::string::npos ? 0 : eq + 1; i < s.size(); ++i) {
    if (std::isxdigit(static_cast<unsigned char>(s[i]))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
    }
  }
  return out;
}

bool ValidName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

// The openssl ca configuration for one CA. Only what `openssl ca` and `openssl req` need; the
// system openssl.cnf is never consulted for extensions, so results do not depend on the host.
std::string CaConfig(const std::string& db_dir, const std::string& cert, const std::string& key) {
  return "[ca]\n"
         "default_ca = ca_default\n"
         "[ca_default]\n"
         "dir = " +
         db_dir +
         "\n"
         "database = $dir/index.txt\n"
         "new_certs_dir = $dir/newcerts\n"
         "serial = $dir/serial\n"
         "crlnumber = $dir/crlnumber\n"
         "certificate = " +
         cert +
         "\n"
         "private_key = " +
         key +
         "\n"
         "default_md = sha256\n"
         "default_days = 365\n"
         "default_crl_days = 30\n"
         "policy = policy_any\n"
         "unique_subject = no\n"
         "copy_extensions = none\n"
         "[policy_any]\n"
         "countryName = optional\n"
         "stateOrProvinceName = optional\n"
         "localityName = optional\n"
         "organizationName = optional\n"
         "organizationalUnitName = optional\n"
         "commonName = supplied\n"
         "emailAddress = optional\n"
         "[req]\n"
         "distinguished_name = req_dn\n"
         "prompt = no\n"
         "[req_dn]\n"
         "CN = unused\n"
         "[v3_ca]\n"
         "basicConstraints = critical,CA:TRUE\n"
         "keyUsage = critical,keyCertSign,cRLSign\n"
         "subjectKeyIdentifier = hash\n"
         "authorityKeyIdentifier = keyid:always\n";
}

std::vector<std::string> NewKeyArgs(const std::string& key_type) {
  if (key_type == "rsa") {
    return {"-newkey", "rsa:2048"};
  }
  return {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"};
}

}  // namespace

Result<std::string> RunOpenssl(const std::vector<std::string>& args, std::string_view stdin_data) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string command_line;
  for (const auto& a : argv) {
    command_line += (command_line.empty() ? "" : " ") + a;
  }
  Result<CommandResult> r = RunCommand(argv, kOpensslTimeoutMs, stdin_data);
  if (!r.ok()) {
    return Status::Error(command_line + ": " + r.error());
  }
  if (r->exit_status != 0) {
    return Status::Error(command_line + ": exit status " + std::to_string(r->exit_status) +
                         "; stderr: " + r->err);
  }
  return std::move(r->out);
}

TestPki::TestPki() : dir_(std::make_unique<TempDir>("pki")) {}

std::string TestPki::OpensslDate(long long offset_seconds) {
  time_t t = time(nullptr) + static_cast<time_t>(offset_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%y%m%d%H%M%SZ", &tm);
  return buf;
}

Result<std::unique_ptr<TestPki>> TestPki::Create() {
  std::unique_ptr<TestPki> pki(new TestPki());
  Status s = pki->Build();
  if (!s.ok()) {
    return Status::Error("TestPki: " + s.message() + " (files in " + pki->dir() + ")");
  }
  return pki;
}

Status TestPki::MakeCa(const std::string& name, const std::string& subject, CertKey* out) {
  std::string db = dir_->File(name);
  std::error_code ec;
  std::filesystem::create_directories(db + "/newcerts", ec);
  if (ec) {
    return Status::Error("cannot create " + db + ": " + ec.message());
  }
  out->cert = dir_->File(name + ".crt");
  out->key = dir_->File(name + ".key");
  dir_->Write(name + "/index.txt", "");
  dir_->Write(name + "/index.txt.attr", "unique_subject = no\n");
  dir_->Write(name + "/serial", "1000\n");
  dir_->Write(name + "/crlnumber", "1000\n");
  std::string cnf = dir_->Write(name + "/ca.cnf", CaConfig(db, out->cert, out->key));
  std::string csr = db + "/ca.csr";
  std::vector<std::string> req = {"req", "-new"};
  for (auto& a : NewKeyArgs("ec")) {
    req.push_back(a);
  }
  req.insert(req.end(),
             {"-nodes", "-keyout", out->key, "-out", csr, "-subj", subject, "-config", cnf});
  if (auto r = RunOpenssl(req); !r.ok()) {
    return r.status();
  }
  // Self-signed through `openssl ca` so the CA can be backdated: leaves with dates in the past
  // (the expired client) then still fall inside their issuer's validity.
  auto r = RunOpenssl({"ca", "-batch", "-notext", "-selfsign", "-config", cnf, "-keyfile", out->key,
                       "-in", csr, "-out", out->cert, "-startdate", OpensslDate(-30LL * 86400),
                       "-days", "3650", "-extensions", "v3_ca"});
  return r.ok() ? Status::Ok() : r.status();
}

Status TestPki::Build() {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = MakeCa("ca", kCaSubject, &ca_); !s.ok()) {
    return s;
  }
  if (Status s = MakeCa("other-ca", kOtherCaSubject, &other_ca_); !s.ok()) {
    return s;
  }
  struct Spec {
    CertKey* out;
    const char* name;
    std::vector<std::string> lines;
    IssueOptions options;
  };
  const std::string good_san = std::string("subjectAltName = URI:") + kGoodClientSpiffeId +
                               ", DNS:" + kGoodClientDns + ", email:" + kGoodClientEmail;
  IssueOptions server_options;
  server_options.subject = "/O=Portcullis Test/CN=localhost";
  IssueOptions good_options;
  good_options.subject = kGoodClientSubject;
  good_options.serial_hex = kGoodClientSerialHex;
  IssueOptions other_options = good_options;
  other_options.issuer = Issuer::kOtherCa;
  other_options.serial_hex.clear();
  IssueOptions expired_options;
  expired_options.start_date = OpensslDate(-10LL * 86400);
  expired_options.end_date = OpensslDate(-1LL * 86400);
  IssueOptions future_options;
  future_options.start_date = OpensslDate(2LL * 86400);
  future_options.end_date = OpensslDate(30LL * 86400);
  auto san_for = [](const char* name) {
    return std::string("subjectAltName = URI:spiffe://example.org/ns/ci/sa/") + name;
  };
  std::vector<Spec> specs = {
      {&server_,
       "server",
       {"extendedKeyUsage = serverAuth", "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1"},
       server_options},
      {&client_, "client", {good_san}, good_options},
      {&other_ca_client_, "other-ca-client", {good_san}, other_options},
      {&expired_client_, "expired-client", {san_for("expired-client")}, expired_options},
      {&not_yet_valid_client_,
       "not-yet-valid-client",
       {san_for("not-yet-valid-client")},
       future_options},
      {&server_auth_client_,
       "server-auth-client",
       {san_for("server-auth-client"), "extendedKeyUsage = serverAuth"},
       {}},
      {&revoked_client_, "revoked-client", {san_for("revoked-client")}, {}},
  };
  for (auto& spec : specs) {
    Result<CertKey> r = IssueLocked(spec.name, spec.lines, spec.options);
    if (!r.ok()) {
      return r.status();
    }
    *spec.out = *r;
  }
  std::string cnf = dir_->File("ca/ca.cnf");
  empty_crl_ = dir_->File("empty-crl.pem");
  crl_ = dir_->File("crl.pem");
  if (auto r = RunOpenssl({"ca", "-config", cnf, "-gencrl", "-out", empty_crl_}); !r.ok()) {
    return r.status();
  }
  if (auto r = RunOpenssl(
          {"ca", "-config", cnf, "-revoke", revoked_client_.cert, "-crl_reason", "keyCompromise"});
      !r.ok()) {
    return r.status();
  }
  auto r = RunOpenssl({"ca", "-config", cnf, "-gencrl", "-out", crl_});
  return r.ok() ? Status::Ok() : r.status();
}

Result<CertKey> TestPki::IssueClient(const std::string& name,
                                     const std::vector<std::string>& extra_ext_lines,
                                     const IssueOptions& options) const {
  std::lock_guard<std::mutex> lock(mu_);
  return IssueLocked(name, extra_ext_lines, options);
}

Result<CertKey> TestPki::IssueLocked(const std::string& name,
                                     const std::vector<std::string>& extra_ext_lines,
                                     const IssueOptions& options) const {
  if (!ValidName(name)) {
    return Status::Error("IssueClient: bad name \"" + name + "\"");
  }
  std::string stem = name;
  struct stat st;
  for (int i = 2; stat(dir_->File(stem + ".crt").c_str(), &st) == 0; ++i) {
    stem = name + "-" + std::to_string(i);
  }

  // Merge the extension lines: defaults first, overridden by key.
  std::vector<std::pair<std::string, std::string>> ext = {
      {"basicConstraints", "critical,CA:FALSE"}, {"keyUsage", "critical,digitalSignature"},
      {"extendedKeyUsage", "clientAuth"},        {"subjectKeyIdentifier", "hash"},
      {"authorityKeyIdentifier", "keyid"},
  };
  std::string trailer;
  bool in_trailer = false;
  for (const std::string& raw : extra_ext_lines) {
    std::string line = Trim(raw);
    if (in_trailer || (!line.empty() && line[0] == '[')) {
      in_trailer = true;
      trailer += raw + "\n";
      continue;
    }
    if (line.empty()) {
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Status::Error("IssueClient: extension line without '=': " + raw);
    }
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    auto it = std::find_if(ext.begin(), ext.end(), [&](const auto& kv) { return kv.first == key; });
    if (it != ext.end()) {
      it->second = value;
    } else {
      ext.emplace_back(key, value);
    }
  }
  std::string ext_text = "[ext]\n";
  for (const auto& [k, v] : ext) {
    if (!v.empty()) {
      ext_text += k + " = " + v + "\n";
    }
  }
  ext_text += trailer;

  const bool other = options.issuer == Issuer::kOtherCa;
  const std::string db = dir_->File(other ? "other-ca" : "ca");
  const std::string cnf = db + "/ca.cnf";
  CertKey out{dir_->File(stem + ".crt"), dir_->File(stem + ".key")};
  std::string csr = db + "/" + stem + ".csr";
  std::string ext_file = dir_->Write((other ? "other-ca/" : "ca/") + stem + ".ext", ext_text);
  std::string subject = options.subject.empty() ? "/O=Example/CN=" + name : options.subject;

  std::vector<std::string> req = {"req", "-new"};
  for (auto& a : NewKeyArgs(options.key_type)) {
    req.push_back(a);
  }
  req.insert(req.end(),
             {"-nodes", "-keyout", out.key, "-out", csr, "-subj", subject, "-config", cnf});
  if (auto r = RunOpenssl(req); !r.ok()) {
    return r.status();
  }
  if (!options.serial_hex.empty()) {
    dir_->Write((other ? "other-ca/" : "ca/") + std::string("serial"), options.serial_hex + "\n");
  }
  std::vector<std::string> ca = {"ca",   "-batch", "-notext",  "-config", cnf,           "-in", csr,
                                 "-out", out.cert, "-extfile", ext_file,  "-extensions", "ext"};
  if (!options.start_date.empty()) {
    ca.insert(ca.end(), {"-startdate", options.start_date});
  }
  if (!options.end_date.empty()) {
    ca.insert(ca.end(), {"-enddate", options.end_date});
  } else {
    ca.insert(ca.end(), {"-days", std::to_string(options.days)});
  }
  if (auto r = RunOpenssl(ca); !r.ok()) {
    return r.status();
  }
  return out;
}

Status TestPki::RevokeAndWriteCrl(const std::string& cert_path, const std::string& crl_path) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string cnf = dir_->File("ca/ca.cnf");
  if (auto r = RunOpenssl({"ca", "-config", cnf, "-revoke", cert_path}); !r.ok()) {
    return r.status();
  }
  auto r = RunOpenssl({"ca", "-config", cnf, "-gencrl", "-out", crl_path});
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::string> TestPki::Fingerprint(const std::string& cert_path) {
  auto r = RunOpenssl({"x509", "-in", cert_path, "-noout", "-fingerprint", "-sha256"});
  if (!r.ok()) {
    return r.status();
  }
  std::string hex = HexAfterEquals(*r);
  if (hex.size() != 64) {
    return Status::Error("unexpected fingerprint output: " + *r);
  }
  return hex;
}

Result<std::string> TestPki::SpkiSha256(const std::string& cert_path) {
  auto pem = RunOpenssl({"x509", "-in", cert_path, "-noout", "-pubkey"});
  if (!pem.ok()) {
    return pem.status();
  }
  auto der = RunOpenssl({"pkey", "-pubin", "-outform", "DER"}, *pem);
  if (!der.ok()) {
    return der.status();
  }
  auto digest = RunOpenssl({"dgst", "-sha256", "-r"}, *der);
  if (!digest.ok()) {
    return digest.status();
  }
  // "-r" prints "<hex> *stdin".
  std::string hex = Lower(digest->substr(0, digest->find(' ')));
  if (hex.size() != 64) {
    return Status::Error("unexpected dgst output: " + *digest);
  }
  return hex;
}

Result<std::string> TestPki::Serial(const std::string& cert_path) {
  auto r = RunOpenssl({"x509", "-in", cert_path, "-noout", "-serial"});
  if (!r.ok()) {
    return r.status();
  }
  return HexAfterEquals(*r);
}

const TestPki& SharedPki() {
  // Built once, kept until exit (its TempDir is removed by the static destructor).
  static const std::unique_ptr<TestPki> shared = [] {
    Result<std::unique_ptr<TestPki>> r = TestPki::Create();
    if (r.ok()) {
      return std::move(r).value();
    }
    std::unique_ptr<TestPki> placeholder(new TestPki());
    placeholder->error_ = r.error();
    return placeholder;
  }();
  if (!shared->ok()) {
    ADD_FAILURE() << "shared test PKI unavailable: " << shared->error();
  }
  return *shared;
}

}  // namespace portcullis::testing
