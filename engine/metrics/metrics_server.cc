// Answering scrapes: the request line read, the sites gathered, the metrics rendered.
#include "engine/metrics/metrics_server.hh"

#include "engine/metrics/http_request.hh"
#include "engine/runtime/tcp_socket.hh"

namespace ringrelay::engine {

MetricsServer::MetricsServer(Ring& ring, Timers& timers, DeliveryLog& log)
    : log_(log), server_(ring, timers, {kConnectionLimit, kRequestHeadLimit, kConnectionTime}) {
  server_.request_length = [](std::string_view received) { return http_head_length(received); };
  server_.on_request = [this](std::uint64_t id, int, std::string_view head) { handle(id, head); };
  server_.too_long_answer =
      "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: "
      "close\r\n\r\n";
  server_.busy_answer =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  server_.log = [this](const std::string& text) {
    log_.notice("metrics: " + text + " on " + spec_);
  };
}

void MetricsServer::listen(const std::string& spec) {
  if (spec.empty()) return;
  spec_ = spec;
  server_.listen(listen_tcp_socket(spec, "metrics_listen"));
}

void MetricsServer::handle(std::uint64_t connection, std::string_view head) {
  std::string error;
  auto request = parse_http_request_line(head, error);
  if (!request) {
    respond(connection, "400 Bad Request", "text/plain; charset=utf-8", error + "\n");
    return;
  }
  if (request->method != "GET" && request->method != "HEAD") {
    respond(connection, "405 Method Not Allowed", "text/plain; charset=utf-8", "GET or HEAD only\n",
            false, "Allow: GET, HEAD\r\n");
    return;
  }
  bool head_only = request->method == "HEAD";
  if (request->path == "/metrics") {
    scrape(connection, head_only);
  } else if (request->path == "/") {
    respond(connection, "200 OK", "text/plain; charset=utf-8",
            "ringrelay: the metrics are at /metrics (Prometheus text format)\n", head_only);
  } else {
    respond(connection, "404 Not Found", "text/plain; charset=utf-8",
            "no such page: try /metrics\n", head_only);
  }
}

void MetricsServer::scrape(std::uint64_t connection, bool head_only) {
  // The answer comes once the shards have spoken (or the scraper gave up: then it goes nowhere).
  auto finish = [this, connection, head_only](std::vector<SiteState> sites, bool partial) {
    MetricsView view = snapshot ? snapshot() : MetricsView{};
    view.sites = std::move(sites);
    view.sites_partial = partial;
    respond(connection, "200 OK", "text/plain; version=0.0.4; charset=utf-8", render_metrics(view),
            head_only);
  };
  if (gather_sites) {
    gather_sites(std::move(finish));
  } else {
    finish({}, false);
  }
}

void MetricsServer::respond(std::uint64_t connection, const char* status,
                            const std::string& content_type, const std::string& body,
                            bool head_only, const char* extra_headers) {
  std::string answer = std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + content_type +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                       extra_headers + "Connection: close\r\n\r\n";
  if (!head_only) answer += body;
  server_.answer(connection, std::move(answer));
}

}  // namespace ringrelay::engine
