// Result categories: what kind of outcome a recipient's result is (invalid recipient, mailbox full,
// rate limit or reputation, DNS failure, ...), derived from the enhanced status code, the stage,
// and the words of the server's reply, so that a queue manager acts on a category instead of
// parsing replies. The table, its order and its sources are in docs/feed-protocol.md
// ("Categories").
#pragma once

#include <string_view>

#include "proto/client_session.hh"

namespace ringrelay::engine {

enum class ResultCategory {
  delivered,
  invalid_recipient,  // the address does not exist or is disabled; the domain accepts no mail
  mailbox_full,       // the recipient's mailbox is over its quota
  quota,              // the receiving system's limits: message size, recipients or messages
  content,            // the message itself: spam, virus, phishing, unacceptable content
  policy,             // the sender is not allowed: authentication (SPF/DKIM/DMARC), access rules
  reputation,         // rate limits, throttling, IP or domain block lists, complaints
  dns_failure,        // the next hop's lookup failed
  tls_failure,        // TLS was required or failed and could not be done without
  connection,         // no connection, or it was lost or timed out
  routing,            // mail loops, relaying refused, a misconfigured next hop
  other,
};

std::string_view category_name(ResultCategory category);  // "invalid_recipient"

// The first rule of the table that matches. Results decided without a server (no reply code) are
// judged by their status code and stage only; a server's reply by its code and its words.
ResultCategory categorize(const proto::RecipientResult& result);

}  // namespace ringrelay::engine
