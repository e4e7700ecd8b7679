#!/usr/bin/env python3
"""Checks that ARCHITECTURE.md's crate graph (the table under "### Crate graph") says what
`cargo metadata` says: each workspace crate's normal dependencies inside the workspace, then the
ones only its tests add. Exits 1 and prints every difference otherwise."""
import json
import re
import subprocess
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--offline", "--format-version", "1", "--no-deps"],
    cwd=root, check=True, capture_output=True, text=True).stdout)
members = {p["name"] for p in meta["packages"]}
short = lambda name: name.removeprefix("latchkey-")
actual = {}
for p in meta["packages"]:
    deps = [d for d in p["dependencies"] if d["name"] in members]
    normal = {short(d["name"]) for d in deps if d.get("kind") is None}
    dev = {short(d["name"]) for d in deps if d.get("kind") == "dev"} - normal
    actual[short(p["name"])] = (normal, dev)

text = (root / "ARCHITECTURE.md").read_text()
section = text.split("### Crate graph", 1)[1]
documented = {}
for line in section.splitlines():
    m = re.match(r"^\| `([a-z-]+)` \| (.*?) \| (.*?) \|$", line)
    if m:
        names = lambda cell: set(re.findall(r"`([a-z-]+)`", cell))
        documented[m.group(1)] = (names(m.group(2)), names(m.group(3)))
    elif documented and not line.startswith("|"):
        break

problems = []
for crate in sorted(set(actual) | set(documented)):
    if crate not in documented:
        problems.append(f"{crate}: in cargo metadata, missing from the table")
    elif crate not in actual:
        problems.append(f"{crate}: in the table, not a workspace member")
    elif actual[crate] != documented[crate]:
        problems.append(f"{crate}: cargo metadata says {sorted(actual[crate][0])} then "
                        f"{sorted(actual[crate][1])}; the table says {sorted(documented[crate][0])} "
                        f"then {sorted(documented[crate][1])}")
for p in problems:
    print(p)
print(f"crate graph: {len(actual)} crates, {len(problems)} differences from ARCHITECTURE.md")
sys.exit(1 if problems else 0)
