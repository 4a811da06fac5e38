// The serve loop: one shard (the ring, timers, scheduler and feed server in this thread), signals
// read through a signalfd on the ring, a bounded drain on SIGTERM, and reloads on SIGHUP.
#include "engine/cli/command_serve.hh"

#include <signal.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/config/config.hh"
#include "engine/config/engine_settings.hh"
#include "engine/config/parameter_support.hh"
#include "engine/control/control_server.hh"
#include "engine/delivery/delivery_log.hh"
#include "engine/delivery/router.hh"
#include "engine/delivery/scheduler.hh"
#include "engine/delivery/shard_resolver.hh"
#include "engine/delivery/smtp_connection.hh"
#include "engine/feed/feed_access.hh"
#include "engine/feed/feed_protocol.hh"
#include "engine/feed/feed_server.hh"
#include "engine/metrics/metrics_server.hh"
#include "engine/runtime/privileges.hh"
#include "engine/runtime/ring.hh"
#include "engine/runtime/service_notify.hh"
#include "engine/runtime/shards.hh"
#include "engine/runtime/timers.hh"
#include "engine/version.hh"

namespace ringrelay::engine {
namespace {

constexpr std::chrono::seconds kShutdownGrace{10};

struct SignalReader : Completion {
  int fd = -1;
  signalfd_siginfo info{};
  int last = 0;
  bool in_flight = false;
};

void on_signal(Completion& c, int result, std::uint32_t) {
  auto& reader = static_cast<SignalReader&>(c);
  reader.in_flight = false;
  if (result == static_cast<int>(sizeof(signalfd_siginfo)))
    reader.last = static_cast<int>(reader.info.ssi_signo);
}

void arm_signal(Ring& ring, SignalReader& reader) {
  if (reader.in_flight) return;
  io_uring_prep_read(ring.prepare(&reader), reader.fd, &reader.info, sizeof reader.info, 0);
  reader.in_flight = true;
}

bool load(const std::string& path, bool explicit_path, Config& config, std::string& error) {
  std::vector<std::string> warnings;
  if (!load_main_cf(path, explicit_path, config, error, warnings)) return false;
  for (const auto& w : warnings) std::cerr << "ringrelay: warning: " << w << '\n';
  return true;
}

}  // namespace

int run_serve_command(std::span<const std::string_view> args) {
  std::string path(kDefaultConfigPath);
  bool explicit_path = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-c" && i + 1 < args.size()) {
      path = args[++i];
      explicit_path = true;
    } else {
      std::cerr << "usage: ringrelay serve [-c PATH]\n";
      return EX_USAGE;
    }
  }
  Config config(HostFacts::from_system());
  std::string error;
  if (!load(path, explicit_path, config, error)) {
    std::cerr << "ringrelay: fatal: " << error << '\n';
    return EX_CONFIG;
  }
  EngineSettings settings;
  try {
    settings = engine_settings(config);
  } catch (const ConfigError& e) {
    std::cerr << "ringrelay: fatal: " << e.what() << '\n';
    return EX_CONFIG;
  }

  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // One instance per feed socket: the lock is taken before anything is unlinked or created.
  std::unique_ptr<InstanceLock> instance;
  try {
    if (!settings.feed_socket.empty())
      instance = std::make_unique<InstanceLock>(settings.feed_socket);
  } catch (const InstanceLocked& e) {
    std::cerr << "ringrelay: fatal: " << e.what() << '\n';
    return EX_TEMPFAIL;
  } catch (const std::exception& e) {
    return report_fatal(e);
  }

  try {
    DeliveryLog log(settings.maillog_file, settings.json_log, settings.syslog_name,
                    settings.myhostname, settings.syslog_facility);
    Ring ring(4096);
    Timers timers;
    // Shared with the other shards' feed servers (it does not change once made).
    std::shared_ptr<const Router> router =
        std::make_shared<const Router>(settings.relayhost, settings.transport_maps,
                                       settings.sender_relayhost_maps, settings.empty_sender_key);
    ShardResolver resolver(ring, timers, settings);
    std::size_t shard_count =
        settings.shards > 0 ? settings.shards : std::max(1u, std::thread::hardware_concurrency());
    FeedRegistry feed_registry;
    FeedServer feed(ring, timers, settings, log, feed_registry, ShardPlace{0, shard_count});
    RingNetwork network(ring, timers);
    // Every shard's counters, read by the metrics endpoint (each written by its shard only).
    std::vector<std::unique_ptr<ShardMetrics>> shard_metrics;
    std::vector<ShardMetrics*> metrics_of;
    for (std::size_t i = 0; i < shard_count; ++i) {
      shard_metrics.push_back(std::make_unique<ShardMetrics>());
      metrics_of.push_back(shard_metrics.back().get());
    }
    mark_shard_thread(*metrics_of[0]);
    Scheduler scheduler(network, timers, settings, resolver, feed, ShardPlace{0, shard_count});
    scheduler.log_notice = [&log](const std::string& text) { log.notice(text); };
    scheduler.log_connection_notice = [&log](const std::string& id, const std::string& peer,
                                             const std::string& text) {
      log.connection_notice(id, peer, text);
    };
    scheduler.metrics = metrics_of[0];
    feed.shard_metrics = metrics_of[0];
    // The other shards write each result's log line and format its feed record themselves.
    auto prepare = [&log](ResultRecord& record) { prepare_result(record, log); };
    ShardSet shards(shard_count, settings, ring, log, prepare, metrics_of, &feed_registry);
    bool stopping = false;
    // Work for a shard: by the site a shard learnt for the next hop, else by the hop's hash. The
    // owning shard's lookup may hand it on once (`owned` then), to the shard owning its site.
    auto route = [&](const RequestPointer& request, const dns::Nexthop& hop,
                     std::vector<std::size_t> recipients, bool owned, std::size_t owner,
                     std::shared_ptr<const ResolveAnswer> answer) {
      // While stopping, the workers may be gone: what comes back is deferred here.
      if (owner == 0 || stopping) {
        scheduler.submit(request, hop, recipients, owned, std::move(answer));
        return;
      }
      shards.submit(owner, WorkItem::deliver(request, hop, std::move(recipients), owned, owner,
                                             std::move(answer)));
    };
    auto dispatch = [&](const RequestPointer& request, const dns::Nexthop& hop,
                        std::vector<std::size_t> recipients) {
      route(request, hop, std::move(recipients), false, shards.owner(hop), nullptr);
    };
    auto hand_over = [&](std::size_t owner, const RequestPointer& request, const dns::Nexthop& hop,
                         std::vector<std::size_t> recipients,
                         std::shared_ptr<const ResolveAnswer> answer) {
      shards.learn_owner(hop, owner);
      route(request, hop, std::move(recipients), true, owner, std::move(answer));
    };
    scheduler.hand_over = hand_over;
    // A feed connection goes to the shard that holds its client (FeedConnection::target).
    auto move_connection = [&](FeedConnection&& connection) {
      if (connection.target == 0) {
        feed.adopt(std::move(connection));
      } else if (stopping || shards.finished(connection.target)) {
        ::close(connection.fd);
      } else {
        shards.submit(connection.target, WorkItem::feed_connection(std::move(connection)));
      }
    };
    auto reroute = [&](WorkItem&& item) {
      if (item.kind == WorkItem::Kind::feed_connection) {
        move_connection(std::move(item.connection));
      } else if (!item.owned) {  // a request another shard's feed took
        dispatch(item.request, item.hop, std::move(item.recipients));
      } else {
        hand_over(item.owner, item.request, item.hop, std::move(item.recipients),
                  std::move(item.answer));
      }
    };
    feed.attach(dispatch, *router);
    // A result for another shard's feed server goes there.
    feed.forward_result = [&](ResultRecord record) {
      std::size_t to = record.request->feed_shard;
      if (shards.finished(to)) {
        log.notice("feed: a result of " + record.request->id + " for shard " + std::to_string(to) +
                   ", which has stopped, is left to its results journal");
        return;
      }
      shards.submit(to, WorkItem::feed_result(std::move(record)));
    };
    feed.hand_off = [&](FeedConnection connection) { move_connection(std::move(connection)); };
    // Push-back: no request is read while a shard's mailbox is full or too many are in flight.
    auto backlogged = [&] { return shards.backlogged() || feed.full(); };
    feed.backlogged = backlogged;
    feed.listen();
    shards.start_feeds(feed.listeners(), router);
    // The admin socket (ringrelay ctl): holds go to every shard, questions are asked of all.
    ControlServer control(ring, timers, settings, log);
    control.publish_holds = [&](const HoldSetPointer& holds) {
      scheduler.set_holds(holds);
      shards.publish_holds(holds);
    };
    control.answer_here = [&](const ControlCommand& command, std::uint64_t id) {
      return answer_on_shard(scheduler, command, id);
    };
    control.ask_others = [&](const std::shared_ptr<const ControlCommand>& command,
                             std::uint64_t id) { return shards.ask(command, id); };
    shards.on_control_reply = [&](ControlReply&& reply) { control.take_reply(std::move(reply)); };
    control.listen();
    // The Prometheus endpoint: counters read from every shard, sites asked of them.
    MetricsServer metrics(ring, timers, log);
    double started_at =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    metrics.snapshot = [&] {
      MetricsView view;
      view.shards.assign(metrics_of.begin(), metrics_of.end());
      for (const ShardMetrics* shard : metrics_of) {
        view.shard_cpu_seconds.push_back(shard_cpu_seconds(*shard));
      }
      view.feeds = shards.feed_metrics();
      view.feeds.insert(view.feeds.begin(), &feed.metrics());
      view.requests_in_flight = feed_registry.requests_in_flight();
      view.site_limit = settings.metrics_site_limit;
      view.version = kVersion;
      view.process = read_process_figures();
      view.process.start_time_seconds = started_at;
      return view;
    };
    metrics.gather_sites = [&](MetricsServer::SitesDone done) {
      control.gather_sites(std::move(done));
    };
    metrics.listen(settings.metrics_listen);
    // Root's part is done: sockets bound, journal, log and state opened. From here on, none.
    std::vector<std::string> journal_directories;  // each shard's, handed to ringrelay_user
    for (std::size_t i = 0; i < shard_count && !settings.results_journal.empty(); ++i) {
      journal_directories.push_back(shard_journal_directory(settings.results_journal, i));
    }
    if (std::string dropped = drop_privileges(settings.ringrelay_user, journal_directories);
        !dropped.empty()) {
      log.notice(dropped);
    }
    if (::geteuid() != 0) {
      std::string problem = check_writable_directory(settings.results_journal, "results_journal");
      if (problem.empty() && !settings.control_state_file.empty()) {
        problem = check_writable_directory(
            std::filesystem::path(settings.control_state_file).parent_path().string(),
            "control_state_file " + settings.control_state_file);
      }
      if (!problem.empty()) throw std::runtime_error(problem);
    }

    SignalReader signal_reader;
    signal_reader.handler = &on_signal;
    signal_reader.fd = ::signalfd(-1, &signals, SFD_CLOEXEC);
    arm_signal(ring, signal_reader);
    for (const std::string& notice : settings.notices) log.notice(notice);
    log.notice("ringrelay " + std::string(kVersion) + " started: feed on " + settings.feed_socket +
               (settings.feed_tcp_listen.empty() ? "" : " and " + settings.feed_tcp_listen) +
               (settings.control_socket.empty() ? "" : ", admin on " + settings.control_socket) +
               (settings.metrics_listen.empty() ? "" : ", metrics on " + settings.metrics_listen) +
               ", io_uring " + ring.mode() + ", " + std::to_string(shard_count) +
               (shard_count == 1 ? " shard" : " shards"));
    notify_ready("delivering: feed on " + settings.feed_socket + ", " +
                 std::to_string(shard_count) + (shard_count == 1 ? " shard" : " shards"));

    Clock::time_point stop_deadline{};
    for (;;) {
      ring.run_once(timers.until_next(std::chrono::seconds(1)), &timers);
      timers.fire_due();
      shards.pump(feed, reroute);
      if (auto failure = shards.failure()) {
        log.notice("fatal: " + *failure);
        log.flush();
        throw std::runtime_error(*failure);
      }
      if (!backlogged()) feed.resume_reading();
      scheduler.collect_garbage();
      if (signal_reader.last == SIGHUP) {
        signal_reader.last = 0;
        notify_reloading();
        std::string outcome;  // for the service manager's status
        Config fresh(HostFacts::from_system());
        if (!load(path, explicit_path, fresh, error)) {
          outcome = "reload refused, keeping the running configuration: " + error;
          log.notice(outcome);
        } else {
          try {
            EngineSettings fresh_settings = engine_settings(fresh);
            auto fresh_router = std::make_shared<const Router>(
                fresh_settings.relayhost, fresh_settings.transport_maps,
                fresh_settings.sender_relayhost_maps, fresh_settings.empty_sender_key);
            fresh_settings.generation = settings.generation + 1;
            settings = std::move(fresh_settings);  // new work uses it; sessions keep their copies
            for (const std::string& notice : settings.notices) log.notice(notice);
            for (const std::string& notice : restart_notices(config, fresh)) log.notice(notice);
            router = std::move(fresh_router);
            resolver.reload(settings);
            feed.attach(dispatch, *router);
            shards.broadcast(WorkItem::Kind::reload, std::make_shared<EngineSettings>(settings),
                             router);
            outcome = "configuration reloaded from " + path;
            log.notice(outcome);
          } catch (const ConfigError& e) {
            outcome = std::string("reload refused, keeping the running configuration: ") + e.what();
            log.notice(outcome);
          }
        }
        notify_ready(outcome);
      } else if ((signal_reader.last == SIGTERM || signal_reader.last == SIGINT) && !stopping) {
        stopping = true;
        stop_deadline = Clock::now() + kShutdownGrace + std::chrono::seconds(5);
        std::string stopping_text = "stopping: no new requests; " +
                                    std::to_string(feed_registry.requests_in_flight()) +
                                    " requests in flight get their results";
        log.notice(stopping_text);
        notify_stopping(stopping_text);
        feed.stop_accepting();
        scheduler.shutdown(kShutdownGrace);
        shards.broadcast(WorkItem::Kind::shutdown);
      }
      if (!stopping) arm_signal(ring, signal_reader);
      if (stopping && scheduler.quiet() && shards.all_finished()) {
        shards.pump(feed, reroute);  // the last results of the other shards
        if (feed.flushed()) break;
      }
      control.end_of_turn();
      metrics.end_of_turn();
      feed.end_of_turn();  // commits the journal: results go out once it is on disk
      log.flush();         // before the next turn sends the results reported in this one
      if (stopping && Clock::now() > stop_deadline) {
        log.notice("stopping: gave up waiting after the grace period");
        break;
      }
    }
    log.notice("stopped");
    log.flush();
    if (signal_reader.fd >= 0) ::close(signal_reader.fd);
    // Let the kernel finish with any request still pointing into our objects.
    ring.run_once(std::chrono::milliseconds(50), &timers);
  } catch (const InstanceLocked& e) {
    std::cerr << "ringrelay: fatal: " << e.what() << '\n';
    return EX_TEMPFAIL;
  } catch (const std::exception& e) {
    return report_fatal(e);
  }
  return 0;
}

}  // namespace ringrelay::engine
