#!/usr/bin/env python3
"""Prints docs/configuration.md's "Every parameter" table from what ringrelay itself knows:
`ringrelay config -d` (names and defaults) and the parameter notes (ignored or refused, and why).
Run after adding a parameter: python3 tests/lint/parameter_list.py build/asan/engine/ringrelay
and paste the output over the table; ParameterSupport.EveryParameterInTheFullList checks it."""
import re
import subprocess
import sys

ringrelay = sys.argv[1]
root = __file__.rsplit("/tests/", 1)[0]
defaults = {}
for line in subprocess.run([ringrelay, "config", "-d"], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    name, _, value = line.partition(" = ")
    defaults[name.rstrip(" =")] = value
notes = dict((n, s) for n, s in re.findall(r'\{"([a-z0-9_]+)", S::(\w+),',
                                            open(f"{root}/engine/config/parameter_support.cc").read()))
words = {"ignored": "ignored", "refused": "refused", "smtp_value": "as its smtp_ name"}
print("| parameter | default | ringrelay |")
print("|---|---|---|")
for name in sorted(defaults):
    value = defaults[name].replace("|", "\\|")
    if name in ("myhostname", "mydomain"):
        value = ""  # the host's own names, filled in at start
    print(f"| `{name}` | {'`' + value + '`' if value else '(empty)'} | {words.get(notes.get(name), 'acts on it')} |")
