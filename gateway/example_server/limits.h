// Limits: bounds on untrusted input shared by both transports. Constants only.
#pragma once

#include <cstddef>

namespace portcullis::example {

// Largest JSON-RPC message accepted: an HTTP body (larger → 413) or a stdio line.
inline constexpr size_t kMaxMessageBytes = 1 << 20;
// Largest request line plus headers of an HTTP request (larger → 431).
inline constexpr size_t kMaxHeaderBytes = 64 * 1024;
// HTTP sessions alive at once; initialize beyond it is refused with 503.
inline constexpr size_t kMaxSessions = 4096;

}  // namespace portcullis::example
