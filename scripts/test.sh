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
# Browser tests each run in a fresh process, so one browser file's leftovers (a hung Chromium,
# threads of its live product) cannot slow or break the next. (They once failed when run after
# other modules: Dash moved its global callback lists into the first app of the process; fixed in
# ui/app.py `_give_callbacks`, tested in tests/test_ui_app.py.) Everything else runs first.
python -m pytest -q --headless --ignore-glob='tests/test_browser_*.py' "$@"
for f in tests/test_browser_*.py; do
  python -m pytest -q --headless "$f" "$@"
done
