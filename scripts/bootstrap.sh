#!/usr/bin/env bash
# Make .venv hold emailplatform (editable) and its dependencies at the lock file's versions; cheap when nothing changed.
#   ./scripts/bootstrap.sh          what serving and the tests need (requirements/test.lock)
#   ./scripts/bootstrap.sh serve    what serving needs only (requirements/serve.lock)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-test}
case "$what" in serve|test) ;; *) echo "usage: $0 [serve|test]" >&2; exit 2 ;; esac
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "emailplatform needs Python 3.11 or newer" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
hash=$(cat pyproject.toml "requirements/$what.lock" scripts/bootstrap.sh | sha256sum | cut -c1-16)
stamp=.venv/.installed-$what-$hash
[ -f "$stamp" ] && exit 0
[ "$what" = serve ] && [ -f ".venv/.installed-test-$(cat pyproject.toml requirements/test.lock scripts/bootstrap.sh | sha256sum | cut -c1-16)" ] && exit 0
echo "Installing emailplatform and its $what dependencies into .venv (a minute or two the first time)..." >&2
.venv/bin/python -m pip install --quiet --upgrade pip
[ "$what" = test ] && extras='[test]' || extras=''
# The lock file pins every version; a dependency added to pyproject.toml but not yet locked still installs
# (run ./scripts/lock.sh to pin it).
.venv/bin/python -m pip install --quiet --constraint "requirements/$what.lock" --editable ".$extras"
rm -f .venv/.installed-$what-* && touch "$stamp"
echo "Installed: $(.venv/bin/emailplatform --version) in .venv." >&2
