#include "gateway/tls/cert_der.h"

#include <algorithm>

namespace portcullis::pki {

namespace {

constexpr uint8_t kSequenceTag = 0x30;
constexpr uint8_t kBooleanTag = 0x01;
constexpr uint8_t kOidTag = 0x06;
constexpr uint8_t kExtensionsTag = 0xa3;  // [3] EXPLICIT Extensions in TBSCertificate
// Context-specific class (0x80), primitive: every GeneralName alternative we emit is a string.
constexpr uint8_t kContextPrimitive = 0x80;

void AppendTlv(uint8_t tag, const uint8_t* data, size_t size, std::vector<uint8_t>* out) {
  out->push_back(tag);
  AppendDerLength(size, out);
  out->insert(out->end(), data, data + size);
}

// One parsed element: [start, content) is the tag and length, [content, end) the value.
struct Tlv {
  uint8_t tag = 0;
  size_t start = 0;
  size_t content = 0;
  size_t end = 0;
};

// Reads the element at `pos`, which must end by `limit`. Single-byte tags only (all of X.509's
// are) and definite lengths only, as DER requires.
bool ReadTlv(const std::vector<uint8_t>& buf, size_t pos, size_t limit, Tlv* out) {
  if (pos + 2 > limit) {
    return false;
  }
  out->tag = buf[pos];
  if ((out->tag & 0x1f) == 0x1f) {
    return false;
  }
  size_t length = buf[pos + 1];
  size_t header = 2;
  if (length & 0x80) {
    const size_t count = length & 0x7f;
    if (count == 0 || count > 4 || pos + 2 + count > limit) {
      return false;
    }
    length = 0;
    for (size_t i = 0; i < count; ++i) {
      length = (length << 8) | buf[pos + 2 + i];
    }
    header += count;
  }
  if (length > limit - pos - header) {
    return false;
  }
  out->start = pos;
  out->content = pos + header;
  out->end = out->content + length;
  return true;
}

// Finds the first child of `parent` with `tag`.
bool FindChild(const std::vector<uint8_t>& buf, const Tlv& parent, uint8_t tag, Tlv* out) {
  for (size_t pos = parent.content; pos < parent.end; pos = out->end) {
    if (!ReadTlv(buf, pos, parent.end, out)) {
      return false;
    }
    if (out->tag == tag) {
      return true;
    }
  }
  return false;
}

}  // namespace

void AppendDerLength(size_t length, std::vector<uint8_t>* out) {
  if (length < 0x80) {
    out->push_back(static_cast<uint8_t>(length));
    return;
  }
  uint8_t bytes[sizeof(size_t)];
  int count = 0;
  for (size_t rest = length; rest != 0; rest >>= 8) {
    bytes[count++] = static_cast<uint8_t>(rest & 0xff);
  }
  out->push_back(static_cast<uint8_t>(0x80 | count));
  while (count > 0) {
    out->push_back(bytes[--count]);
  }
}

std::vector<uint8_t> EncodeGeneralNames(const std::vector<GeneralName>& names) {
  std::vector<uint8_t> body;
  for (const GeneralName& name : names) {
    const uint8_t tag = kContextPrimitive | static_cast<uint8_t>(name.type);
    AppendTlv(tag, reinterpret_cast<const uint8_t*>(name.value.data()), name.value.size(), &body);
  }
  std::vector<uint8_t> out;
  AppendTlv(kSequenceTag, body.data(), body.size(), &out);
  return out;
}

Result<std::vector<uint8_t>> MarkExtensionCritical(const std::vector<uint8_t>& tbs,
                                                   std::span<const uint8_t> oid) {
  // The path from the TBSCertificate down to the extension, outermost first.
  std::vector<Tlv> path(4);
  Tlv& cert = path[0];
  if (!ReadTlv(tbs, 0, tbs.size(), &cert) || cert.tag != kSequenceTag || cert.end != tbs.size()) {
    return Status::Error("not a DER TBSCertificate");
  }
  if (!FindChild(tbs, cert, kExtensionsTag, &path[1]) ||
      !FindChild(tbs, path[1], kSequenceTag, &path[2])) {
    return Status::Error("the certificate has no extensions");
  }
  const Tlv& extensions = path[2];
  Tlv oid_tlv;
  bool found = false;
  for (size_t pos = extensions.content; pos < extensions.end && !found; pos = path[3].end) {
    if (!ReadTlv(tbs, pos, extensions.end, &path[3]) || path[3].tag != kSequenceTag ||
        !ReadTlv(tbs, path[3].content, path[3].end, &oid_tlv) || oid_tlv.tag != kOidTag) {
      return Status::Error("malformed extension");
    }
    found = oid_tlv.end - oid_tlv.content == oid.size() &&
            std::equal(oid.begin(), oid.end(), tbs.begin() + oid_tlv.content);
  }
  if (!found) {
    return Status::Error("the certificate has no such extension");
  }

  // Rebuild the extension with `critical TRUE` after its OID (or with an existing flag set to
  // TRUE), then each enclosing element around its changed child, inside out.
  const Tlv& extension = path[3];
  std::vector<uint8_t> content(tbs.begin() + extension.content, tbs.begin() + oid_tlv.end);
  content.insert(content.end(), {kBooleanTag, 0x01, 0xff});
  Tlv flag;
  size_t rest = oid_tlv.end;
  if (ReadTlv(tbs, oid_tlv.end, extension.end, &flag) && flag.tag == kBooleanTag) {
    rest = flag.end;
  }
  content.insert(content.end(), tbs.begin() + rest, tbs.begin() + extension.end);

  std::vector<uint8_t> element;
  for (size_t level = path.size(); level-- > 0;) {
    element.clear();
    AppendTlv(path[level].tag, content.data(), content.size(), &element);
    if (level == 0) {
      break;
    }
    const Tlv& parent = path[level - 1];
    content.assign(tbs.begin() + parent.content, tbs.begin() + path[level].start);
    content.insert(content.end(), element.begin(), element.end());
    content.insert(content.end(), tbs.begin() + path[level].end, tbs.begin() + parent.end);
  }
  return element;
}

}  // namespace portcullis::pki
