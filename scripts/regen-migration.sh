#!/usr/bin/env bash
# Until the first release there is one migration, generated from the models: run this after changing a model.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f src/emailplatform/migrations/versions/*_initial.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from emailplatform.migrations import alembic_config
config = alembic_config(f"sqlite:///{sys.argv[1]}/empty.db")
command.revision(config, message="initial", autogenerate=True, rev_id="0001")
PY
rm -rf "$tmp"
