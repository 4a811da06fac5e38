// Result categories against replies as the big mailbox providers and Postfix word them (from their
// public documentation of SMTP errors), and against the results ringrelay decides itself: each
// row must land in its category, so a change of the rule order that misfiles one fails here.
#include <gtest/gtest.h>

#include "engine/delivery/result_category.hh"

namespace ringrelay::engine {
namespace {

using proto::DeliveryStatus;
using proto::Stage;

struct Row {
  const char* category;
  int reply_code;  // 0: decided by ringrelay, without a server reply
  const char* dsn;
  Stage stage;
  const char* words;  // the server's reply, or ringrelay's text
};

proto::RecipientResult result_of(const Row& row) {
  proto::RecipientResult r;
  r.status = row.dsn[0] == '5' ? DeliveryStatus::bounced : DeliveryStatus::deferred;
  r.dsn = row.dsn;
  r.reply_code = row.reply_code;
  r.stage = row.stage;
  if (row.reply_code != 0) {
    r.reply = row.words;
    r.text = std::string("host mx[192.0.2.1] said: ") + row.words;
  } else {
    r.text = row.words;
  }
  return r;
}

const Row kRows[] = {
    // Gmail (support.google.com/a/answer/3726730, "SMTP error messages").
    {"invalid_recipient", 550, "5.1.1", Stage::rcpt,
     "550-5.1.1 The email account that you tried to reach does not exist."},
    {"mailbox_full", 452, "4.2.2", Stage::rcpt,
     "452-4.2.2 The email account that you tried to reach is over quota."},
    {"reputation", 421, "4.7.28", Stage::end_of_data,
     "421-4.7.28 Our system has detected an unusual rate of unsolicited mail originating from "
     "your IP address."},
    {"policy", 550, "5.7.26", Stage::end_of_data,
     "550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and "
     "Gmail users"},
    {"content", 552, "5.7.0", Stage::end_of_data,
     "552-5.7.0 This message was blocked because its content presents a potential security "
     "issue."},
    {"quota", 552, "5.3.4", Stage::end_of_data,
     "552-5.3.4 Your message exceeded Google's message size limits."},
    {"tls_failure", 530, "5.7.0", Stage::mail, "530 5.7.0 Must issue a STARTTLS command first."},
    {"mailbox_full", 452, "4.2.2", Stage::rcpt, "452 4.2.2 Mailbox full"},
    // Microsoft (learn.microsoft.com, "Email non-delivery reports and SMTP errors").
    {"reputation", 550, "5.7.1", Stage::rcpt,
     "550 5.7.1 Unfortunately, messages from [192.0.2.7] weren't sent. Please contact your "
     "Internet service provider since part of their network is on our block list (S3150)."},
    {"invalid_recipient", 550, "5.4.1", Stage::rcpt,
     "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)"},
    {"invalid_recipient", 550, "5.1.10", Stage::rcpt,
     "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"},
    // Yahoo (senders.yahooinc.com, "SMTP error codes").
    {"reputation", 421, "4.7.0", Stage::greeting,
     "421 4.7.0 [TSS04] Messages from 192.0.2.7 temporarily deferred due to unexpected volume or "
     "user complaints"},
    {"policy", 554, "5.7.9", Stage::end_of_data,
     "554 5.7.9 Message not accepted for policy reasons."},
    {"invalid_recipient", 552, "5.0.0", Stage::rcpt,
     "552 1 Requested mail action aborted, mailbox not found"},
    // Postfix smtpd's own words.
    {"invalid_recipient", 550, "5.1.1", Stage::rcpt,
     "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local "
     "recipient table"},
    {"quota", 452, "4.5.3", Stage::rcpt, "452 4.5.3 Error: too many recipients"},
    {"quota", 552, "5.3.4", Stage::end_of_data, "552 5.3.4 Message size exceeds fixed limit"},
    {"routing", 554, "5.7.1", Stage::rcpt, "554 5.7.1 <a@example.org>: Relay access denied"},
    {"reputation", 554, "5.7.1", Stage::rcpt,
     "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org"},
    {"policy", 550, "5.1.8", Stage::mail,
     "550 5.1.8 <x@nowhere.invalid>: Sender address rejected: Domain not found"},
    {"policy", 554, "5.7.1", Stage::rcpt,
     "554 5.7.1 <a@example.com>: Recipient address rejected: Access denied"},
    {"connection", 421, "4.3.2", Stage::greeting, "421 4.3.2 Service shutting down"},
    {"policy", 554, "5.0.0", Stage::greeting, "554 No SMTP service here"},
    {"content", 550, "5.7.1", Stage::end_of_data, "550 5.7.1 Message rejected as spam"},
    {"content", 554, "5.6.0", Stage::end_of_data, "554 5.6.0 Message contains invalid header"},
    {"other", 451, "4.3.0", Stage::end_of_data, "451 4.3.0 Error: queue file write error"},
    // Greylisting is a passing policy, not a rate limit; a 421 "try again later" at 4.7.x is.
    {"policy", 451, "4.7.1", Stage::rcpt,
     "451 4.7.1 <a@example.com>: Recipient address rejected: Greylisted, try again later"},
    {"reputation", 421, "4.7.0", Stage::greeting, "421 4.7.0 Try again later, closing connection."},
    // Decided by ringrelay, without a server reply.
    {"connection", 0, "4.4.1", Stage::connect,
     "connect to mx.example.com[192.0.2.1]:25: Connection refused"},
    {"connection", 0, "4.4.2", Stage::data,
     "lost connection with mx.example.com[192.0.2.1] while sending DATA command"},
    {"connection", 0, "4.4.2", Stage::end_of_data,
     "conversation with mx.example.com[192.0.2.1] timed out while sending end of data -- message "
     "may be sent more than once"},
    {"dns_failure", 0, "4.4.3", Stage::connect,
     "Host or domain name not found. Name service error for name=example.com type=MX: Host not "
     "found, try again"},
    {"dns_failure", 0, "5.4.4", Stage::connect,
     "Host or domain name not found. Name service error for name=nx.example type=A: Host not "
     "found"},
    {"invalid_recipient", 0, "5.1.0", Stage::connect,
     "Domain example.net does not accept mail (nullMX)"},
    {"routing", 0, "5.4.6", Stage::connect, "mail for example.com loops back to myself"},
    {"tls_failure", 0, "4.7.5", Stage::connect, "TLSA lookup error for mx.example.com:25"},
    {"tls_failure", 0, "4.7.4", Stage::tls_handshake, "Cannot start TLS: handshake failure"},
    {"other", 0, "4.3.0", Stage::connect,
     "cannot read the message body: /var/spool/q/1 ended early"},
    {"other", 0, "4.3.2", Stage::connect, "delivery interrupted: ringrelay is shutting down"},
};

TEST(ResultCategory, ProviderAndPostfixRepliesLandInTheirCategory) {
  for (const Row& row : kRows) {
    EXPECT_EQ(category_name(categorize(result_of(row))), row.category)
        << row.reply_code << " " << row.dsn << " at " << proto::stage_name(row.stage) << ": "
        << row.words;
  }
}

TEST(ResultCategory, SentIsDeliveredAndWordsMatchAtTheStartOfWords) {
  proto::RecipientResult sent;
  sent.status = DeliveryStatus::sent;
  sent.dsn = "2.0.0";
  sent.reply_code = 250;
  sent.reply = "250 2.0.0 Ok: spam filter passed, no such user problems";  // words do not count
  EXPECT_EQ(category_name(categorize(sent)), "delivered");
  // "listed" is a reputation word; "unlisted" is not.
  Row unlisted{"other", 451, "4.0.0", Stage::end_of_data, "451 unlisted error"};
  EXPECT_EQ(category_name(categorize(result_of(unlisted))), "other");
  Row listed{"reputation", 550, "5.0.0", Stage::rcpt, "550 Your IP is listed at example-bl"};
  EXPECT_EQ(category_name(categorize(result_of(listed))), "reputation");
  // Malformed enhanced codes are ignored, not misread.
  Row odd{"other", 451, "4.x.9", Stage::end_of_data, "451 odd"};
  EXPECT_EQ(category_name(categorize(result_of(odd))), "other");
}

}  // namespace
}  // namespace ringrelay::engine
