// RFC 3339 UTC timestamps for audit records: "2026-11-27T13:24:37.123456Z" (record time) and
// "2027-01-01T00:00:00Z" (certificate dates).
//
// Formatted by hand from the Unix time (no locale, no time zone database, no gmtime lock);
// the date part is cached per thread for the current second, so a record's "ts" costs one
// clock_gettime and a few digit stores. Thread-safe (the cache is thread_local).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace portcullis::audit {

inline constexpr size_t kTimestampMicrosSize = 27;
// Writes "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (kTimestampMicrosSize bytes, no NUL) for seconds and
// microseconds since the epoch.
void FormatTimestampMicros(int64_t seconds, uint32_t micros, char* out);
// The same, appended.
void AppendTimestampMicros(int64_t seconds, uint32_t micros, std::string* out);
// Appends "YYYY-MM-DDTHH:MM:SSZ" (20 bytes).
void AppendTimestampSeconds(int64_t seconds, std::string* out);
// The current CLOCK_REALTIME as seconds and microseconds.
void NowRealtime(int64_t* seconds, uint32_t* micros);

}  // namespace portcullis::audit
