// The settings one client session runs with, filled in by the engine from the configuration
// (smtp_* or lmtp_* parameters) and the destination's policy. Plain data: no defaults are read
// here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/content_checks.hh"
#include "proto/mime_downgrade.hh"
#include "proto/reply_parser.hh"

namespace ringrelay::proto {

// What each protocol state waits for, named as the configuration names it.
enum class TimerName {
  helo,       // smtp_helo_timeout: the greeting and the EHLO/HELO/LHLO reply
  starttls,   // smtp_starttls_timeout
  mail,       // smtp_mail_timeout (also AUTH)
  rcpt,       // smtp_rcpt_timeout
  data_init,  // smtp_data_init_timeout: the DATA reply
  data_xfer,  // smtp_data_xfer_timeout: writing the body, BDAT replies
  data_done,  // smtp_data_done_timeout: the end-of-data reply
  rset,       // smtp_rset_timeout
  quit,       // smtp_quit_timeout
  xforward,   // smtp_xforward_timeout: the XFORWARD replies
};
inline constexpr std::size_t kTimerCount = 10;

// "smtp_rcpt_timeout" or "lmtp_rcpt_timeout".
std::string timer_parameter(TimerName name, bool lmtp);

// How much TLS this session wants (decided by tls/ policy; the session only acts on it).
enum class TlsMode {
  none,      // never send STARTTLS
  may,       // STARTTLS when offered, plaintext otherwise
  required,  // STARTTLS must be offered and succeed
};

// How the timeouts above apply, as Postfix 3.7's smtp_per_request_deadline chooses.
enum class DeadlineMode {
  per_io,       // (default) a limit per read or write: any progress starts it again
  per_request,  // a limit for the command and its whole reply; message content extends it by
                // one second per min_data_rate bytes written
};

struct SessionSettings {
  bool lmtp = false;
  std::string helo_name = "localhost";
  bool always_send_ehlo = true;       // smtp_always_send_ehlo
  bool never_send_ehlo = false;       // smtp_never_send_ehlo
  bool skip_5xx_greeting = true;      // smtp_skip_5xx_greeting
  bool skip_quit_response = true;     // smtp_skip_quit_response
  bool quote_rfc821_envelope = true;  // smtp_quote_rfc821_envelope
  bool use_chunking = true;           // smtp_use_chunking (ringrelay)
  bool disable_mime_output_conversion = false;
  MimeLimits mime;                                 // mime_boundary_length_limit, mime_nesting_limit
  std::vector<std::string> discard_ehlo_keywords;  // smtp_discard_ehlo_keywords, lower case
  std::shared_ptr<const ReplyLineFilter> reply_filter;  // smtp_reply_filter (none: null)
  // smtp_header_checks, smtp_mime_header_checks, smtp_nested_header_checks, smtp_body_checks and
  // smtp_generic_maps (which rewrites the envelope too); null when none is set.
  std::shared_ptr<const ContentRules> content_rules;
  TlsMode tls = TlsMode::none;
  // smtp_tls_wrappermode: TLS from the first byte (SMTPS, port 465), then the greeting; never
  // STARTTLS. Needs tls == required (Postfix: a level of encrypt or stronger).
  bool tls_wrapper = false;
  bool auth = false;             // smtp_sasl_auth_enable
  bool auth_soft_bounce = true;  // smtp_sasl_auth_soft_bounce
  bool dummy_mail_auth = false;  // smtp_send_dummy_mail_auth: MAIL FROM ... AUTH=<>
  // smtp_pix_workarounds for a server whose greeting is all asterisks (a Cisco PIX "mailguard"):
  // "disable_esmtp" (HELO instead of EHLO), "delay_dotcrlf" (the final "." alone, after
  // pix_delay_seconds, for messages older than pix_threshold_seconds). Lower case.
  std::vector<std::string> pix_workarounds = {"disable_esmtp", "delay_dotcrlf"};
  std::int64_t pix_delay_seconds = 10;       // smtp_pix_workaround_delay_time
  std::int64_t pix_threshold_seconds = 500;  // smtp_pix_workaround_threshold_time
  // debug_peer_level >= 2 for this server: every command and reply line is logged (AUTH data
  // replaced by a placeholder, the message content not at all), as Postfix's verbose smtp_chat.
  bool transcript = false;
  // smtputf8_enable = no: SMTPUTF8 is never requested, and a message the queue manager flags as
  // needing it goes to servers without it too (as Postfix, whose cleanup would not flag it).
  bool smtputf8_enable = true;
  bool assume_final = false;   // lmtp_assume_final: an LMTP 250 without DSN is final delivery
  bool send_xforward = false;  // smtp_send_xforward_command: the message's client, when offered
  std::size_t line_length_limit = 998;       // smtp_line_length_limit (0: none)
  std::size_t pipeline_command_limit = 100;  // commands in flight at once with PIPELINING
  std::size_t bdat_chunk_size = 1 << 20;     // bytes per BDAT chunk at most
  std::int64_t timeout_seconds[kTimerCount] = {300, 300, 300, 300, 120, 180, 600, 20, 300, 300};
  DeadlineMode deadline_mode = DeadlineMode::per_io;
  std::uint64_t min_data_rate = 500;  // smtp_min_data_rate, bytes per second (per_request)

  std::int64_t timeout(TimerName name) const {
    return timeout_seconds[static_cast<std::size_t>(name)];
  }
};

}  // namespace ringrelay::proto
