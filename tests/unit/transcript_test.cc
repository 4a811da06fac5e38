// Golden transcripts: each file in tests/transcripts/ is a scenario — settings, a message, what the
// server says (S:), the exact bytes the client must send (C:), engine events (!timeout, !lost,
// !tls, ...) and every action the session must produce (R: results, D: done, I: idle, X: close,
// A: starttls, T: timer). Every client byte and every action must be accounted for.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "proto/client_session.hh"
#include "proto/envelope.hh"
#include "proto/sasl_cyrus.hh"

namespace ringrelay::proto {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> transcript_files() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(RINGRELAY_TRANSCRIPTS)) {
    if (entry.path().extension() == ".transcript") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The Cyrus client with an auth-failure memory of one entry, as the engine's cache gives it.
class RecordingAuthClient : public CyrusSaslClient {
 public:
  RecordingAuthClient(const SaslOptions& options, SaslCredentials credentials,
                      std::optional<RememberedFailure> remembered)
      : CyrusSaslClient(options, std::move(credentials), "smarthost.example.com"),
        remembered_(std::move(remembered)) {}
  std::optional<RememberedFailure> remembered_failure() override { return remembered_; }
  void remember_failure(const RememberedFailure& failure) override { remembered_ = failure; }

 private:
  std::optional<RememberedFailure> remembered_;
};

class TranscriptRunner {
 public:
  explicit TranscriptRunner(const std::string& name) : name_(name) {}

  void run() {
    std::ifstream file(fs::path(RINGRELAY_TRANSCRIPTS) / (name_ + ".transcript"));
    ASSERT_TRUE(file) << name_;
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) lines.push_back(line);

    // Header: settings and the message, up to the first conversation line.
    size_t i = 0;
    std::string body;
    bool body_newline = true;
    for (; i < lines.size(); ++i) {
      const std::string& line = lines[i];
      if (line.empty() || line[0] == '#') continue;
      bool conversation = (line.size() >= 2 && line[1] == ':' && line[0] != 'B') ||
                          line.starts_with("S!") || line.starts_with("!");
      if (conversation) break;
      if (line.starts_with("B:")) {
        body += line.size() > 3 ? line.substr(3) : "";
        body += "\n";
        continue;
      }
      if (line == "B!") {
        body_newline = false;
        continue;
      }
      setting(line);
    }
    if (!body_newline && !body.empty()) body.pop_back();
    body_storage_ = body;
    message_.body = {body_storage_};
    if (split_body_at_ > 0 && split_body_at_ < body_storage_.size()) {
      std::string_view all = body_storage_;
      message_.body = {all.substr(0, split_body_at_), all.substr(split_body_at_)};
    }

    if (credentials_) {
      auth_ = std::make_unique<RecordingAuthClient>(sasl_, *credentials_, remembered_);
    }
    session_ = std::make_unique<ClientSession>(settings_, peer_, auth_ ? auth_.get() : nullptr);
    if (start_transaction_) session_->start_transaction(message_, final_server_);
    if (!connect_failure_) session_->on_connected();
    collect();

    std::string server;
    for (; i < lines.size(); ++i) {
      const std::string& line = lines[i];
      SCOPED_TRACE(name_ + ".transcript line " + std::to_string(i + 1) + ": " + line);
      if (line.empty() || line[0] == '#') continue;
      if (line.starts_with("S:")) {
        server += (line.size() > 3 ? line.substr(3) : "") + "\r\n";
        bool next_is_server = i + 1 < lines.size() && lines[i + 1].starts_with("S:");
        if (!next_is_server) {
          session_->on_received(server);
          server.clear();
          collect();
        }
        continue;
      }
      if (line.starts_with("S!")) {  // raw server bytes without CRLF, e.g. "S! 25"
        session_->on_received(line.size() > 3 ? line.substr(3) : "");
        collect();
        continue;
      }
      if (line.starts_with("C:")) {
        std::string expected = (line.size() > 3 ? line.substr(3) : "") + "\r\n";
        ASSERT_TRUE(client_.starts_with(expected)) << "client sent:\n"
                                                   << client_ << "\nexpected next:\n"
                                                   << expected;
        client_.erase(0, expected.size());
        continue;
      }
      if (line.starts_with("!")) {
        event(line);
        continue;
      }
      // An expected action.
      ASSERT_FALSE(actions_.empty()) << "no action left; expected " << line;
      EXPECT_EQ(actions_.front(), line);
      actions_.pop_front();
    }
    EXPECT_EQ(client_, "") << "client bytes not matched by the transcript";
    std::string left;
    for (const auto& a : actions_) left += a + "\n";
    EXPECT_EQ(left, "") << "actions not matched by the transcript";
  }

 private:
  void setting(const std::string& line) {
    size_t eq = line.find('=');
    ASSERT_NE(eq, std::string::npos) << name_ << ": bad header line " << line;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    bool yes = value == "yes";
    if (key == "lmtp")
      settings_.lmtp = yes;
    else if (key == "helo_name")
      settings_.helo_name = value;
    else if (key == "always_send_ehlo")
      settings_.always_send_ehlo = yes;
    else if (key == "never_send_ehlo")
      settings_.never_send_ehlo = yes;
    else if (key == "skip_5xx_greeting")
      settings_.skip_5xx_greeting = yes;
    else if (key == "skip_quit_response")
      settings_.skip_quit_response = yes;
    else if (key == "quote_rfc821_envelope")
      settings_.quote_rfc821_envelope = yes;
    else if (key == "use_chunking")
      settings_.use_chunking = yes;
    else if (key == "discard_ehlo_keywords")
      settings_.discard_ehlo_keywords = split(value, ',');
    else if (key == "tls")
      settings_.tls = value == "may"        ? TlsMode::may
                      : value == "required" ? TlsMode::required
                                            : TlsMode::none;
    else if (key == "auth") {
      // The real Cyrus client, with the session's peer as the server name.
      auto parts = split(value, ':');
      credentials_ = SaslCredentials{parts[0], parts[1], "[smarthost.example.com]"};
      settings_.auth = true;
    } else if (key == "sasl_security_options") {
      sasl_.security_options = value;  // plaintext connection
    } else if (key == "sasl_tls_security_options") {
      sasl_.tls_security_options = value;
    } else if (key == "sasl_mechanism_filter") {
      sasl_.mechanism_filter = split(value, ',');
    } else if (key == "dummy_mail_auth") {
      settings_.dummy_mail_auth = yes;
    } else if (key == "auth_remembered") {  // "DSN TEXT": a 535 from an earlier login
      remembered_ =
          RememberedFailure{value.substr(0, value.find(' ')), value.substr(value.find(' ') + 1)};
    } else if (key == "auth_soft_bounce")
      settings_.auth_soft_bounce = yes;
    else if (key == "line_length_limit")
      settings_.line_length_limit = std::stoul(value);
    else if (key == "pipeline_command_limit")
      settings_.pipeline_command_limit = std::stoul(value);
    else if (key == "bdat_chunk_size")
      settings_.bdat_chunk_size = std::stoul(value);
    else if (key == "final_server")
      final_server_ = yes;
    else if (key == "auto_written")
      auto_written_ = yes;
    else if (key == "start_transaction")
      start_transaction_ = yes;
    else if (key == "split_body_at")
      split_body_at_ = std::stoul(value);
    else if (key == "connect")
      connect_failure_ = value == "fails";
    else if (key == "send_xforward")
      settings_.send_xforward = yes;
    else if (key == "transcript")
      settings_.transcript = yes;
    else if (key == "smtputf8_enable")
      settings_.smtputf8_enable = yes;
    else if (key == "client_name")
      message_.client.name = value;
    else if (key == "client_address")
      message_.client.address = value;
    else if (key == "client_port")
      message_.client.port = value;
    else if (key == "client_helo")
      message_.client.helo = value;
    else if (key == "client_protocol")
      message_.client.protocol = value;
    else if (key == "client_ident")
      message_.client.ident = value;
    else if (key == "client_source")
      message_.client.source = value;
    else if (key == "deadline")
      settings_.deadline_mode =
          value == "per_request" ? DeadlineMode::per_request : DeadlineMode::per_io;
    else if (key == "min_data_rate")
      settings_.min_data_rate = std::stoull(value);
    else if (key == "check_timers")
      check_timers_ = yes;
    else if (key == "disable_mime_output_conversion")
      settings_.disable_mime_output_conversion = yes;
    else if (key == "mime_nesting_limit")
      settings_.mime.nesting_limit = std::stoul(value);
    else if (key == "peer")
      peer_ = value;
    else if (key == "sender")
      message_.sender = value;
    else if (key == "rcpt") {
      auto parts = split(value, ' ');
      Recipient r{parts[0], "", ""};
      for (size_t k = 1; k < parts.size(); ++k) {
        if (parts[k].starts_with("orcpt=")) r.orcpt = parts[k].substr(6);
        if (parts[k].starts_with("notify=")) r.notify = parts[k].substr(7);
      }
      message_.recipients.push_back(r);
    } else if (key == "envid")
      message_.envid = value;
    else if (key == "ret")
      message_.ret = value == "full" ? DsnReturn::full : DsnReturn::headers;
    else if (key == "smtputf8")
      message_.smtputf8 = yes;
    else if (key == "encoding") {
      message_.encoding = value == "8bit"     ? BodyEncoding::eight_bit
                          : value == "7bit"   ? BodyEncoding::seven_bit
                          : value == "binary" ? BodyEncoding::binary
                                              : BodyEncoding::unknown;
    } else
      FAIL() << name_ << ": unknown setting " << key;
  }

  void event(const std::string& line) {
    if (line.starts_with("!connect-failed")) {
      session_->on_connect_failed("mx.example.com[192.0.2.1]:25", line.substr(16));
    } else if (line == "!timeout")
      session_->on_timeout();
    else if (line == "!lost")
      session_->on_connection_lost();
    else if (line == "!tls")
      session_->on_tls_ready();
    else if (line == "!tls-verified")
      session_->on_tls_ready(true);
    else if (line.starts_with("!tls-fail"))
      session_->on_tls_failed(line.size() > 10 ? line.substr(10) : "");
    else if (line == "!written")
      session_->on_written();
    else if (line.starts_with("!progress "))  // "!progress 4096": bytes written, more to go
      session_->on_write_progress(std::stoul(line.substr(10)));
    else if (line == "!quit")
      session_->quit();
    else if (line == "!transaction")
      session_->start_transaction(message_, final_server_);
    else
      FAIL() << "unknown event " << line;
    collect();
  }

  // Takes the session's actions: writes go to the client byte stream, the rest to the list.
  void collect() {
    bool wrote = false;
    auto actions = session_->take_actions();
    if (std::getenv("TRANSCRIPT_DEBUG") != nullptr) {
      for (auto& action : actions) std::fprintf(stderr, "action %zu\n", action.index());
    }
    for (auto& action : actions) {
      if (auto* w = std::get_if<WriteAction>(&action)) {
        client_ += w->bytes.flatten();
        wrote = true;
      } else if (auto* t = std::get_if<ArmTimerAction>(&action)) {
        std::string timer =
            "T: " + timer_parameter(t->timer, settings_.lmtp) + " " + std::to_string(t->seconds);
        if (check_timers_) actions_.push_back(timer);
        last_timer_ = timer;
      } else if (auto* e = std::get_if<ExtendTimerAction>(&action)) {
        if (check_timers_) actions_.push_back("E: " + std::to_string(e->microseconds) + "us");
      } else if (std::holds_alternative<CancelTimerAction>(action)) {
      } else if (auto* r = std::get_if<RecipientResult>(&action)) {
        actions_.push_back("R: " + message_.recipients.at(r->recipient).address + " " +
                           std::string(status_name(r->status)) + " " + r->dsn + " " +
                           std::string(stage_name(r->stage)) + " " + r->text);
      } else if (auto* d = std::get_if<TransactionDone>(&action)) {
        actions_.push_back(std::string("D: delivered=") + (d->delivered_any ? "yes" : "no") +
                           " throttle=" + (d->throttle ? "yes" : "no"));
      } else if (auto* n = std::get_if<NoticeAction>(&action)) {
        actions_.push_back("N: " + n->text);
      } else if (std::holds_alternative<IdleAction>(action)) {
        actions_.push_back("I: idle");
      } else if (std::holds_alternative<StartTlsAction>(action)) {
        actions_.push_back("A: starttls");
      } else if (auto* c = std::get_if<CloseAction>(&action)) {
        actions_.push_back("X: close");
        (void)c;
      }
    }
    if (wrote && auto_written_) {
      session_->on_written();
      collect();
    }
  }

  std::string name_;
  SessionSettings settings_;
  std::string peer_ = "mx.example.com[192.0.2.1]";
  // Plaintext transcripts allow PLAIN and LOGIN unless they say otherwise.
  SaslOptions sasl_{.security_options = "noanonymous"};
  std::optional<SaslCredentials> credentials_;
  std::optional<RememberedFailure> remembered_;
  std::unique_ptr<AuthClient> auth_;
  Message message_;
  std::string body_storage_;
  size_t split_body_at_ = 0;
  bool final_server_ = true;
  bool auto_written_ = true;
  bool start_transaction_ = true;
  bool check_timers_ = false;
  bool connect_failure_ = false;
  std::unique_ptr<ClientSession> session_;
  std::string client_;
  std::deque<std::string> actions_;
  std::string last_timer_;
};

class Transcript : public ::testing::TestWithParam<std::string> {};

TEST_P(Transcript, Replays) {
  TranscriptRunner(GetParam()).run();
}

INSTANTIATE_TEST_SUITE_P(Golden, Transcript, ::testing::ValuesIn(transcript_files()),
                         [](const auto& test) { return test.param; });

}  // namespace
}  // namespace ringrelay::proto

namespace ringrelay::proto {
namespace {

TEST(Utf8Orcpt, XtextWithoutSmtputf8UnitextWithIt) {
  EXPECT_EQ(utf8_orcpt("usér+1@例え.jp", false), "utf-8;us\\x{E9}r\\x{2B}1@\\x{4F8B}\\x{3048}.jp");
  EXPECT_EQ(utf8_orcpt("usér+1@例え.jp", true), "utf-8;usér\\x{2B}1@例え.jp");
  EXPECT_EQ(utf8_orcpt("a b\\c", true), "utf-8;a\\x{20}b\\x{5C}c");
  EXPECT_EQ(utf8_orcpt("😀@x", false), "utf-8;\\x{1F600}@x");
  EXPECT_EQ(utf8_orcpt("bad\xff@x", true), std::nullopt);       // not UTF-8
  EXPECT_EQ(utf8_orcpt("\xc0\xaf@x", true), std::nullopt);      // overlong
  EXPECT_EQ(utf8_orcpt("\xed\xa0\x80@x", true), std::nullopt);  // a surrogate
  EXPECT_EQ(utf8_orcpt("\xe4\xbe", true), std::nullopt);        // cut short
}

}  // namespace
}  // namespace ringrelay::proto
