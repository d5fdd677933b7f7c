#include "tests/support/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>

namespace portcullis::testing {

uint16_t ParseListeningPort(const std::string& log_line) {
  // host:port where host is a dotted quad, a bracketed IPv6 literal, a name or '*'.
  static const std::regex kHostPort(
      R"((?:\[[0-9A-Fa-f:.]*\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9_.-]+|\*):([0-9]{1,5})\b)");
  uint16_t port = 0;
  for (auto it = std::sregex_iterator(log_line.begin(), log_line.end(), kHostPort);
       it != std::sregex_iterator(); ++it) {
    unsigned long value = std::stoul((*it)[1].str());
    if (value > 0 && value <= 65535) {
      port = static_cast<uint16_t>(value);
    }
  }
  return port;
}

uint16_t PickFreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace portcullis::testing
