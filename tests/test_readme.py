"""The README documents every setting, exactly as the settings class defines it."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_readme_settings_table_is_the_generated_one():
    generated = subprocess.run(
        [sys.executable, "-m", "emailplatform.cli", "settings"], capture_output=True, text=True, check=True
    ).stdout.strip()
    documented = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", README.read_text(), re.S)
    assert documented, "the README lost its settings markers"
    assert documented.group(1).strip() == generated, "run: emailplatform settings, and paste it into the README"
