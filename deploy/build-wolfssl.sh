#!/usr/bin/env bash
# Builds Debian's own wolfSSL source with AES-NI and assembly (--enable-intelasm --enable-sp
# --enable-sp-asm) into a private prefix that CMake links by default; Debian's binary package has
# neither and runs AES-GCM ~25x slower. Cached: does nothing when the prefix already holds this build.
#
#   bash deploy/build-wolfssl.sh            # prefix: $RINGRELAY_WOLFSSL_PREFIX or /opt/ringrelay/wolfssl
#
# The result is a static, position-independent libwolfssl.a plus the headers and the options.h it was
# configured with (wolfSSL's build does not install options.h), so the binary needs no rpath and never
# meets the system library of the same SONAME.
set -euo pipefail

prefix="${RINGRELAY_WOLFSSL_PREFIX:-/opt/ringrelay/wolfssl}"
# The flags Debian builds with (debian/rules: --enable-distro), plus the fast paths.
configure_flags=(--enable-distro --enable-intelasm --enable-sp --enable-sp-asm
  --enable-static --disable-shared --with-pic --disable-examples --disable-crypttests)

# The source version is the one of the installed libwolfssl-dev, so headers, behaviour and fixes
# match what the system library would give.
version="$(dpkg-query -W -f='${Version}' libwolfssl-dev 2>/dev/null || true)"
if [ -z "$version" ]; then
  echo "build-wolfssl: libwolfssl-dev is not installed; run deploy/setup-debian.sh first" >&2
  exit 69
fi
stamp_text="wolfssl $version ${configure_flags[*]}"
stamp="$prefix/ringrelay-build-stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ] && [ -f "$prefix/lib/libwolfssl.a" ]; then
  echo "build-wolfssl: $prefix already holds $stamp_text"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] && [ ! -w "$(dirname "$prefix")" ]; then
  exec sudo --preserve-env=RINGRELAY_WOLFSSL_PREFIX "$0" "$@"
fi

work="$(mktemp -d /tmp/ringrelay-wolfssl.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The machine lists only binary package sources. Give apt a private configuration whose source list
# repeats the system's URIs and suites as deb-src, so neither /etc/apt nor its lists are touched.
mkdir -p "$work/apt/lists/partial" "$work/apt/sourceparts" "$work/apt/cache/archives/partial"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  sed -e 's/^Types:.*/Types: deb-src/' "$f" >"$work/apt/sourceparts/$(basename "$f")"
done
if [ -f /etc/apt/sources.list ]; then
  sed -n -e 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list >"$work/apt/sourceparts/system.list"
fi
apt_private=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/apt/sourceparts"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
  -o "Debug::NoLocking=1")
echo "build-wolfssl: fetching the Debian source of wolfssl $version"
apt-get "${apt_private[@]}" -q update >"$work/apt-update.log" 2>&1 || {
  cat "$work/apt-update.log" >&2
  exit 69
}
(cd "$work" && apt-get "${apt_private[@]}" -q source --download-only "wolfssl=$version" >/dev/null)
(cd "$work" && dpkg-source --no-check -x ./*.dsc src >/dev/null)

cd "$work/src"
echo "build-wolfssl: configuring ${configure_flags[*]}"
autoreconf -fi >"$work/autoreconf.log" 2>&1 || { cat "$work/autoreconf.log" >&2; exit 70; }
./configure --prefix="$prefix" "${configure_flags[@]}" >"$work/configure.log" 2>&1 ||
  { tail -40 "$work/configure.log" >&2; exit 70; }
echo "build-wolfssl: building with -j$(nproc)"
make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -40 "$work/make.log" >&2; exit 70; }

rm -rf "$prefix"
make install >"$work/install.log" 2>&1 || { tail -40 "$work/install.log" >&2; exit 70; }
install -m 644 wolfssl/options.h "$prefix/include/wolfssl/options.h"
echo "$stamp_text" >"$stamp"
echo "build-wolfssl: installed into $prefix"
