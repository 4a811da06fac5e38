// Rendering the metrics in Prometheus's text format, and reading the process's figures.
#include "engine/metrics/metrics_exposition.hh"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

namespace ringrelay::engine {
namespace {

constexpr const char* kStatusNames[kResultStatuses] = {"sent", "deferred", "bounced"};
constexpr const char* kFailureNames[kConnectionFailures] = {"connect", "session_setup"};
constexpr const char* kTrustNames[kTlsTrusts] = {"verified", "trusted", "untrusted", "anonymous"};

class Writer {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // `labels` is already rendered ("a=\"b\",c=\"d\"") or empty.
  void sample(const std::string& name, const std::string& labels, double value) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += ' ';
    out_ += number(value);
    out_ += '\n';
  }
  void sample(const std::string& name, const std::string& labels, std::uint64_t value) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

  // The shortest text that reads back as the same double ("0.0025", "1000.3005", "120").
  static std::string number(double value) {
    char text[64];
    auto [end, error] = std::to_chars(text, text + sizeof text, value);
    return error == std::errc() ? std::string(text, end) : "NaN";
  }

 private:
  std::string out_;
};

std::string label(const char* name, const std::string& value) {
  return std::string(name) + "=\"" + escape_label(value) + "\"";
}

template <typename Read>
std::uint64_t summed(const MetricsView& view, Read read) {
  std::uint64_t total = 0;
  for (const ShardMetrics* shard : view.shards) total += read(*shard);
  return total;
}

void counter(Writer& w, const MetricsView& view, const char* name, const char* help,
             std::uint64_t (*read)(const ShardMetrics&)) {
  w.family(name, "counter", help);
  w.sample(name, "", summed(view, read));
}

void histogram(Writer& w, const MetricsView& view, const char* name, const char* help,
               const Histogram ShardMetrics::*member) {
  w.family(name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
    cumulative += summed(view, [&](const ShardMetrics& s) { return (s.*member).bucket(i); });
    std::string le = i < Histogram::kBounds.size() ? Writer::number(Histogram::kBounds[i]) : "+Inf";
    w.sample(std::string(name) + "_bucket", label("le", le), cumulative);
  }
  double sum = static_cast<double>(summed(
                   view, [&](const ShardMetrics& s) { return (s.*member).sum_microseconds(); })) /
               1e6;
  w.sample(std::string(name) + "_sum", "", sum);
  // The count is the +Inf bucket's: read once, so that the two always agree within a scrape.
  w.sample(std::string(name) + "_count", "", cumulative);
}

std::size_t volume(const SiteState& s) {
  return s.queued + s.held + s.active;
}

void site_gauges(Writer& w, const MetricsView& view) {
  std::vector<const SiteState*> sites;
  sites.reserve(view.sites.size());
  for (const SiteState& s : view.sites) sites.push_back(&s);
  std::sort(sites.begin(), sites.end(), [](const SiteState* a, const SiteState* b) {
    if (volume(*a) != volume(*b)) return volume(*a) > volume(*b);
    return std::tie(a->name, a->source) < std::tie(b->name, b->source);
  });
  std::size_t shown = std::min(sites.size(), view.site_limit);
  // The sites beyond the limit, summed (dead and suspended: how many are).
  std::array<std::uint64_t, 7> other{};
  struct Gauge {
    const char* name;
    const char* help;
    std::uint64_t (*read)(const SiteState&);
  };
  static const Gauge gauges[] = {
      {"ringrelay_site_window", "Connections the site's window allows now.",
       [](const SiteState& s) -> std::uint64_t { return s.window; }},
      {"ringrelay_site_active", "Deliveries in progress to the site.",
       [](const SiteState& s) -> std::uint64_t { return s.active; }},
      {"ringrelay_site_connections", "Connections open to the site, busy or cached.",
       [](const SiteState& s) -> std::uint64_t { return s.connections; }},
      {"ringrelay_site_queued", "Jobs waiting for a connection to the site.",
       [](const SiteState& s) -> std::uint64_t { return s.queued; }},
      {"ringrelay_site_held", "Jobs kept back by an operator's hold (ringrelay ctl suspend).",
       [](const SiteState& s) -> std::uint64_t { return s.held; }},
      {"ringrelay_site_dead",
       "1 when the site is dead (its connections failed); for site=\"other\", how many are.",
       [](const SiteState& s) -> std::uint64_t { return s.dead ? 1 : 0; }},
      {"ringrelay_site_suspended",
       "1 when a reply rule suspended the site; for site=\"other\", how many are.",
       [](const SiteState& s) -> std::uint64_t { return s.suspended ? 1 : 0; }},
  };
  static_assert(std::size(gauges) == std::tuple_size_v<decltype(other)>);
  for (std::size_t i = shown; i < sites.size(); ++i) {
    for (std::size_t g = 0; g < other.size(); ++g) other[g] += gauges[g].read(*sites[i]);
  }
  w.family("ringrelay_sites", "gauge", "MX sites the shards know (each with its egress source).");
  w.sample("ringrelay_sites", "", static_cast<std::uint64_t>(sites.size()));
  w.family("ringrelay_sites_partial", "gauge",
           "1 when a shard did not give its sites in time for this scrape.");
  w.sample("ringrelay_sites_partial", "", static_cast<std::uint64_t>(view.sites_partial ? 1 : 0));
  for (std::size_t g = 0; g < other.size(); ++g) {
    w.family(gauges[g].name, "gauge", gauges[g].help);
    for (std::size_t i = 0; i < shown; ++i) {
      const SiteState& s = *sites[i];
      w.sample(gauges[g].name, label("site", s.name) + "," + label("source", s.source),
               gauges[g].read(s));
    }
    if (shown < sites.size()) {
      w.sample(gauges[g].name, label("site", "other") + "," + label("source", ""), other[g]);
    }
  }
}

}  // namespace

std::string escape_label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

// Every shard's feed counters, summed.
struct FeedTotals {
  std::uint64_t requests_accepted = 0, requests_refused = 0, recipients_received = 0, pushback = 0;
  void add(const FeedMetrics& f) {
    requests_accepted += f.requests_accepted.value();
    requests_refused += f.requests_refused.value();
    recipients_received += f.recipients_received.value();
    pushback += f.pushback.value();
  }
};

}  // namespace

std::string render_metrics(const MetricsView& view) {
  Writer w;
  w.family("ringrelay_build_info", "gauge", "The running version, as a label.");
  w.sample("ringrelay_build_info", label("version", view.version), std::uint64_t{1});

  if (!view.feeds.empty()) {
    FeedTotals f;
    for (const FeedMetrics* feed : view.feeds) f.add(*feed);
    w.family("ringrelay_feed_requests_total", "counter",
             "Delivery requests from queue managers: accepted, or refused with an error line.");
    w.sample("ringrelay_feed_requests_total", label("result", "accepted"), f.requests_accepted);
    w.sample("ringrelay_feed_requests_total", label("result", "refused"), f.requests_refused);
    w.family("ringrelay_feed_recipients_total", "counter", "Recipients of accepted requests.");
    w.sample("ringrelay_feed_recipients_total", "", f.recipients_received);
    w.family("ringrelay_feed_pushback_total", "counter",
             "Times a feed client's reading was stopped because the engine was full.");
    w.sample("ringrelay_feed_pushback_total", "", f.pushback);
  }
  w.family("ringrelay_feed_requests_in_flight", "gauge", "Accepted requests not finished yet.");
  w.sample("ringrelay_feed_requests_in_flight", "",
           static_cast<std::uint64_t>(view.requests_in_flight));
  w.family("ringrelay_feed_clients", "gauge", "Feed connections open.");
  std::uint64_t clients = 0;
  for (const FeedMetrics* feed : view.feeds) clients += feed->clients.value();
  w.sample("ringrelay_feed_clients", "", clients);

  w.family("ringrelay_recipients_total", "counter",
           "Final results of recipients, by status and category (docs/feed-protocol.md).");
  for (std::size_t status = 0; status < kResultStatuses; ++status) {
    for (std::size_t category = 0; category < kResultCategories; ++category) {
      bool delivered = category == static_cast<std::size_t>(ResultCategory::delivered);
      if (delivered != (status == static_cast<std::size_t>(ResultStatus::sent))) continue;
      std::uint64_t n = summed(
          view, [&](const ShardMetrics& s) { return s.recipients[status][category].value(); });
      w.sample(
          "ringrelay_recipients_total",
          label("status", kStatusNames[status]) + "," +
              label("category", std::string(category_name(static_cast<ResultCategory>(category)))),
          n);
    }
  }
  // A sent result with a category other than delivered cannot happen; one that did would show.
  counter(w, view, "ringrelay_connections_opened_total",
          "SMTP/LMTP connections opened (each attempt, whether it connected or not).",
          [](const ShardMetrics& s) { return s.connections_opened.value(); });
  counter(w, view, "ringrelay_connections_reused_total",
          "Deliveries that used a cached connection instead of opening one.",
          [](const ShardMetrics& s) { return s.connections_reused.value(); });
  w.family("ringrelay_connection_failures_total", "counter",
           "Connections that ended before they could carry mail: no TCP connection (connect), or "
           "the greeting, EHLO, STARTTLS or AUTH failed (session_setup).");
  for (std::size_t r = 0; r < kConnectionFailures; ++r) {
    w.sample("ringrelay_connection_failures_total", label("reason", kFailureNames[r]),
             summed(view, [&](const ShardMetrics& s) { return s.connection_failures[r].value(); }));
  }
  w.family("ringrelay_tls_handshakes_total", "counter",
           "TLS handshakes completed, full or resumed, by how the server was authenticated.");
  for (std::size_t t = 0; t < kTlsTrusts; ++t) {
    w.sample("ringrelay_tls_handshakes_total",
             label("handshake", "full") + "," + label("trust", kTrustNames[t]),
             summed(view, [&](const ShardMetrics& s) { return s.tls_full[t].value(); }));
    w.sample("ringrelay_tls_handshakes_total",
             label("handshake", "resumed") + "," + label("trust", kTrustNames[t]),
             summed(view, [&](const ShardMetrics& s) { return s.tls_resumed[t].value(); }));
  }
  counter(w, view, "ringrelay_tls_handshake_failures_total",
          "TLS handshakes that failed where TLS was optional (the session went on in plaintext or "
          "on another connection).",
          [](const ShardMetrics& s) { return s.tls_failed.value(); });
  histogram(w, view, "ringrelay_connect_seconds", "Time to open the TCP connection.",
            &ShardMetrics::connect_seconds);
  histogram(w, view, "ringrelay_session_setup_seconds",
            "From the TCP connection to a session ready for mail: greeting, EHLO, STARTTLS with "
            "its second EHLO, AUTH.",
            &ShardMetrics::session_setup_seconds);
  histogram(w, view, "ringrelay_greeting_seconds",
            "From the TCP connection to the server's greeting (a slow greeting is a tarpit or a "
            "busy server).",
            &ShardMetrics::greeting_seconds);
  histogram(w, view, "ringrelay_tls_handshake_seconds",
            "From STARTTLS accepted to the TLS handshake done.",
            &ShardMetrics::tls_handshake_seconds);
  histogram(w, view, "ringrelay_ehlo_seconds",
            "The rest of the session set-up: EHLO (again after STARTTLS) and AUTH.",
            &ShardMetrics::ehlo_seconds);
  histogram(w, view, "ringrelay_transmission_seconds",
            "From MAIL FROM to the end-of-data reply (Postfix's delays=d).",
            &ShardMetrics::transmission_seconds);
  histogram(w, view, "ringrelay_delivery_seconds",
            "From the feed to the recipient's result: queue, connection set-up and transmission "
            "(Postfix's delays=b+c+d).",
            &ShardMetrics::delivery_seconds);

  w.family("ringrelay_shard_cpu_seconds_total", "counter",
           "CPU time of each shard's thread; rate() is its utilisation of one core (shard 0 also "
           "runs the feed, the admin socket and this endpoint).");
  for (std::size_t i = 0; i < view.shard_cpu_seconds.size(); ++i) {
    w.sample("ringrelay_shard_cpu_seconds_total", label("shard", std::to_string(i)),
             view.shard_cpu_seconds[i]);
  }

  site_gauges(w, view);

  const ProcessFigures& p = view.process;
  w.family("process_cpu_seconds_total", "counter", "User and system CPU time of the process.");
  w.sample("process_cpu_seconds_total", "", p.cpu_seconds);
  w.family("process_resident_memory_bytes", "gauge", "Resident memory of the process.");
  w.sample("process_resident_memory_bytes", "", p.resident_bytes);
  w.family("process_virtual_memory_bytes", "gauge", "Virtual memory of the process.");
  w.sample("process_virtual_memory_bytes", "", p.virtual_bytes);
  w.family("process_open_fds", "gauge", "Open file descriptors.");
  w.sample("process_open_fds", "", p.open_fds);
  w.family("process_max_fds", "gauge", "The file descriptor limit (RLIMIT_NOFILE).");
  w.sample("process_max_fds", "", p.max_fds);
  w.family("process_start_time_seconds", "gauge", "Start of the process, seconds since the epoch.");
  w.sample("process_start_time_seconds", "", p.start_time_seconds);
  return w.take();
}

ProcessFigures read_process_figures() {
  ProcessFigures p;
  long page = ::sysconf(_SC_PAGESIZE);
  long ticks = ::sysconf(_SC_CLK_TCK);
  {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t size = 0, resident = 0;
    if (statm >> size >> resident) {
      p.virtual_bytes = size * static_cast<std::uint64_t>(page);
      p.resident_bytes = resident * static_cast<std::uint64_t>(page);
    }
  }
  {
    std::ifstream stat("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name, which is in parentheses and may hold spaces.
    auto close = text.rfind(')');
    if (close != std::string::npos && ticks > 0) {
      std::istringstream fields(text.substr(close + 2));
      std::vector<std::string> f;
      std::string field;
      while (fields >> field) f.push_back(field);
      // fields[0] is field 3 (state): utime 14, stime 15.
      if (f.size() > 12) {
        double utime = std::stod(f[11]), stime = std::stod(f[12]);
        p.cpu_seconds = (utime + stime) / static_cast<double>(ticks);
      }
    }
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    std::uint64_t n = 0;
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
    p.open_fds = n > 0 ? n - 1 : 0;  // not the directory's own descriptor
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = limit.rlim_cur;
  return p;
}

}  // namespace ringrelay::engine
