#!/usr/bin/env bash
# Until the first release the tables come from one migration, generated from the models: run this after changing
# a model. The hand-written ones after it (PostgreSQL's partitions) are kept aside meanwhile and put back.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
versions=src/emailplatform/migrations/versions
rm -f "$versions"/*_initial.py
for later in "$versions"/0*.py; do [ -e "$later" ] && mv "$later" "$tmp/"; done
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from emailplatform.migrations import alembic_config
config = alembic_config(f"sqlite:///{sys.argv[1]}/empty.db")
command.revision(config, message="initial", autogenerate=True, rev_id="0001")
PY
for later in "$tmp"/0*.py; do [ -e "$later" ] && mv "$later" "$versions/"; done
rm -rf "$tmp"
