#include "gateway/audit/utf8.h"

#include <cstdint>
#include <cstring>

namespace portcullis::audit {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the sequence at s[0..avail): when *ok, a well-formed character of that many bytes;
// otherwise the maximal subpart to replace (at least 1). Table 3-7 of the Unicode standard.
size_t NextSequence(const uint8_t* s, size_t avail, bool* ok) {
  const uint8_t c = s[0];
  if (c < 0x80) {
    *ok = true;
    return 1;
  }
  size_t need;
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c == 0xE0) {
    need = 2;
    lo = 0xA0;  // no overlongs
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    need = 2;
  } else if (c == 0xED) {
    need = 2;
    hi = 0x9F;  // no UTF-16 surrogates
  } else if (c == 0xF0) {
    need = 3;
    lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    need = 3;
  } else if (c == 0xF4) {
    need = 3;
    hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *ok = false;  // 80..C1 (continuation or overlong lead), F5..FF
    return 1;
  }
  for (size_t i = 1; i <= need; ++i) {
    if (i >= avail) {
      *ok = false;
      return i;
    }
    const uint8_t b = s[i];
    const bool in_range = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!in_range) {
      *ok = false;
      return i;
    }
  }
  *ok = true;
  return need + 1;
}

bool AllAscii8(const uint8_t* s) {
  uint64_t word;
  std::memcpy(&word, s, sizeof(word));
  return (word & 0x8080808080808080ULL) == 0;
}

}  // namespace

CleanText CleanUtf8(std::string_view in, size_t max_bytes, std::string* scratch) {
  const auto* s = reinterpret_cast<const uint8_t*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  // Fast path: scan while the input is valid and within the limit.
  while (i < n) {
    if (i + 8 <= n && i + 8 <= max_bytes && AllAscii8(s + i)) {
      i += 8;
      continue;
    }
    bool ok;
    const size_t len = NextSequence(s + i, n - i, &ok);
    if (!ok) {
      break;
    }
    if (i + len > max_bytes) {
      return {in.substr(0, i), true};
    }
    i += len;
  }
  if (i == n) {
    return {in, false};
  }
  // Slow path: an ill-formed sequence at i. Copy, replacing, still within the limit.
  scratch->assign(in.data(), i);
  while (i < n) {
    bool ok;
    const size_t len = NextSequence(s + i, n - i, &ok);
    const size_t out_len = ok ? len : kReplacement.size();
    if (scratch->size() + out_len > max_bytes) {
      return {*scratch, true};
    }
    if (ok) {
      scratch->append(in.data() + i, len);
    } else {
      scratch->append(kReplacement);
    }
    i += len;
  }
  return {*scratch, false};
}

bool IsValidUtf8(std::string_view in) {
  const auto* s = reinterpret_cast<const uint8_t*>(in.data());
  size_t i = 0;
  while (i < in.size()) {
    if (i + 8 <= in.size() && AllAscii8(s + i)) {
      i += 8;
      continue;
    }
    bool ok;
    i += NextSequence(s + i, in.size() - i, &ok);
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace portcullis::audit
