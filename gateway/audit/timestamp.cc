#include "gateway/audit/timestamp.h"

#include <time.h>

#include <climits>
#include <cstring>

namespace portcullis::audit {
namespace {

void Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// Writes "YYYY-MM-DDTHH:MM:SS" (19 bytes). Days to civil date: Howard Hinnant's algorithm
// (http://howardhinnant.github.io/date_algorithms.html#civil_from_days), exact for the
// proleptic Gregorian calendar, negative times included.
void FormatDateTime(int64_t seconds, char* p) {
  int64_t days = seconds / 86400;
  int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t year = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  if (month <= 2) {
    year += 1;
  }
  if (year < 0) {
    year = 0;  // RFC 3339 has no negative years; certificates never need them
  }
  if (year > 9999) {
    year = 9999;
  }
  const auto y = static_cast<unsigned>(year);
  Put2(p, y / 100);
  Put2(p + 2, y % 100);
  p[4] = '-';
  Put2(p + 5, month);
  p[7] = '-';
  Put2(p + 8, day);
  p[10] = 'T';
  const auto r = static_cast<unsigned>(rem);
  Put2(p + 11, r / 3600);
  p[13] = ':';
  Put2(p + 14, (r / 60) % 60);
  p[16] = ':';
  Put2(p + 17, r % 60);
}

}  // namespace

void FormatTimestampMicros(int64_t seconds, uint32_t micros, char* buf) {
  thread_local int64_t cached_second = LLONG_MIN;
  thread_local char cached[19];
  if (seconds != cached_second) {
    FormatDateTime(seconds, cached);
    cached_second = seconds;
  }
  std::memcpy(buf, cached, sizeof(cached));
  buf[19] = '.';
  uint32_t us = micros % 1000000;
  for (int i = 25; i >= 20; --i) {
    buf[i] = static_cast<char>('0' + us % 10);
    us /= 10;
  }
  buf[26] = 'Z';
}

void AppendTimestampMicros(int64_t seconds, uint32_t micros, std::string* out) {
  char buf[kTimestampMicrosSize];
  FormatTimestampMicros(seconds, micros, buf);
  out->append(buf, sizeof(buf));
}

void AppendTimestampSeconds(int64_t seconds, std::string* out) {
  char buf[20];
  FormatDateTime(seconds, buf);
  buf[19] = 'Z';
  out->append(buf, sizeof(buf));
}

void NowRealtime(int64_t* seconds, uint32_t* micros) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  *seconds = ts.tv_sec;
  *micros = static_cast<uint32_t>(ts.tv_nsec / 1000);
}

}  // namespace portcullis::audit
