#!/usr/bin/env python3
"""Checks DESIGN.md's module boundaries: proto, tls, dns and cache never include each other nor
engine/, and each uses only the libraries it is allowed (proto and cache: the C++ standard library,
with Cyrus SASL allowed in proto/sasl_cyrus.* only); engine/ keeps its sources in its sub-folders
by concern (runtime, feed, delivery, config, control, metrics, cli); and no two source files of the modules share a
name. Exits 1 listing every violation.
`--self-test` runs the check on a made-up tree with known violations and fails if any is missed."""
import pathlib
import re
import sys
import tempfile

MODULES = ("proto", "tls", "dns", "cache", "engine")
ENGINE_FOLDERS = ("runtime", "feed", "delivery", "config", "control", "metrics", "cli")
SOURCE_SUFFIXES = (".hh", ".cc", ".h", ".cpp", ".hpp", ".in")

STD_HEADERS = set("""
algorithm any array atomic barrier bit bitset cassert cctype cerrno cfloat charconv chrono cinttypes
climits clocale cmath compare complex concepts condition_variable coroutine csignal cstdarg cstddef
cstdint cstdio cstdlib cstring ctime cuchar cwchar cwctype deque exception execution expected
filesystem format forward_list fstream functional future initializer_list iomanip ios iosfwd
iostream istream iterator latch limits list locale map memory memory_resource mutex new numbers
numeric optional ostream queue random ranges ratio regex scoped_allocator semaphore set shared_mutex
source_location span sstream stack stdexcept stop_token streambuf string string_view syncstream
system_error thread tuple type_traits typeindex typeinfo unordered_map unordered_set utility
valarray variant vector version
""".split())

# The compiler's own headers for vector instructions: no library behind them, allowed as the
# standard library is (proto's body encoder copies lines with AVX2).
STD_HEADERS |= {"immintrin.h"}

POSIX_NET = {"arpa/inet.h", "netinet/in.h", "sys/socket.h", "netdb.h", "sys/types.h"}

# What each module may include besides its own headers and the standard library.
ALLOWED = {
    "proto": lambda h, f: f.name.startswith("sasl_cyrus.") and h.startswith("sasl/"),
    "cache": lambda h, f: False,
    "tls": lambda h, f: h.startswith("wolfssl/"),
    "dns": lambda h, f: h in POSIX_NET or h.startswith("ares"),
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layout_violations(root: pathlib.Path):
    found = []
    engine = root / "engine"
    if engine.is_dir():
        for path in sorted(engine.rglob("*")):
            if path.suffix not in SOURCE_SUFFIXES:
                continue
            parts = path.relative_to(engine).parts
            if len(parts) < 2 or parts[0] not in ENGINE_FOLDERS:
                found.append(f"{path.relative_to(root)}:0: -- engine/ sources live in one of "
                             f"{', '.join(ENGINE_FOLDERS)}")
    seen = {}
    for module in MODULES:
        folder = root / module
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix not in SOURCE_SUFFIXES:
                continue
            other = seen.setdefault(path.name, path)
            if other != path:
                found.append(f"{path.relative_to(root)}:0: -- named like {other.relative_to(root)}")
    return found


def violations(root: pathlib.Path):
    found = layout_violations(root)
    for module, allowed in ALLOWED.items():
        folder = root / module
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".hh", ".cc", ".h", ".cpp", ".hpp", ".in"):
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                header = m.group(2)
                top = header.split("/")[0]
                if top == module:
                    continue
                if top in MODULES:
                    reason = f"{module}/ may not include {top}/"
                elif header in STD_HEADERS or allowed(header, path):
                    continue
                else:
                    reason = f"{module}/ may use only the standard library" + (
                        "" if module in ("proto", "cache") else " and its own dependency")
                rel = path.relative_to(root)
                found.append(f"{rel}:{number}: {line.strip()}  -- {reason}")
    return found


def self_test():
    cases = {
        "proto/a.cc": ('#include "engine/config/config.hh"\n', True),
        "proto/b.cc": ("#include <liburing.h>\n", True),
        "proto/c.cc": ("#include <sasl/sasl.h>\n", True),
        "proto/sasl_cyrus.cc": ("#include <sasl/sasl.h>\n#include <string>\n", False),
        "cache/d.hh": ('#include "tls/security_level.hh"\n', True),
        "cache/e.hh": ("#include <sys/socket.h>\n", True),
        "tls/f.cc": ("#include <wolfssl/ssl.h>\n#include \"tls/x.hh\"\n", False),
        "tls/g.cc": ('#include "dns/nexthop.hh"\n', True),
        "dns/h.cc": ("#include <ares.h>\n#include <arpa/inet.h>\n#include <vector>\n", False),
        "dns/i.cc": ("#include <wolfssl/ssl.h>\n", True),
        "engine/loose.cc": ("#include <string>\n", True),
        "engine/feed/server.cc": ("#include <liburing.h>\n", False),
        "tls/ring.cc": ("#include <string>\n", False),
        "engine/runtime/ring.cc": ("#include <liburing.h>\n", True),  # named like tls/ring.cc
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        for name, (text, _) in cases.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        flagged = {v.split(":")[0] for v in violations(root)}
    wrong = [n for n, (_, bad) in cases.items() if (n in flagged) != bad]
    if wrong:
        print("self-test: the boundary check judged these wrongly:", ", ".join(wrong))
        return 1
    print(f"self-test: all {len(cases)} cases judged right")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    found = violations(root)
    for v in found:
        print(v)
    if found:
        print(f"{len(found)} violation(s) of DESIGN.md's module boundaries and layout")
        return 1
    print("module boundaries hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
