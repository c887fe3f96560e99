#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml's ranges: requirements/serve.lock (what serving needs) and
# requirements/test.lock (that and the test extra), for Python 3.11+ on any platform. Run it after changing a
# dependency and commit both files; `./scripts/lock.sh --upgrade` moves every pin to the newest the ranges allow.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
[ -x .venv/bin/uv ] || .venv/bin/python -m pip install --quiet uv
compile=(.venv/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --quiet "$@")
"${compile[@]}" -o requirements/serve.lock
"${compile[@]}" --extra test -o requirements/test.lock
echo "Wrote requirements/serve.lock and requirements/test.lock."
