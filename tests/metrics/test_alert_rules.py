"""The alert rules the package ships: valid for Prometheus, firing when they should and only then (promtool's
unit tests in alerts_test.yml), on metric names /metrics really exposes, and printed by `emailplatform alerts`."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from emailplatform.metrics.cli import RULES
from tests.conftest import run_jobs
from tests.helpers import create_campaign, create_template, csv_bytes, upload_file

UNIT_TESTS = Path(__file__).with_name("alerts_test.yml")


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: apt-get install prometheus (scripts/test.sh does it when run as root)")
    return subprocess.run([found, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def shipped_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_promtool_finds_the_rules_valid_and_their_unit_tests_pass(tmp_path):
    (tmp_path / "alerts.yml").write_text(RULES.read_text())  # the file the package ships, as installed
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)

    checked = promtool("check", "rules", "alerts.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 12 rules found" in checked.stdout
    tested = promtool("test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_unit_tests_cover_every_alert_firing_and_not():
    alerts = {rule["alert"] for rule in shipped_rules()}
    checks = [check for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"] for check in test["alert_rule_test"]]
    assert alerts == {check["alertname"] for check in checks if check["exp_alerts"]}
    assert alerts == {check["alertname"] for check in checks if not check["exp_alerts"]}
    fired = {(check["alertname"], alert["exp_labels"]["severity"]) for check in checks for alert in check["exp_alerts"]}
    assert fired == {(rule["alert"], rule["labels"]["severity"]) for rule in shipped_rules()}


def test_every_metric_the_rules_read_is_one_that_metrics_exposes(client, runtime):
    template = create_template(client, "Hi", "<p>Hi {{ name }}</p>")
    file = upload_file(client, csv_bytes(["email", "name"], [["a@example.com", "A"], ["b@example.com", "B"]]))
    create_campaign(client, template["template_id"], file["file_url"])
    assert client.get("/api/v1/templates/not-a-uuid").status_code == 422
    exposed = scraped_names(client)  # a split job queued
    run_jobs(runtime)
    exposed |= scraped_names(client)  # the campaign sent

    used = {name for rule in shipped_rules() for name in re.findall(r"\bemailplatform_[a-z_]+\b", rule["expr"])}
    assert {"emailplatform_messages_bounced_total", "emailplatform_http_requests_total"} <= used
    assert used - exposed == set()


def scraped_names(client) -> set[str]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return {sample.name for family in text_string_to_metric_families(response.text) for sample in family.samples}


def test_the_alerts_command_prints_the_rules_and_where_they_are():
    printed = subprocess.run(
        [sys.executable, "-m", "emailplatform.cli", "alerts"], capture_output=True, text=True, timeout=60
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == RULES.read_text()
    assert "alert: EmailplatformBounceRateHigh" in printed.stdout
    where = subprocess.run(
        [sys.executable, "-m", "emailplatform.cli", "alerts", "--path"], capture_output=True, text=True, timeout=60
    )
    assert Path(where.stdout.strip()).read_text() == RULES.read_text()
