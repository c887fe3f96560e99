#!/usr/bin/env bash
# The whole test suite, against real servers: PostgreSQL (EMAILPLATFORM_TEST_POSTGRES_URL, default
# postgresql://postgres@127.0.0.1:5432/postgres), SMTP, S3, DNS and HTTP servers the tests start on loopback,
# Debian's Chromium for the browser tests and Debian's spamd (SpamAssassin) for the deliverability check.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh test
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
perl -MMail::DKIM -e 1 2>/dev/null || missing+=(libmail-dkim-perl)
command -v promtool >/dev/null || missing+=(prometheus)  # promtool checks the alert rules
[ -x /usr/sbin/spamd ] || missing+=(spamd)  # SpamAssassin's daemon scores messages in the deliverability check
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "The tests need these Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
  fi
fi
# Three xdist workers, each test file whole in one of them (tests/conftest.py groups them; -n 0 runs in one process):
# most slow tests wait on processes, leases and servers rather than the CPU, so three share two cores well.
exec .venv/bin/python -m pytest -n 3 --dist loadgroup "$@"
