#include "gateway/cli/diagnose_command.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <ctime>
#include <iostream>
#include <optional>
#include <sstream>

namespace portcullis::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: portcullis diagnose HOST:PORT [--ca FILE] [--cert FILE --key FILE]\n"
    "                           [--servername NAME] [--timeout-ms N] [--json]\n"
    "\n"
    "Connects to a TLS server (Portcullis or any other) and reports the negotiated version and\n"
    "cipher, the server's certificate chain with subjects, issuers, SANs and validity, whether\n"
    "it verifies against --ca and the name, and on failure the reason with a fix. Sends no\n"
    "application data. Exit 0 verified, 1 failed, 2 usage.\n"
    "\n"
    "  HOST:PORT          a name or address; IPv6 in brackets: [::1]:8443 (port default 443)\n"
    "  --ca FILE          trust anchors (PEM) for the server's chain (default: the system's)\n"
    "  --cert FILE        client certificate (PEM chain) to present, with --key FILE\n"
    "  --servername NAME  the name the server's certificate must carry, also sent as SNI\n"
    "                     (default: HOST)\n"
    "  --timeout-ms N     bound on the TCP connect and on each handshake (default 10000)\n"
    "  --json             print one JSON object instead of the report\n";

std::string Rfc3339(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) {
    return "";
  }
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string JoinSans(const Identity& id) {
  std::string out;
  auto add = [&](const char* kind, const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      out += (out.empty() ? "" : ", ") + std::string(kind) + ":" + name;
    }
  };
  add("DNS", id.dns_sans);
  add("IP", id.ip_sans);
  add("URI", id.uri_sans);
  add("email", id.email_sans);
  return out.empty() ? "(none)" : out;
}

std::string Validity(const tls::ChainCertificate& c) {
  std::string text = Rfc3339(c.identity.not_before) + " .. " + Rfc3339(c.identity.not_after);
  if (c.expired) {
    text += " (EXPIRED " + std::to_string(-c.days_left) + " days ago)";
  } else if (c.not_yet_valid) {
    text += " (NOT YET VALID)";
  } else {
    text += " (" + std::to_string(c.days_left) + " days left)";
  }
  return text;
}

int UsageError(std::ostream& err, const std::string& message) {
  err << "portcullis diagnose: " << message << "\n" << kUsage;
  return kExitUsage;
}

}  // namespace

Result<DiagnoseTarget> ParseDiagnoseTarget(std::string_view text) {
  DiagnoseTarget target;
  std::string_view port_text;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Status::Error("missing ']' after the IPv6 address in \"" + std::string(text) + "\"");
    }
    target.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        return Status::Error("expected \"[address]:port\", got \"" + std::string(text) + "\"");
      }
      port_text = rest.substr(1);
    }
  } else {
    size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return Status::Error("an IPv6 address needs brackets, e.g. \"[::1]:8443\"");
    }
    target.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) {
        return Status::Error("missing port after ':' in \"" + std::string(text) + "\"");
      }
    }
  }
  if (target.host.empty()) {
    return Status::Error("missing host in \"" + std::string(text) + "\"");
  }
  target.port = 443;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return Status::Error("bad port \"" + std::string(port_text) + "\": expected 1..65535");
    }
    target.port = static_cast<uint16_t>(value);
  }
  return target;
}

std::string FormatDiagnosisText(const tls::Diagnosis& d) {
  std::ostringstream out;
  auto row = [&](const char* label, const std::string& value) {
    char padded[32];
    std::snprintf(padded, sizeof(padded), "  %-13s", label);
    out << padded << value << "\n";
  };
  out << "portcullis diagnose " << d.target << "\n";
  row("address", d.address.empty() ? "(not resolved)"
                                   : d.address + (d.connected ? "" : " (no TCP connection)"));
  row("servername", d.servername + (d.sni_sent ? " (sent as SNI)" : " (address: no SNI)"));
  row("trust", d.trust);
  if (!d.version.empty()) {
    std::string protocol = d.version + ", " + (d.cipher.empty() ? "?" : d.cipher);
    if (!d.group.empty()) {
      protocol += ", group " + d.group;
    }
    row("protocol", protocol);
  }
  if (d.handshake_done || !d.chain.empty()) {
    std::string client =
        d.client_certificate_requested ? "requested by the server" : "not requested";
    if (d.client_certificate_requested) {
      client += d.client_certificate_sent ? "; ours was sent" : "; none sent";
    }
    row("client cert", client);
  }
  if (!d.chain.empty()) {
    out << "chain (" << d.chain.size() << (d.chain.size() == 1 ? " certificate" : " certificates")
        << " as sent by the server, leaf first"
        << (d.chain_from_unverified_handshake ? "; fetched with verification off" : "") << "):\n";
    for (size_t i = 0; i < d.chain.size(); ++i) {
      const tls::ChainCertificate& c = d.chain[i];
      std::string index = "  [" + std::to_string(i) + "] ";
      if (!c.error.empty()) {
        out << index << "unreadable: " << c.error << "\n";
        continue;
      }
      out << index << "subject  " << c.identity.subject << "\n";
      out << "      issuer   " << c.identity.issuer << "\n";
      out << "      SANs     " << JoinSans(c.identity) << "\n";
      out << "      valid    " << Validity(c) << "\n";
      if (!c.key.empty()) {
        out << "      key      " << c.key << "\n";
      }
      out << "      serial   " << c.identity.serial_hex << "\n";
      out << "      sha256   " << c.identity.cert_sha256 << "\n";
    }
  }
  if (d.name_checked) {
    row("name", "\"" + d.servername + "\" " +
                    (d.name_matches ? "is named by the leaf certificate"
                                    : "is NOT named by the leaf certificate"));
  }
  if (d.verified) {
    out << "result: OK: verified against " << d.trust << " for \"" << d.servername << "\""
        << (d.client_certificate_sent ? "; the server accepted our client certificate" : "")
        << "\n";
  } else {
    std::string side(tls::SideName(d.side));
    out << "result: FAILED: " << d.reason << (side.empty() ? "" : " (" + side + ")") << "\n";
    if (!d.detail.empty()) {
      out << "  detail  " << d.detail << "\n";
    }
    out << "  fix     " << d.fix << "\n";
  }
  return out.str();
}

std::string FormatDiagnosisJson(const tls::Diagnosis& d) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  auto list = [&](const char* key, const std::vector<std::string>& values) {
    w.Key(key);
    w.StartArray();
    for (const std::string& v : values) {
      w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    }
    w.EndArray();
  };
  w.StartObject();
  str("target", d.target);
  str("address", d.address);
  str("servername", d.servername);
  w.Key("sni_sent");
  w.Bool(d.sni_sent);
  str("trust", d.trust);
  w.Key("connected");
  w.Bool(d.connected);
  w.Key("handshake");
  w.Bool(d.handshake_done);
  w.Key("verified");
  w.Bool(d.verified);
  w.Key("tls");
  w.StartObject();
  str("version", d.version);
  str("cipher", d.cipher);
  str("group", d.group);
  w.EndObject();
  w.Key("client_certificate");
  w.StartObject();
  w.Key("requested");
  w.Bool(d.client_certificate_requested);
  w.Key("sent");
  w.Bool(d.client_certificate_sent);
  w.EndObject();
  w.Key("name");
  w.StartObject();
  w.Key("checked");
  w.Bool(d.name_checked);
  w.Key("matches");
  w.Bool(d.name_matches);
  w.EndObject();
  w.Key("chain_unverified");
  w.Bool(d.chain_from_unverified_handshake);
  w.Key("chain");
  w.StartArray();
  for (const tls::ChainCertificate& c : d.chain) {
    w.StartObject();
    if (!c.error.empty()) {
      str("error", c.error);
      w.EndObject();
      continue;
    }
    const Identity& id = c.identity;
    str("subject", id.subject);
    str("cn", id.cn);
    str("issuer", id.issuer);
    str("serial", id.serial_hex);
    w.Key("san");
    w.StartObject();
    list("dns", id.dns_sans);
    list("ip", id.ip_sans);
    list("uri", id.uri_sans);
    list("email", id.email_sans);
    w.EndObject();
    str("spiffe_id", id.spiffe_id);
    str("not_before", Rfc3339(id.not_before));
    str("not_after", Rfc3339(id.not_after));
    w.Key("days_left");
    w.Int64(c.days_left);
    w.Key("expired");
    w.Bool(c.expired);
    w.Key("not_yet_valid");
    w.Bool(c.not_yet_valid);
    str("key", c.key);
    str("fingerprint_sha256", id.cert_sha256);
    str("spki_sha256", id.spki_sha256);
    w.EndObject();
  }
  w.EndArray();
  w.Key("failure");
  if (d.verified) {
    w.Null();
  } else {
    w.StartObject();
    str("reason", d.reason);
    str("side", std::string(tls::SideName(d.side)));
    str("detail", d.detail);
    str("fix", d.fix);
    w.EndObject();
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

int DiagnoseCommand(const std::vector<std::string>& args) {
  return DiagnoseCommand(args, std::cout, std::cerr);
}

int DiagnoseCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::optional<std::string> target_text;
  tls::DiagnoseOptions options;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string word = args[i];
    if (word == "-h" || word == "--help") {
      out << kUsage;
      return kExitOk;
    }
    if (word == "--json") {
      json = true;
      continue;
    }
    if (word.rfind("--", 0) != 0) {
      if (target_text) {
        return UsageError(err,
                          "more than one HOST:PORT (\"" + *target_text + "\", \"" + word + "\")");
      }
      target_text = word;
      continue;
    }
    std::optional<std::string> value;
    if (size_t eq = word.find('='); eq != std::string::npos) {
      value = word.substr(eq + 1);
      word = word.substr(0, eq);
    }
    std::string* slot = word == "--ca"           ? &options.ca_file
                        : word == "--cert"       ? &options.cert_file
                        : word == "--key"        ? &options.key_file
                        : word == "--servername" ? &options.servername
                                                 : nullptr;
    if (slot == nullptr && word != "--timeout-ms") {
      return UsageError(err, "unknown option " + word);
    }
    if (!value) {
      if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0) {
        return UsageError(err, word + " needs a value");
      }
      value = args[++i];
    }
    if (value->empty()) {
      return UsageError(err, word + " must not be empty");
    }
    if (slot == nullptr) {
      int ms = 0;
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), ms);
      if (ec != std::errc() || end != value->data() + value->size() || ms < 1 || ms > 600000) {
        return UsageError(err, "--timeout-ms must be a number from 1 to 600000");
      }
      options.timeout_ms = ms;
      continue;
    }
    *slot = *value;
  }
  if (!target_text) {
    return UsageError(err, "HOST:PORT is required");
  }
  Result<DiagnoseTarget> target = ParseDiagnoseTarget(*target_text);
  if (!target.ok()) {
    return UsageError(err, target.error());
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return UsageError(err, "--cert and --key go together");
  }
  options.host = target->host;
  options.port = target->port;

  tls::Diagnosis diagnosis = tls::Diagnose(options, static_cast<int64_t>(std::time(nullptr)));
  if (diagnosis.reason == "CLIENT_SETUP") {
    err << "portcullis diagnose: " << diagnosis.detail << "\n";
    return kExitUsage;
  }
  out << (json ? FormatDiagnosisJson(diagnosis) : FormatDiagnosisText(diagnosis));
  out.flush();
  return diagnosis.verified ? kExitOk : kExitFailed;
}

}  // namespace portcullis::cli
