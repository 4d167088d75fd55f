#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run all of it.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests run for real: Chromium and its driver (browser tests, server-side
# image export), Node.js/npm (axe-core), Prometheus, Alertmanager and Redis (started by tests on
# loopback). Only what is missing is installed.
need=()
for pair in chromium:chromium chromedriver:chromium-driver npm:npm prometheus:prometheus \
            prometheus-alertmanager:prometheus-alertmanager redis-server:redis-server; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get update -qq
  DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq "${need[@]}" \
    >/dev/null
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
