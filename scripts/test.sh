#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run all of it.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium and its driver: browser tests (dash_duo) and server-side image export.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get update -qq
  DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq chromium chromium-driver >/dev/null
fi

# Node.js and npm (for axe-core), when the machine has none.
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get update -qq
  DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq nodejs npm >/dev/null
fi

# axe-core, injected into pages by the accessibility tests.
AXE_DIR=".cache/axe"
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
  mkdir -p "$AXE_DIR"
  npm install --silent --no-audit --no-fund --prefix "$AXE_DIR" axe-core@4 >/dev/null
fi
export TAMMA_AXE_JS="$PWD/$AXE_DIR/node_modules/axe-core/axe.min.js"

python -m pip install --quiet --disable-pip-version-check -e '.[test]'

ruff check tamma_dash tests bench app.py
mypy
python -m pytest -q --headless "$@"
