#!/usr/bin/env bash
# Quickstart: run emailplatform on the embedded default (SQLite and files in ./emailplatform-data, capture transport).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/emailplatform serve "$@"
