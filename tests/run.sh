#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, then run them all.
#   bash tests/run.sh            (extra arguments go to pytest)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium (driven by Playwright; never `playwright install`) and CJK fonts for screenshots.
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi

# The corpus, when it is beside the checkout (it is never committed).
if [ ! -f data/jaychou_lyrics.txt.zip ] && [ -f ../shared/data/jaychou_lyrics.txt.zip ]; then
  cp ../shared/data/jaychou_lyrics.txt.zip data/
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -r requirements-dev.txt   # the app's requirements (torch==2.13.0) + the test tools

export GRADIO_ANALYTICS_ENABLED=False HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest -q --durations=25 "$@"
