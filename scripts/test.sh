#!/usr/bin/env bash
# The whole test suite, against real servers: PostgreSQL (EMAILPLATFORM_TEST_POSTGRES_URL, default
# postgresql://postgres@127.0.0.1:5432/postgres) and SMTP servers the tests start on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
