#!/usr/bin/env bash
# Does requirements.txt resolve, as binary wheels, for the Python a Space runs (README front matter)?
# Asks the package index (network), installs nothing:
#
#     bash tools/check_requirements.sh            # the declared python_version
#     bash tools/check_requirements.sh 3.10 3.12  # others too
#
# torch is left out (a Space takes it from pre-requirements.txt, the CPU wheel index) and so is jieba
# (pure Python, published as a source archive only); both are checked by name and pin instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"; [ -x .venv/bin/python ] && PY=.venv/bin/python
declared=$(sed -n 's/^python_version: *"\{0,1\}\([0-9.]*\)"\{0,1\}/\1/p' README.md)
versions=("$declared" "$@")
grep -qx 'torch==2.13.0' requirements.txt && grep -qx 'torch==2.13.0' pre-requirements.txt
grep -qx 'jieba==0.42.1' requirements.txt
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
grep -vE '^(torch|jieba)==' requirements.txt > "$tmp/req.txt"
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
           --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64)
for v in "${versions[@]}"; do
  # PIP_CONFIG_FILE=/dev/null: the public index only, not this machine's local wheel folders
  PIP_CONFIG_FILE=/dev/null "$PY" -m pip install --dry-run --quiet --ignore-installed --target "$tmp/t" \
    --python-version "$v" --only-binary=:all: "${platforms[@]}" --report "$tmp/r.json" -r "$tmp/req.txt"
  "$PY" - "$tmp/r.json" "$v" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
pkgs = sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in r["install"])
print(f"Python {sys.argv[2]}: requirements.txt resolves to {len(pkgs)} wheels (+ torch, jieba): " + ", ".join(pkgs))
PYEOF
done
