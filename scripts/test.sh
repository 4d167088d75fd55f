#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run all of it.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e '.[test]'

ruff check tamma_dash tests bench app.py
mypy
python -m pytest -q "$@"
