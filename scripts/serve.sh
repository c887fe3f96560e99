#!/usr/bin/env bash
# Quickstart: run emailplatform on the embedded default (SQLite and files in ./emailplatform-data, capture transport).
# Installs only what serving needs into .venv the first time (no test tools).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh serve
exec .venv/bin/emailplatform serve "$@"
