# The libFuzzer targets: name and source. One list, read by the fuzz build (tests/fuzz) that builds
# them and by the test build (tests/) that runs each briefly through CTest.
set(RINGRELAY_FUZZ_TARGETS
  reply_parser
  client_session
  sasl_exchange
  body_encoder
  mime_downgrade
  feed_protocol
  dns_answer
  tls_policy
  tls_channel
  lookup_table
  content_checks
  dane_match
  result_category
  shaping_values
  control_command
  metrics_endpoint
)
