#include "gateway/reactor/listen_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::reactor {
namespace {

Status Errno(const std::string& what) {
  return Status::Error(what + ": " + std::strerror(errno));
}

}  // namespace

Result<int> OpenListenSocket(const ListenAddress& address, int backlog) {
  sockaddr_storage ss = {};
  socklen_t len = 0;
  int family = 0;
  if (address.host.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET6, address.host.c_str(), &a6->sin6_addr) != 1) {
      return Status::Error("listen " + address.ToString() + ": not an IPv6 address");
    }
    a6->sin6_family = family = AF_INET6;
    a6->sin6_port = htons(address.port);
    len = sizeof(*a6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    if (inet_pton(AF_INET, address.host.c_str(), &a4->sin_addr) != 1) {
      return Status::Error("listen " + address.ToString() + ": not an IPv4 address");
    }
    a4->sin_family = family = AF_INET;
    a4->sin_port = htons(address.port);
    len = sizeof(*a4);
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    Status s = Errno("setsockopt SO_REUSEPORT");
    close(fd);
    return s;
  }
  if (family == AF_INET6) {
    // "[::]:8443" means IPv6 only; list "0.0.0.0:8443" too for both families.
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    Status s = Errno("bind " + address.ToString());
    close(fd);
    return s;
  }
  if (listen(fd, backlog) != 0) {
    Status s = Errno("listen " + address.ToString());
    close(fd);
    return s;
  }
  return fd;
}

Result<uint16_t> BoundPort(int fd) {
  sockaddr_storage ss = {};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return Errno("getsockname");
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace portcullis::reactor
