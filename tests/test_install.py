"""The package as a user gets it: the sdist and wheel built from the source, the wheel installed into a new venv
with the locked dependencies, and `emailplatform serve` started from there, as the Dockerfile does.

Slow (building, and installing the dependencies into a new venv): marked `slow`, so it can run apart."""

import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from emailplatform import __version__
from tests.conftest import free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).parents[1]
FILES_THE_APP_READS = [
    "emailplatform/ui/templates/base.html",
    "emailplatform/ui/templates/campaigns/show.html",
    "emailplatform/ui/static/app.css",
    "emailplatform/ui/static/htmx.min.js",
    "emailplatform/ui/static/favicon.svg",
    "emailplatform/migrations/script.py.mako",
    "emailplatform/migrations/versions/0001_initial.py",
]


def run(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel, built (`python -m build`: the wheel from the sdist) from a copy of the source."""
    tmp = tmp_path_factory.mktemp("build")
    source = tmp / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    run([sys.executable, "-m", "build", "--outdir", str(tmp / "dist"), str(source)], timeout=600)
    return tmp / "dist"


@pytest.fixture(scope="session")
def venv(dist, tmp_path_factory) -> Path:
    """A new venv holding the wheel and the dependencies of requirements/serve.lock, nothing else."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    wheel = next(dist.glob("*.whl"))
    run(
        [
            venv / "bin/python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--constraint",
            REPO / "requirements/serve.lock",
            wheel,
        ],
        timeout=900,
    )
    return venv


def test_the_sdist_and_the_wheel_carry_every_file_the_app_reads(dist):
    with tarfile.open(next(dist.glob("*.tar.gz"))) as sdist:
        in_sdist = {name.split("/src/", 1)[-1] for name in sdist.getnames()}
    in_wheel = set(zipfile.ZipFile(next(dist.glob("*.whl"))).namelist())
    for name in FILES_THE_APP_READS:
        assert name in in_sdist, f"the sdist lacks {name}"
        assert name in in_wheel, f"the wheel lacks {name}"
    assert not [name for name in in_wheel if "__pycache__" in name]


def test_the_installed_wheel_serves_the_api_the_ui_and_its_files(venv, tmp_path):
    emailplatform = str(venv / "bin/emailplatform")
    where = run([venv / "bin/python", "-c", "import emailplatform; print(emailplatform.__file__)"], cwd=tmp_path)
    assert "site-packages" in where.stdout, "the test must run the installed package, not the source"
    assert run([emailplatform, "--version"], cwd=tmp_path).stdout.strip() == f"emailplatform {__version__}"

    port, env = (
        free_port(),
        {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "EMAILPLATFORM_DATA_DIR": str(tmp_path / "data"),
            "EMAILPLATFORM_INBOUND_PORT": str(free_port()),
        },
    )
    run([emailplatform, "migrate"], cwd=tmp_path, env=env, timeout=120)  # as compose.yaml's one-shot `migrate` does
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [emailplatform, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        api_key = server.stdout.readline().strip()
        assert api_key.startswith("ep_"), (tmp_path / "serve.log").read_text()
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/healthz").json()["status"] == "ok"

        created = httpx.post(
            f"{base}/api/v1/templates",
            headers={"X-API-Key": api_key},
            json={"name": "welcome", "subject": "Hi {{ name }}", "html": "<p>Hello {{ name }}</p>"},
        )
        assert created.status_code == 201, created.text
        listed = httpx.get(f"{base}/api/v1/templates", headers={"X-API-Key": api_key}).json()
        assert [t["name"] for t in listed["items"]] == ["welcome"]

        sign_in = httpx.get(f"{base}/ui/sign-in")
        assert sign_in.status_code == 200 and "<form" in sign_in.text and "/ui/static/favicon.svg" in sign_in.text
        css = httpx.get(f"{base}/ui/static/app.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and "--accent" in css.text
        favicon = httpx.get(f"{base}/favicon.ico")
        assert favicon.status_code == 200 and favicon.headers["content-type"] == "image/svg+xml"
        assert favicon.content.startswith(b"<svg")
    finally:
        server.terminate()
        server.wait(30)
    assert "route=/api/v1/templates" in (tmp_path / "serve.log").read_text(), (
        "the access log names each request's route"
    )


def wait_for(url: str, seconds: float = 60) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
