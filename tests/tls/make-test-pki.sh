#!/usr/bin/env bash
# Makes a throw-away PKI for the TLS tests in DIR: a test CA and an unknown CA, server certificates
# (good names, wildcard, expired, signed by the unknown CA), a client certificate, and the SHA-256
# fingerprints of the good certificate and its public key, and a certificate for the DANE tests
# whose file carries the test CA too (DANE-TA needs the anchor in the chain). EC P-256 keys.
#   tests/tls/make-test-pki.sh DIR
set -euo pipefail
dir="$1"
mkdir -p "$dir"
cd "$dir"
[ -f done-dane ] && exit 0

key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }

make_ca() {  # name, subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "$2" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
}

# Signs a server certificate with `openssl ca`, which can set dates in the past.
# name, CA, subject CN, subjectAltName, start date, end date
make_server() {
  local name=$1 ca=$2 cn=$3 san=$4 start=$5 end=$6
  key "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr" 2>/dev/null
  mkdir -p "ca-$ca"
  touch "ca-$ca/index.txt"
  [ -f "ca-$ca/serial" ] || echo 1000 >"ca-$ca/serial"
  cat >"$name.cnf" <<CNF
[ ca ]
default_ca = test
[ test ]
dir = ca-$ca
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $ca.pem
private_key = $ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
x509_extensions = server
[ anything ]
commonName = supplied
[ server ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $san
CNF
  openssl ca -batch -config "$name.cnf" -in "$name.csr" -out "$name.pem" -notext \
    -startdate "$start" -enddate "$end" >/dev/null 2>&1
  cat "$name.pem" "$name.key" >"$name.both.pem"
}

make_ca ca "/CN=ringrelay test CA"
make_ca unknown-ca "/CN=ringrelay unknown CA"
now_minus_day=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
next_year=$(date -u -d '+365 days' +%Y%m%d%H%M%SZ)
make_server good ca mx.test.example "DNS:mx.test.example,DNS:mail.test.example" \
  "$now_minus_day" "$next_year"
make_server wildcard ca "*.wild.test.example" "DNS:*.wild.test.example" \
  "$now_minus_day" "$next_year"
make_server expired ca mx.test.example "DNS:mx.test.example" 20200101000000Z 20210101000000Z
make_server unknown unknown-ca mx.test.example "DNS:mx.test.example" \
  "$now_minus_day" "$next_year"
make_server dane ca mx-ta.dane.test \
  "DNS:mx-ta.dane.test,DNS:cname-target.dane.test,DNS:mx-rotate.dane.test" \
  "$now_minus_day" "$next_year"
cat dane.pem ca.pem >dane-chain.pem
make_server client ca "ringrelay client" "DNS:client.test.example" "$now_minus_day" "$next_year"

# Fingerprints as Postfix prints them: the certificate's, and its public key's (SPKI).
openssl x509 -in good.pem -noout -fingerprint -sha256 | sed 's/.*=//' >good.cert-sha256
openssl x509 -in good.pem -noout -pubkey | openssl pkey -pubin -outform DER |
  openssl dgst -sha256 -c | sed 's/.*= //' | tr a-f A-F >good.pkey-sha256
touch done-dane
