#include "bench/harness/proc_stats.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace portcullis::bench {
namespace {

Result<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Status::Error("cannot read " + path + " (is the process running?)");
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The number after "Name:" in /proc/PID/status, 0 if absent.
uint64_t StatusField(const std::string& status, const std::string& name) {
  size_t pos = status.find("\n" + name + ":");
  if (pos == std::string::npos) {
    return 0;
  }
  return std::strtoull(status.c_str() + pos + name.size() + 2, nullptr, 10);
}

}  // namespace

Result<uint64_t> ParseStatCpuTicks(const std::string& stat_text) {
  size_t close = stat_text.rfind(')');
  if (close == std::string::npos) {
    return Status::Error("unexpected /proc/PID/stat format");
  }
  std::istringstream fields(stat_text.substr(close + 1));
  // After the command name: state (field 3) ... utime is field 14, stime field 15.
  std::vector<std::string> words;
  std::string word;
  while (words.size() < 13 && fields >> word) {
    words.push_back(word);
  }
  if (words.size() < 13) {
    return Status::Error("unexpected /proc/PID/stat format");
  }
  uint64_t utime = std::strtoull(words[11].c_str(), nullptr, 10);
  uint64_t stime = std::strtoull(words[12].c_str(), nullptr, 10);
  return utime + stime;
}

Result<ProcSample> ReadProcSample(int pid) {
  std::string base = "/proc/" + std::to_string(pid);
  Result<std::string> stat = ReadAll(base + "/stat");
  if (!stat.ok()) {
    return stat.status();
  }
  Result<std::string> status = ReadAll(base + "/status");
  if (!status.ok()) {
    return status.status();
  }
  Result<uint64_t> ticks = ParseStatCpuTicks(*stat);
  if (!ticks.ok()) {
    return ticks.status();
  }
  long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0) {
    hz = 100;
  }
  ProcSample sample;
  sample.cpu_us = *ticks * 1000000 / static_cast<uint64_t>(hz);
  sample.rss_kb = StatusField("\n" + *status, "VmRSS");
  sample.threads = StatusField("\n" + *status, "Threads");
  return sample;
}

}  // namespace portcullis::bench
