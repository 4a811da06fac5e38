#!/usr/bin/env bash
# Installs everything ringrelay needs to build, test and benchmark on a bare Debian bookworm machine,
# then builds the fast wolfSSL (deploy/build-wolfssl.sh; cached, so a second run does nothing).
# Idempotent and non-interactive; run as root (or through sudo). The mail and DNS servers it brings
# (postfix, dnsmasq, unbound, prometheus) are left stopped and disabled, because ringrelay's tests start their
# own private instances on loopback with their own configuration.
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ cmake ninja-build pkg-config git python3 ca-certificates
  clang libclang-rt-14-dev llvm clang-format
  # libraries (see shared notes/dependencies.md for the versions and traps)
  liburing-dev libwolfssl-dev libc-ares-dev libsasl2-dev libsasl2-modules sasl2-bin
  libmimalloc-dev libbenchmark-dev libgtest-dev libgmock-dev nlohmann-json3-dev libsimdjson-dev zlib1g-dev
  libpcre2-dev liblmdb-dev libcdb-dev libsystemd-dev
  # building Debian's wolfSSL source with assembly (deploy/build-wolfssl.sh)
  autoconf automake libtool dpkg-dev
  # real peers for the integration tests and the load harness
  postfix postfix-lmdb postfix-cdb postfix-pcre dnsmasq unbound swaks openssl iproute2 procps
  # keys and signatures for the DANE tests' DNSSEC zone (ldns-keygen, ldns-signzone)
  ldnsutils
  # promtool, which checks the metrics endpoint's exposition format in the tests
  prometheus
)
# Daemons whose package starts them on install; we want the binaries, not a system service.
daemons=(postfix dnsmasq unbound prometheus)

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=CI "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-debian: installing ${missing[*]}"
  # "No configuration" makes the postfix package write no main.cf and touch no mail set-up:
  # no /etc/mailname, no aliases rewrite, no listening smtpd.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # Keep the packages' postinst scripts from starting their daemons. Only add our own
  # policy-rc.d when the machine has none, and remove exactly what we added.
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  cleanup() { if [ -n "$added_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup EXIT
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Whatever started them (an earlier install without a policy, a reboot), make sure the system
# daemons are not running and will not start at boot.
for d in "${daemons[@]}"; do
  if [ -d /run/systemd/system ]; then
    systemctl disable --now "$d" >/dev/null 2>&1 || true
  else
    service "$d" stop >/dev/null 2>&1 || true
    update-rc.d "$d" disable >/dev/null 2>&1 || true
  fi
done

bash "$(dirname "$0")/build-wolfssl.sh"

echo "setup-debian: all build, test and benchmark dependencies are installed"
