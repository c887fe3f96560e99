#!/usr/bin/env bash
# Write the settings table (emailplatform settings) into README.md between its markers.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python - <<'PY'
import re, subprocess, sys
table = subprocess.run([".venv/bin/emailplatform", "settings"], capture_output=True, text=True, check=True).stdout.strip()
readme = open("README.md").read()
readme = re.sub(r"(<!-- settings:start -->\n).*?(<!-- settings:end -->)", lambda m: m[1] + table + "\n" + m[2], readme, flags=re.S)
open("README.md", "w").write(readme)
PY
