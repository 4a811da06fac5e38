// The errno table for connect, send and receive.
#include "engine/runtime/socket_errors.hh"

#include <cerrno>
#include <cstring>

namespace ringrelay::engine {

std::string connect_error_words(int error) {
  switch (error) {
    case ECONNREFUSED:
      return "Connection refused";
    case ETIMEDOUT:
    case ECANCELED:  // the linked timeout (smtp_connect_timeout) cancelled the connect
      return "Connection timed out";
    case EHOSTUNREACH:
      return "No route to host";
    case ENETUNREACH:
      return "Network is unreachable";
    case EHOSTDOWN:
      return "Host is down";
    case ENETDOWN:
      return "Network is down";
    case ECONNRESET:
      return "Connection reset by peer";
    case ECONNABORTED:
      return "Software caused connection abort";
    case EADDRNOTAVAIL:  // smtp_bind_address not on this host, or local ports used up
      return "Cannot assign requested address";
    case EADDRINUSE:
      return "Address already in use";
    case EACCES:
      return "Permission denied";
    case EPERM:  // a firewall rule refused it
      return "Operation not permitted";
    case EAFNOSUPPORT:
      return "Address family not supported by protocol";
    case EMFILE:
    case ENFILE:
      return "Too many open files";
    case ENOBUFS:
    case ENOMEM:
      return "Cannot allocate memory";
    case ENOENT:  // a UNIX socket (LMTP) that does not exist
      return "No such file or directory";
    case EPROTO:
      return "Protocol error";
    default:
      return std::strerror(error);
  }
}

bool transfer_error_is_passing(int error) {
  return error == EINTR || error == EAGAIN || error == ENOBUFS;
}

std::string transfer_error_words(int error) {
  switch (error) {
    case ECONNRESET:
      return "Connection reset by peer";
    case EPIPE:
      return "Broken pipe";
    case ETIMEDOUT:
      return "Connection timed out";
    case EHOSTUNREACH:
      return "No route to host";
    case ENETUNREACH:
      return "Network is unreachable";
    case ENOTCONN:
      return "Transport endpoint is not connected";
    case ECANCELED:
      return "Operation canceled";
    default:
      return std::strerror(error);
  }
}

}  // namespace ringrelay::engine
