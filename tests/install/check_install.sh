#!/usr/bin/env bash
# `pip install .` into a clean venv gives a package whose every public module imports: the
# dependencies pyproject.toml declares are the ones the modules import (extras stay lazy).
# torch and torchvision are pinned in the same pip command (docs/testing.md: the local CPU build).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet torch==2.13.0 torchvision==0.28.0 .
cd "$venv"  # import the installed copy, not the checkout
"$venv/bin/python" - <<'PY'
import importlib
import pkgutil

import spgd

names = sorted(m.name for m in pkgutil.walk_packages(spgd.__path__, "spgd.") if "._" not in m.name)
for name in names:
    importlib.import_module(name)
assert spgd.__file__.startswith(__import__("sys").prefix), spgd.__file__
print(f"pip install . imports all {len(names)} public modules of spgd")
PY
