"""The Dockerfile and compose.yaml ask for nothing the package lacks: their commands and options are the CLI's,
their settings are settings, the files they copy exist. (No container engine here: tests/test_install.py runs
the image's steps, build, install, migrate and serve, on the machine itself.)"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emailplatform.config import Settings

REPO = Path(__file__).parents[1]
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())
DOCKERFILE = (REPO / "Dockerfile").read_text()
APP_SERVICES = {name: s for name, s in COMPOSE["services"].items() if s.get("image") == "emailplatform:latest"}


def accepted_by_the_cli(command: list[str]) -> subprocess.CompletedProcess:
    assert command[0] == "emailplatform"
    return subprocess.run(
        [sys.executable, "-m", "emailplatform.cli", *command[1:], "--help"], capture_output=True, text=True
    )


def dockerfile_instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(f"{name} ")]


@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_each_compose_service_runs_a_command_the_cli_has(service):
    result = accepted_by_the_cli(APP_SERVICES[service]["command"])
    assert result.returncode == 0, result.stderr


def test_the_image_runs_a_command_the_cli_has_and_checks_a_route_the_app_has():
    (cmd,) = dockerfile_instructions("CMD")
    result = accepted_by_the_cli(json.loads(cmd))
    assert result.returncode == 0, result.stderr
    (check,) = dockerfile_instructions("HEALTHCHECK")
    assert "127.0.0.1:8000/healthz" in check and '"--port", "8000"' in cmd


def test_every_setting_they_set_is_a_setting():
    names = set()
    for service in COMPOSE["services"].values():
        names |= {k for k in service.get("environment", {}) if k.startswith("EMAILPLATFORM_")}
    for env in dockerfile_instructions("ENV"):
        names |= set(re.findall(r"(EMAILPLATFORM_\w+)=", env))
    assert names, "nothing found to check"
    unknown = {n for n in names if n.removeprefix("EMAILPLATFORM_").lower() not in Settings.model_fields}
    assert not unknown, f"not settings: {unknown}"


def test_what_the_image_copies_is_in_the_repository():
    for copy in dockerfile_instructions("COPY"):
        if copy.startswith("--from"):
            continue
        *sources, _dest = copy.split()
        for source in sources:
            assert (REPO / source).exists(), f"the Dockerfile copies {source}, which is not there"


def test_the_api_and_workers_start_after_the_migration():
    assert COMPOSE["services"]["migrate"]["command"] == ["emailplatform", "migrate"]
    for name in ("api", "worker"):
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert "--no-worker" in COMPOSE["services"]["api"]["command"]
