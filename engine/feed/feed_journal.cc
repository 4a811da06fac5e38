// The feed server's side of the results journal: the entries it writes (what each letter means)
// and the replay of an earlier run's journal into result streams and unknown outcomes. One place
// for the entry format, read and written. Not here: segments, framing and I/O (results_journal)
// or connections (feed_server.cc).
//
// Entries: R record (seq, client, wall-clock ms, r result | d done, id, index or "-", the line),
// Q request accepted (client, id, sent, deferred, bounced, finished indices, addresses...),
// F request finished (id), A acknowledged (client, upto), X forgotten (seq: written to a
// protocol-1 client, or dropped by retention), S the next sequence number.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "engine/feed/feed_protocol.hh"
#include "engine/feed/feed_server.hh"

namespace ringrelay::engine {
namespace {

std::uint64_t to_number(std::string_view text) {
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::int64_t wall_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// An R entry: R, seq, client, wall-clock ms, r (result) or d (done), id, index ("-"), the line.
// Framed straight into `out` (a journal's pending buffer or a live state): one record per
// recipient goes through here, so no intermediate string is built.
void frame_record(std::string& out, std::uint64_t seq, const std::string& client,
                  std::chrono::system_clock::time_point when, bool is_result, std::string_view id,
                  std::string_view index, std::string_view line) {
  char seq_text[24], when_text[24];
  auto seq_end = std::to_chars(seq_text, seq_text + sizeof seq_text, seq).ptr;
  auto when_end = std::to_chars(when_text, when_text + sizeof when_text, wall_ms(when)).ptr;
  ResultsJournal::frame_fields(
      out, {"R", std::string_view(seq_text, static_cast<std::size_t>(seq_end - seq_text)), client,
            std::string_view(when_text, static_cast<std::size_t>(when_end - when_text)),
            is_result ? "r" : "d", id, index, line});
}

// A result that ringrelay decides without a server (relay "none").
ResultRecord local_deferral(const RequestPointer& request, std::size_t index, std::string dsn,
                            std::string text) {
  ResultRecord record;
  record.request = request;
  record.recipient = index;
  record.result.recipient = index;
  record.result.status = proto::DeliveryStatus::deferred;
  record.result.dsn = std::move(dsn);
  record.result.text = std::move(text);
  return record;
}

}  // namespace

std::uint64_t FeedServer::journal_record(const StreamRecord& record, const std::string& client,
                                         std::string_view id,
                                         std::optional<std::size_t> recipient) {
  char digits[24] = "-";
  std::string_view index(digits, 1);
  if (recipient) {
    auto end = std::to_chars(digits, digits + sizeof digits, *recipient).ptr;
    index = std::string_view(digits, static_cast<std::size_t>(end - digits));
  }
  return journal_->append_with([&](std::string& pending) {
    frame_record(pending, record.seq, client, record.when, record.is_result, id, index,
                 record.line);
  });
}

void FeedServer::journal_acknowledged(const std::string& client, std::uint64_t upto) {
  journal_->append("A\t" + client + "\t" + std::to_string(upto));
}

void FeedServer::journal_forgotten(std::uint64_t seq) {
  journal_->append("X\t" + std::to_string(seq));
}

void FeedServer::journal_finished(const std::string& id) {
  journal_->append("F\t" + id);
}

std::vector<std::string> FeedServer::orphaned_journals() const {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(settings_.results_journal, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with("shard-") || !entry.is_directory(ec)) continue;
    std::size_t index = 0;
    auto [end, error] = std::from_chars(name.data() + 6, name.data() + name.size(), index);
    if (error != std::errc{} || end != name.data() + name.size() || index == 0) continue;
    if (index >= place_.count && index % place_.count == place_.index) {
      found.push_back(entry.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

void FeedServer::open_journal() {
  ResultsJournal::Options options;
  options.directory = shard_journal_directory(settings_.results_journal, place_.index);
  options.sync = settings_.results_journal_sync;
  options.segment_bytes = settings_.results_journal_segment_limit;
  options.commit_delay = settings_.results_journal_commit_delay;
  // A run with more shards left journals of shards that no longer exist: this shard takes those
  // whose number is its own modulo today's count, before its own (which is newer, when a start
  // that took them over was cut short before it removed them).
  ResultsJournal::Recovered recovered;
  std::vector<std::unique_ptr<ResultsJournal>> orphans;
  for (const std::string& directory : orphaned_journals()) {
    ResultsJournal::Options orphan = options;
    orphan.directory = directory;
    orphans.push_back(std::make_unique<ResultsJournal>(orphan));
    auto taken = orphans.back()->recover();
    for (auto& e : taken.entries) recovered.entries.push_back(std::move(e));
    for (auto& p : taken.problems) recovered.problems.push_back(directory + ": " + p);
  }
  journal_ = std::make_unique<ResultsJournal>(options);
  journal_->log_notice = [this](const std::string& text) { log_.notice(text); };
  journal_->on_durable = [this] { release_waiting(); };
  journal_->live_state = [this] { return live_state(); };
  auto own = journal_->recover();
  for (auto& e : own.entries) recovered.entries.push_back(std::move(e));
  for (auto& p : own.problems) recovered.problems.push_back(std::move(p));
  std::string live;
  recover(std::move(recovered), live);
  journal_->start(ring_, live);
  for (auto& orphan : orphans) {
    std::string directory = orphan->directory();
    orphan.reset();  // its lock
    std::error_code ec;
    std::filesystem::remove_all(directory, ec);
    log_.notice("results journal " + directory +
                " (a shard of an earlier run) taken over by shard " + std::to_string(place_.index) +
                (ec ? ", but it could not be removed: " + ec.message() : ""));
  }
  // The clients whose records came back are served here until nothing of them is left.
  std::set<std::string> names;
  streams_.for_each([&](const std::string& client, const StreamRecord&) {
    if (!client.empty()) names.insert(client);
  });
  for (const std::string& name : names) {
    auto holder = registry_.claim(name, place_.index);
    if (holder && *holder != place_.index) {
      log_.notice("results journal: client " + name + " has records on shards " +
                  std::to_string(*holder) + " and " + std::to_string(place_.index) +
                  "; its connections go to shard " + std::to_string(*holder));
    }
  }
}

// Replays an earlier run's journal: unacknowledged records go back to their streams (flagged as
// possibly seen), and every recipient of a request that was accepted but whose result was never
// recorded gets an ambiguous deferral, so that nothing is silently missing after a crash.
void FeedServer::recover(ResultsJournal::Recovered recovered, std::string& live) {
  for (const auto& problem : recovered.problems) log_.notice("results journal: " + problem);
  struct Record {
    std::string client;
    std::int64_t when_ms = 0;
    bool is_result = true;
    std::string line;
  };
  struct Request {
    std::string client;
    std::vector<std::string> recipients;
    std::vector<bool> finished;
    std::size_t sent = 0, deferred = 0, bounced = 0;
  };
  // By client, so that an acknowledgement erases a range: recovery stays linear in the journal.
  std::map<std::string, std::map<std::uint64_t, Record>> by_client;
  std::unordered_map<std::uint64_t, std::string> client_of;
  std::map<std::string, Request> requests;
  std::uint64_t next = 0;
  auto count_status = [](Request& r, const std::string& line) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    std::string status = j.is_object() ? j.value("status", "") : "";
    if (status == "sent")
      ++r.sent;
    else if (status == "bounced")
      ++r.bounced;
    else
      ++r.deferred;
  };
  for (const std::string& entry : recovered.entries) {
    auto f = journal_fields(entry);
    if (f.empty()) continue;
    if (f[0] == "R" && f.size() >= 8) {
      std::uint64_t seq = to_number(f[1]);
      next = std::max(next, seq + 1);
      std::string client(f[2]);
      auto old = client_of.find(seq);
      if (old != client_of.end() && old->second != client) by_client[old->second].erase(seq);
      client_of[seq] = client;
      Record& stored = by_client[client][seq];
      stored = Record{client, static_cast<std::int64_t>(to_number(f[3])), f[4] == "r",
                      std::string(f[7])};
      auto it = requests.find(std::string(f[5]));
      if (f[4] == "r" && it != requests.end() && f[6] != "-") {
        std::size_t index = to_number(f[6]);
        if (index < it->second.finished.size() && !it->second.finished[index]) {
          it->second.finished[index] = true;
          count_status(it->second, stored.line);
        }
      }
    } else if (f[0] == "Q" && f.size() >= 7) {
      // Q, client, id, sent, deferred, bounced, finished indices (comma-separated), addresses...
      Request r;
      r.client = std::string(f[1]);
      for (std::size_t k = 7; k < f.size(); ++k) r.recipients.emplace_back(f[k]);
      r.finished.assign(r.recipients.size(), false);
      std::string_view finished = f[6];
      while (!finished.empty()) {
        std::size_t comma = finished.find(',');
        std::size_t index = to_number(finished.substr(0, comma));
        if (index < r.finished.size()) r.finished[index] = true;
        finished =
            comma == std::string_view::npos ? std::string_view() : finished.substr(comma + 1);
      }
      r.sent = to_number(f[3]);
      r.deferred = to_number(f[4]);
      r.bounced = to_number(f[5]);
      requests[std::string(f[2])] = std::move(r);
    } else if (f[0] == "F" && f.size() >= 2) {
      requests.erase(std::string(f[1]));
    } else if (f[0] == "A" && f.size() >= 3) {
      auto stream = by_client.find(std::string(f[1]));
      if (stream != by_client.end()) {
        auto& records = stream->second;
        auto end = records.upper_bound(to_number(f[2]));
        for (auto it = records.begin(); it != end; ++it) client_of.erase(it->first);
        records.erase(records.begin(), end);
      }
    } else if (f[0] == "X" && f.size() >= 2) {
      std::uint64_t seq = to_number(f[1]);
      auto owner = client_of.find(seq);
      if (owner != client_of.end()) {
        by_client[owner->second].erase(seq);
        client_of.erase(owner);
      }
    } else if (f[0] == "S" && f.size() >= 2) {
      next = std::max(next, to_number(f[1]));
    }
  }
  registry_.raise_seq(next);
  std::size_t offered = 0;
  // Back into streams in sequence order (a stream is in seq order; the pool takes any).
  std::map<std::uint64_t, Record*> in_order;
  for (auto& [client, records] : by_client) {
    for (auto& [seq, r] : records) in_order[seq] = &r;
  }
  for (auto& [seq, pointer] : in_order) {
    Record& r = *pointer;
    StreamRecord record;
    record.seq = seq;
    record.line = std::move(r.line);
    record.when = std::chrono::system_clock::time_point(std::chrono::milliseconds(r.when_ms));
    record.is_result = r.is_result;
    record.sent_before = true;  // it may have reached the client before the restart
    frame_record(live, seq, r.client, record.when, r.is_result, "", "-", record.line);
    streams_.add(r.client, std::move(record));
    ++offered;
  }
  std::size_t unknown = 0;
  for (auto& [id, r] : requests) {
    auto shared = std::make_shared<DeliveryRequest>();
    DeliveryRequest& request = *shared;
    request.id = id;
    request.feed_client_name = r.client;
    for (const auto& address : r.recipients) {
      proto::Recipient recipient;
      recipient.address = address;
      request.message.recipients.push_back(std::move(recipient));
    }
    request.sent = r.sent;
    request.deferred = r.deferred;
    request.bounced = r.bounced;
    for (std::size_t i = 0; i < r.finished.size(); ++i) {
      if (r.finished[i]) continue;
      ResultRecord record = local_deferral(
          shared, i, "4.3.0",
          "delivery state unknown: ringrelay stopped after accepting this request and before "
          "recording this recipient's result -- message may be sent more than once");
      record.result.ambiguous = true;
      record.stage_text = "restart";
      log_.result(record);
      if (shard_metrics != nullptr) count_result(*shard_metrics, record);
      ++shared->deferred;
      std::uint64_t seq = registry_.next_seq();
      StreamRecord stream_record{seq, format_result(record, seq), std::chrono::system_clock::now(),
                                 true, false};
      frame_record(live, seq, r.client, stream_record.when, true, "", "-", stream_record.line);
      streams_.add(r.client, std::move(stream_record));
      ++unknown;
    }
    std::uint64_t seq = registry_.next_seq();
    StreamRecord done{seq, format_done(*shared, seq), std::chrono::system_clock::now(), false,
                      false};
    frame_record(live, seq, r.client, done.when, false, "", "-", done.line);
    streams_.add(r.client, std::move(done));
    // Finished now: read again with an older journal that still has its Q (a take-over cut
    // short), it is not reported twice.
    ResultsJournal::frame(live, "F\t" + id);
  }
  ResultsJournal::frame(live, "S\t" + std::to_string(registry_.peek_seq()));
  if (offered + unknown > 0 || !requests.empty()) {
    log_.notice("results journal " +
                shard_journal_directory(settings_.results_journal, place_.index) + ": " +
                std::to_string(offered) + " unacknowledged records offered again; " +
                std::to_string(unknown) + " recipients of " + std::to_string(requests.size()) +
                " interrupted requests reported as deferred with an unknown outcome");
  }
  streams_.expire();
}

// Written once per request on the hot path: fields joined by tabs, which no address, id or client
// name can contain (the feed refuses control characters).
std::string FeedServer::request_entry(const DeliveryRequest& request) const {
  std::string e = "Q\t" + request.feed_client_name + "\t" + request.id + "\t" +
                  std::to_string(request.sent) + "\t" + std::to_string(request.deferred) + "\t" +
                  std::to_string(request.bounced) + "\t";
  bool first = true;
  for (std::size_t i = 0; i < request.reported.size(); ++i) {
    if (!request.reported[i]) continue;
    if (!first) e += ',';
    e += std::to_string(i);
    first = false;
  }
  for (const auto& recipient : request.message.recipients) {
    e += '\t';
    e += recipient.address;
  }
  return e;
}

// What a compacted journal must start with: every record not yet acknowledged (in streams, or
// queued to a protocol-1 connection and not yet written) and every unfinished request.
std::string FeedServer::live_state() const {
  std::string live;
  ResultsJournal::frame(live, "S\t" + std::to_string(registry_.peek_seq()));
  streams_.for_each([&](const std::string& client, const StreamRecord& r) {
    frame_record(live, r.seq, client, r.when, r.is_result, "", "-", r.line);
  });
  for_each_unwritten_record([&](const OutLine& line) {
    frame_record(live, line.seq, "", std::chrono::system_clock::now(), line.is_result, "", "-",
                 line.text);
  });
  for (const auto& [id, request] : in_flight_) ResultsJournal::frame(live, request_entry(*request));
  return live;
}

}  // namespace ringrelay::engine
